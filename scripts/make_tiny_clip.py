#!/usr/bin/env python3
"""Generate a tiny random-weight CLIP-style dual encoder in pith's supported
layout (visual.onnx, textual.onnx, tokenizer.json, config.json), plus a solid
red test image and the embeddings numpy computes for it and for one caption.

No real CLIP weights can be downloaded here; this model has the same
signatures so the Rust loading, preprocessing, storing and searching path is
tested for real. Usage: make_tiny_clip.py OUT_DIR TOKENIZER_JSON
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer

out, tok_path = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)
D, S, L = 8, 32, 16
tok = Tokenizer.from_file(tok_path)
V = tok.get_vocab_size()
mean, std = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]

# visual: pixel_values [b,3,S,S] -> mean over H,W -> [b,3] -> @ Wv [3,D] -> image_embeds
Wv = rng.standard_normal((3, D)).astype(np.float32)
g = helper.make_graph(
    [
        helper.make_node("ReduceMean", ["pixel_values"], ["pooled"], axes=[2, 3], keepdims=0),
        helper.make_node("MatMul", ["pooled", "Wv"], ["image_embeds"]),
    ],
    "visual",
    [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["b", 3, S, S])],
    [helper.make_tensor_value_info("image_embeds", TensorProto.FLOAT, ["b", D])],
    [numpy_helper.from_array(Wv, "Wv")],
)
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), f"{out}/visual.onnx")

# textual: masked mean of embedding rows -> text_embeds
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
cfg = {"image_size": S, "mean": mean, "std": std, "embed_dim": D, "context_length": L, "pad_id": 0, "interpolation": "bicubic"}
with open(f"{out}/config.json", "w") as f:
    json.dump(cfg, f)

# Expected outputs, computed independently in numpy.
def unit(v):
    return (v / np.linalg.norm(v)).tolist()

red = np.array([1.0, 0.0, 0.0], dtype=np.float32)
pix = (red - np.array(mean, dtype=np.float32)) / np.array(std, dtype=np.float32)
img_emb = unit(pix @ Wv)
caption = "a photo of a red square"
ids = tok.encode(caption).ids[:L]
txt_emb = unit(E[ids].mean(axis=0))
from PIL import Image

Image.new("RGB", (40, 40), (255, 0, 0)).save(f"{out}/red.png")
with open(f"{out}/expected.json", "w") as f:
    json.dump({"caption": caption, "text_embedding": txt_emb, "red_image_embedding": img_emb}, f)
print(f"tiny CLIP written to {out}")
