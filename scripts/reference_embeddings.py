#!/usr/bin/env python3
"""Write tests/fixtures/reference.json: reference outputs for pith's Rust tests.

    pip install onnxruntime==1.32.0 tokenizers numpy pillow
    python3 scripts/fetch_models.py            # model cache
    scripts/fetch_testdata.sh                  # target/testdata/skimage/*.png|jpg
    python3 scripts/reference_embeddings.py [--models DIR] [--testdata DIR] [--out FILE]

Text: MiniLM (minilm-l6-v2-int8) embeddings of a few sentences, computed with
onnxruntime (intra-op threads 2) on the cached model.onnx + tokenizer.json:
token_type_ids all zero, mean pooling over the attention mask, L2 normalised,
384 floats rounded to 6 decimals; the token ids are recorded too.

Image: EfficientNet-Lite0 top-5 ImageNet classes (softmax probabilities) and
the first 16 feature values for chelsea.png and rocket.jpg, preprocessed with
PIL exactly as described in the "preprocess" block of the JSON.
"""

import argparse
import hashlib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SENTENCES = [
    "a cat sleeping on a sofa",
    "invoice 2023",
    "the rocket launches into space",
    "The quarterly report from the Berlin office shows that revenue grew by twelve percent, "
    "while complaints about late deliveries fell sharply after the new warehouse opened near "
    "the river in early spring, according to Müller's finance team.",
]
IMAGES = ["chelsea.png", "rocket.jpg"]


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def r6(values):
    return [round(float(v), 6) for v in values]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=os.environ.get("PITH_MODELS") or os.path.expanduser("~/.cache/pith/models"))
    ap.add_argument("--testdata", default=os.path.join(ROOT, "target", "testdata", "skimage"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "reference.json"))
    args = ap.parse_args()

    try:
        import numpy as np
        import onnxruntime as ort
        import PIL
        import tokenizers
        from PIL import Image
    except ImportError as e:
        sys.exit(f"reference_embeddings: {e}; run: python3 -m pip install onnxruntime==1.32.0 tokenizers numpy pillow")
    if ort.__version__ != "1.32.0":
        print(f"reference_embeddings: warning: onnxruntime {ort.__version__}, the fixture was made with 1.32.0")

    def session(path):
        so = ort.SessionOptions()
        so.intra_op_num_threads = 2
        so.inter_op_num_threads = 1
        return ort.InferenceSession(path, sess_options=so, providers=["CPUExecutionProvider"])

    # ---------------------------------------------------------------- text
    tdir = os.path.join(args.models, "minilm-l6-v2-int8")
    for f in ("model.onnx", "tokenizer.json"):
        if not os.path.isfile(os.path.join(tdir, f)):
            sys.exit(f"reference_embeddings: {tdir}/{f} missing; run scripts/fetch_models.py first")
    tok = tokenizers.Tokenizer.from_file(os.path.join(tdir, "tokenizer.json"))
    sess = session(os.path.join(tdir, "model.onnx"))
    text_cases = []
    for s in SENTENCES:
        enc = tok.encode(s)
        ids = np.array([enc.ids], np.int64)
        mask = np.array([enc.attention_mask], np.int64)
        hidden = sess.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask,
                                                  "token_type_ids": np.zeros_like(ids)})[0]
        m = mask[..., None].astype(np.float32)
        emb = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        emb = emb[0] / np.linalg.norm(emb[0])
        text_cases.append({"text": s, "input_ids": [int(i) for i in enc.ids], "tokens": enc.tokens,
                           "embedding": r6(emb)})
        print(f"text: {s[:50]!r:54} {len(enc.ids):3d} tokens, emb[:3]={r6(emb[:3])}")
    embs = np.array([c["embedding"] for c in text_cases])
    sims = embs @ embs.T

    # ---------------------------------------------------------------- images
    idir = os.path.join(args.models, "efficientnet-lite0")
    with open(os.path.join(idir, "manifest.json"), encoding="utf-8") as f:
        pp = json.load(f)["preprocess"]
    with open(os.path.join(idir, "classes.txt"), encoding="utf-8") as f:
        classes = [l.rstrip("\n") for l in f]
    isess = session(os.path.join(idir, "model.onnx"))
    short, crop = pp["resize_short"], pp["crop"]
    mean = np.asarray(pp["mean"], np.float32)
    std = np.asarray(pp["std"], np.float32)
    image_cases = []
    for name in IMAGES:
        path = os.path.join(args.testdata, name)
        if not os.path.isfile(path):
            sys.exit(f"reference_embeddings: {path} missing; run scripts/fetch_testdata.sh first")
        im = Image.open(path).convert("RGB")
        w, h = im.size
        if w <= h:
            nw, nh = short, int(h * short / w)
        else:
            nw, nh = int(w * short / h), short
        im = im.resize((nw, nh), Image.BILINEAR)
        left, upper = (nw - crop) // 2, (nh - crop) // 2
        im = im.crop((left, upper, left + crop, upper + crop))
        a = np.asarray(im, dtype=np.float32) / 255.0
        x = ((a - mean) / std).transpose(2, 0, 1)[None].astype(np.float32)
        logits, feats = isess.run(["logits", "features"], {"pixels": np.ascontiguousarray(x)})
        p = np.exp(logits[0] - logits[0].max())
        p /= p.sum()
        top = np.argsort(-p)[:5]
        image_cases.append({
            "file": name,
            "sha256": sha256_file(path),
            "size": [w, h],
            "resized": [nw, nh],
            "crop_offset": [left, upper],
            "pixels_mean": round(float(x.mean()), 6),
            "pixels_first8": r6(x[0, 0, 0, :8]),
            "top5": [{"index": int(i), "label": classes[i], "prob": round(float(p[i]), 6)} for i in top],
            "features_first16": r6(feats[0, :16]),
            "features_l2": round(float(np.linalg.norm(feats[0])), 6),
        })
        print(f"image: {name}: " + ", ".join(f"{classes[i]} {p[i]:.3f}" for i in top))

    out = {
        "generated_by": "scripts/reference_embeddings.py",
        "versions": {"onnxruntime": ort.__version__, "tokenizers": tokenizers.__version__,
                     "numpy": np.__version__, "pillow": PIL.__version__},
        "text": {
            "model": "minilm-l6-v2-int8",
            "model_sha256": sha256_file(os.path.join(tdir, "model.onnx")),
            "tokenizer_sha256": sha256_file(os.path.join(tdir, "tokenizer.json")),
            "method": "tokenizer.json encode (lower-cases, adds [CLS]/[SEP], truncates at 256, no padding); "
                      "token_type_ids all 0; last_hidden_state mean-pooled over attention_mask; L2-normalised",
            "intra_op_threads": 2,
            "suggested_tolerance": {"max_abs": 1e-3, "min_cosine": 0.9999},
            "cases": text_cases,
            "cosine_matrix": [r6(row) for row in sims],
        },
        "image": {
            "model": "efficientnet-lite0",
            "model_sha256": sha256_file(os.path.join(idir, "model.onnx")),
            "testdata": "scripts/fetch_testdata.sh -> target/testdata/skimage/ (scikit-image 0.26.0 wheel)",
            "preprocess": {
                "decode": "PIL Image.open(...).convert('RGB')",
                "resize": "PIL Image.resize((nw, nh), Image.BILINEAR): bilinear WITH antialiasing "
                          "(PIL widens the filter support by the downscale factor when shrinking)",
                "resize_short": short,
                "long_side": "int(long * resize_short / short)  (floor, like torchvision Resize(int))",
                "crop": crop,
                "crop_offset": "((nw - crop) // 2, (nh - crop) // 2)  (floor)",
                "scale": "u8 / 255.0",
                "mean": pp["mean"],
                "std": pp["std"],
                "layout": "NCHW float32, RGB",
            },
            "suggested_tolerance": {"prob_abs": 0.02, "features_abs": 0.05,
                                    "note": "a Rust resize without PIL's antialiasing, or another rounding, "
                                            "moves the numbers a little; top-1 should not change"},
            "cases": image_cases,
        },
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    data = json.dumps(out, indent=1, ensure_ascii=False) + "\n"
    with open(args.out + ".part", "w", encoding="utf-8") as f:
        f.write(data)
    os.replace(args.out + ".part", args.out)
    print(f"wrote {args.out} ({len(data.encode())} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
