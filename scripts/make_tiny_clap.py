#!/usr/bin/env python3
"""Generate a tiny random-weight CLAP-style audio-text dual encoder in pith's
supported layout (audio.onnx, textual.onnx, tokenizer.json, config.json),
two 16 kHz test recordings, and the embeddings numpy computes for them.

No real CLAP weights can be downloaded here; this model has the same
signatures (a waveform in, one embedding out), so the Rust loading,
resampling, windowing, storing and searching path is tested for real.
Usage: make_tiny_clap.py OUT_DIR TOKENIZER_JSON
"""
import json
import os
import sys
import wave

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer

out, tok_path = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(11)
D, SR, WIN, L = 8, 8000, 2.0, 16
N = int(SR * WIN)
tok = Tokenizer.from_file(tok_path)
V = tok.get_vocab_size()

# audio: waveform [b,N] -> D time slices -> mean |x| per slice -> @ Wa -> audio_embeds
Wa = rng.standard_normal((D, D)).astype(np.float32)
g = helper.make_graph(
    [
        helper.make_node("Reshape", ["waveform", "shape"], ["slices"]),
        helper.make_node("Abs", ["slices"], ["mag"]),
        helper.make_node("ReduceMean", ["mag"], ["energy"], axes=[2], keepdims=0),
        helper.make_node("MatMul", ["energy", "Wa"], ["audio_embeds"]),
    ],
    "audio",
    [helper.make_tensor_value_info("waveform", TensorProto.FLOAT, ["b", N])],
    [helper.make_tensor_value_info("audio_embeds", TensorProto.FLOAT, ["b", D])],
    [numpy_helper.from_array(np.array([0, D, -1], dtype=np.int64), "shape"), numpy_helper.from_array(Wa, "Wa")],
)
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), f"{out}/audio.onnx")

# textual: masked mean of embedding rows -> text_embeds (as the tiny CLIP)
E = rng.standard_normal((V, D)).astype(np.float32)
g = helper.make_graph(
    [
        helper.make_node("Gather", ["E", "input_ids"], ["tok"]),
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["maskf", "axis2"], ["mask3"]),
        helper.make_node("Mul", ["tok", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["summed"], keepdims=0),
        helper.make_node("ReduceSum", ["maskf", "axis1"], ["count"], keepdims=1),
        helper.make_node("Div", ["summed", "count"], ["text_embeds"]),
    ],
    "textual",
    [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", L]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["b", L]),
    ],
    [helper.make_tensor_value_info("text_embeds", TensorProto.FLOAT, ["b", D])],
    [
        numpy_helper.from_array(E, "E"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
    ],
)
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), f"{out}/textual.onnx")
with open(tok_path) as f:
    tj = json.load(f)
with open(f"{out}/tokenizer.json", "w") as f:
    json.dump(tj, f)
with open(f"{out}/config.json", "w") as f:
    json.dump({"sample_rate": SR, "window_seconds": WIN, "embed_dim": D, "context_length": L, "pad_id": 0}, f)


def unit(v):
    return (v / np.linalg.norm(v)).tolist()


def tone_at(sr, where):
    """2 s: a 440 Hz tone in the quarter `where` (0..3), silence elsewhere."""
    t = np.arange(int(sr * WIN)) / sr
    x = 0.5 * np.sin(2 * np.pi * 440 * t)
    q = len(t) // 4
    mask = np.zeros_like(x)
    mask[where * q:(where + 1) * q] = 1
    return (x * mask).astype(np.float32)


def audio_emb(x8k):
    return unit(np.abs(x8k.reshape(D, -1)).mean(axis=1) @ Wa)


# Recordings pith ingests (16 kHz WAV): "early" beeps in the first quarter, "late" in the last.
for name, where in (("early", 0), ("late", 3)):
    x = (tone_at(16000, where) * 32767).astype(np.int16)
    with wave.open(f"{out}/{name}.wav", "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(x.tobytes())
emb = {name: audio_emb(tone_at(SR, where)) for name, where in (("early", 0), ("late", 3))}
caption = "a short beep"
ids = tok.encode(caption).ids[:L]
txt = unit(E[ids].mean(axis=0))
best = max(emb, key=lambda k: float(np.dot(emb[k], txt)))
with open(f"{out}/expected.json", "w") as f:
    json.dump({"caption": caption, "text_embedding": txt, "early_embedding": emb["early"], "late_embedding": emb["late"],
               "best_for_caption": best}, f)
print(f"tiny CLAP written to {out} (the caption is closer to {best!r})")
