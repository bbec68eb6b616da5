#!/usr/bin/env python3
"""Generate a tiny random-weight LLMLingua-2-style token classifier in pith's
supported layout (model.onnx, tokenizer.json, config.json) and the keep
probabilities numpy computes for a test text.

No LLMLingua-2 weights can be downloaded here; this model has the same
signature (input_ids + attention_mask in, [b, seq, 2] logits out), so the
Rust loading, windowing and word-dropping path is tested for real.
Usage: make_tiny_lingua.py OUT_DIR TOKENIZER_JSON
"""
import json
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer

out, tok_path = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(5)
tok = Tokenizer.from_file(tok_path)
tok.no_truncation()
tok.no_padding()
V = tok.get_vocab_size()
MAX = 16  # small, so the test text spans several windows

W = (rng.standard_normal((V, 2)) * 2).astype(np.float32)
g = helper.make_graph(
    [
        helper.make_node("Gather", ["W", "input_ids"], ["raw"], axis=0),
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["maskf", "axis"], ["mask3"]),
        helper.make_node("Mul", ["raw", "mask3"], ["logits"]),
    ],
    "lingua",
    [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "s"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["b", "s"]),
    ],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["b", "s", 2])],
    [numpy_helper.from_array(W, "W"), numpy_helper.from_array(np.array([-1], dtype=np.int64), "axis")],
)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 8
onnx.checker.check_model(m)
onnx.save(m, os.path.join(out, "model.onnx"))
shutil.copy(tok_path, os.path.join(out, "tokenizer.json"))
json.dump({"max_length": MAX, "keep_label": 1}, open(os.path.join(out, "config.json"), "w"))

text = "The old bridge will not open before 14 March 2027, and the ferry runs every twenty minutes until then."
enc = tok.encode(text, add_special_tokens=False)
probe = tok.encode("a", add_special_tokens=True)
lead = probe.special_tokens_mask.index(0)
trail = len(probe.ids) - lead - 1
room = MAX - lead - trail
probs = []
for i in range(0, len(enc.ids), room):
    part = enc.ids[i:i + room]
    logits = W[np.array(part)]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs.extend((e[:, 1] / e.sum(axis=1)).tolist())
json.dump({"text": text, "offsets": enc.offsets, "keep_probs": probs}, open(os.path.join(out, "expected.json"), "w"))
print(f"tiny LLMLingua-2-style classifier in {out}: {len(enc.ids)} tokens, windows of {room}")
