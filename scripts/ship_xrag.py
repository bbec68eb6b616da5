#!/usr/bin/env python3
"""Ship a trained xRAG bridge: copy a `scripts/train_xrag.py` run into `models/xrag/`.

    /usr/bin/python3 scripts/ship_xrag.py RUN_DIR [--dest models/xrag]

Writes to --dest (committed; `make models` installs it into the model cache as `xrag-bridge`):
  bridge.onnx    the run's fp16-weight ONNX bridge (input `embedding` [n, 384] -> `token` [n, 576])
  config.json    what pith checks before using it: in/out sizes, the LM and retriever it was
                 trained for, the template around the xRAG token
  expected.json  probe texts, their MiniLM embeddings (onnxruntime, exactly as train_xrag.py
                 embeds) and the torch fp32 bridge's output for each: the Rust test compares
                 pith's own embedding + ONNX bridge against these
  train.json, eval.json  the run's record (data, steps, losses, command; held-out NLL)
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import train_xrag as tx  # noqa: E402

PROBES = [
    "The Treaty of Versailles was signed in 1919 and ended the First World War.",
    "Return the number of items in a container; raise TypeError when the object has no length.",
    "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen in the leaves of plants.",
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run")
    ap.add_argument("--dest", default=os.path.join(HERE, "..", "models", "xrag"))
    ap.add_argument("--minilm", default=os.path.join(os.path.expanduser("~/.cache/pith/models"), "minilm-l6-v2-int8"))
    a = ap.parse_args()
    os.makedirs(a.dest, exist_ok=True)
    ck = torch.load(os.path.join(a.run, "bridge.pt"), map_location="cpu")
    bc = ck["config"]
    br = tx.Bridge(bc["hidden"], bc["out"])
    br.load_state_dict(ck["state_dict"])
    br.eval()
    emb = tx.minilm_embed(PROBES, a.minilm)
    with torch.no_grad():
        out = br(torch.from_numpy(emb)).numpy()
    for name in ("bridge.onnx", "train.json", "eval.json"):
        shutil.copyfile(os.path.join(a.run, name), os.path.join(a.dest, name))
    config = {"in_dim": bc["in"], "out_dim": bc["out"], "hidden": bc["hidden"], "llm": "smollm2-135m",
              "retriever": "minilm-l6-v2-int8", "template_prefix": bc["template"]["prefix"],
              "template_suffix": bc["template"]["suffix"]}
    with open(os.path.join(a.dest, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
        f.write("\n")
    expected = {"texts": PROBES, "embeddings": np.round(emb, 6).tolist(), "tokens": np.round(out, 5).tolist(),
                "made_by": "torch fp32 bridge (bridge.pt) on onnxruntime MiniLM embeddings"}
    with open(os.path.join(a.dest, "expected.json"), "w") as f:
        json.dump(expected, f)
        f.write("\n")
    ev = json.load(open(os.path.join(a.run, "eval.json")))
    print(f"shipped {a.run} -> {os.path.abspath(a.dest)}: gap_closed_b {ev['gap_closed_b']}, gap_closed_c {ev['gap_closed_c']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
