#!/usr/bin/env python3
"""End-to-end ingest throughput of pith's reference models on CPU (onnxruntime,
intra_op_num_threads=2, inter_op_num_threads=1).

  * text: int8 all-MiniLM-L6-v2 over a BEIR corpus (tokenise + model + mean pool
    + L2 norm), batches of 32, length-sorted and in corpus order -> passages/s;
    single-query encoding -> ms/query.
  * images: EfficientNet-Lite0 over a folder of JPEGs, batch 32:
    end to end (decode + preprocess + model), decode + preprocess alone, model
    alone -> images/s.  Preprocess = PIL decode, RGB, short side 256 (PIL
    bilinear, antialiased), centre crop 224, /255, ImageNet mean/std.

Usage:
  python3 scripts/reference_ingest_speed.py --beir /work/shared/data/beir/msmarco \
      --images /work/shared/data/coco-mini/images [--json] [--image-passes 3]
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_beir import MiniLM, doc_text, load_beir  # noqa: E402
from reference_conse import preprocess, session  # noqa: E402

BATCH = 32


def loadavg():
    try:
        return [float(x) for x in open("/proc/loadavg").read().split()[:3]]
    except OSError:
        return None


def wait_idle(max_s, below=0.6):
    """Wait (up to max_s) until the 1-minute load average drops below `below`:
    on a small shared box a concurrent build halves the numbers."""
    t0 = time.time()
    while time.time() - t0 < max_s:
        la = loadavg()
        if la is None or la[0] < below:
            return True
        time.sleep(10)
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--beir", required=True)
    ap.add_argument("--images", required=True, help="folder of .jpg/.png images")
    ap.add_argument("--models", default=os.path.expanduser("~/.cache/pith/models"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--image-passes", type=int, default=3,
                    help="repeat the (small) image set this many times")
    ap.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                    help="first wait up to this long for the 1-min load average to fall below 0.6")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    idle = wait_idle(args.wait_idle) if args.wait_idle > 0 else None
    out = {"threads": args.threads, "cpu_count": os.cpu_count(),
           "machine": platform.processor() or platform.machine(),
           "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
           "loadavg_start": loadavg(), "was_idle": idle}
    cpu0, wall0 = time.process_time(), time.perf_counter()

    # ---- text
    corpus, queries, _ = load_beir(args.beir)
    texts = [doc_text(t, x) for _, t, x in corpus]
    m = MiniLM(os.path.join(args.models, "minilm-l6-v2-int8"), threads=args.threads)
    m.encode(texts[:64])  # warm-up
    _, s = m.encode(texts, sort_by_length=True)
    out["passages_per_s_sorted"] = round(len(texts) / s, 1)
    _, s = m.encode(texts, sort_by_length=False)
    out["passages_per_s_corpus_order"] = round(len(texts) / s, 1)
    qs = list(queries.values())
    for q in qs[:5]:
        m.encode([q])
    times = []
    for q in qs:
        t0 = time.perf_counter()
        m.encode([q])
        times.append((time.perf_counter() - t0) * 1000)
    out["query_ms_mean"] = round(statistics.mean(times), 2)
    out["query_ms_median"] = round(statistics.median(times), 2)
    out["passages"] = len(texts)

    # ---- images
    paths = sorted(os.path.join(args.images, f) for f in os.listdir(args.images)
                   if f.lower().endswith((".jpg", ".jpeg", ".png")))
    paths = paths * args.image_passes
    sess = session(os.path.join(args.models, "efficientnet-lite0", "model.onnx"), args.threads)
    warm = np.stack([preprocess(p) for p in paths[:BATCH]])
    sess.run(["logits", "features"], {"pixels": warm})

    t0 = time.perf_counter()
    for s in range(0, len(paths), BATCH):
        x = np.stack([preprocess(p) for p in paths[s:s + BATCH]])
        sess.run(["logits", "features"], {"pixels": x})
    out["images_per_s_end_to_end"] = round(len(paths) / (time.perf_counter() - t0), 1)

    t0 = time.perf_counter()
    batches = []
    for s in range(0, len(paths), BATCH):
        batches.append(np.stack([preprocess(p) for p in paths[s:s + BATCH]]))
    out["images_per_s_decode_preprocess"] = round(len(paths) / (time.perf_counter() - t0), 1)

    t0 = time.perf_counter()
    for x in batches:
        sess.run(["logits", "features"], {"pixels": x})
    out["images_per_s_model_only"] = round(len(paths) / (time.perf_counter() - t0), 1)
    out["images"] = len(paths)
    out["loadavg_end"] = loadavg()
    # ~threads when the box was ours alone; well below it means contention
    out["cpu_s_per_wall_s"] = round((time.process_time() - cpu0) / (time.perf_counter() - wall0), 2)

    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k}: {v}")


if __name__ == "__main__":
    sys.exit(main())
