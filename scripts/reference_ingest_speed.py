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
      --images /work/shared/data/coco-mini/images [--json] [--image-passes 3] \
      [--repeats 3] [--wait-idle 600]

With --repeats N every batch (and query) is run N times; *_best_of_N rates add
up each one's fastest run, which filters out time lost to other processes on
a shared machine.  Without it you get one plain wall-clock pass.
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
    ap.add_argument("--max-passages", type=int, default=0, help="use only the first N passages")
    ap.add_argument("--repeats", type=int, default=1,
                    help="run every batch / query this many times and also report the rate "
                         "from each one's fastest run (robust to a busy machine)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    idle = wait_idle(args.wait_idle) if args.wait_idle > 0 else None
    out = {"threads": args.threads, "cpu_count": os.cpu_count(),
           "machine": platform.processor() or platform.machine(),
           "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
           "loadavg_start": loadavg(), "was_idle": idle, "repeats": args.repeats}
    cpu0, wall0 = time.process_time(), time.perf_counter()

    R = max(1, args.repeats)

    def timed(fn):
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    def passes(units):
        """units: list of zero-arg callables.  Runs all of them R times; returns
        (first-pass seconds, sum over units of the fastest of the R runs)."""
        best = [float("inf")] * len(units)
        first = 0.0
        for r in range(R):
            for k, u in enumerate(units):
                t = timed(u)
                best[k] = min(best[k], t)
                if r == 0:
                    first += t
        return first, sum(best)

    # ---- text
    corpus, queries, _ = load_beir(args.beir)
    texts = [doc_text(t, x) for _, t, x in corpus]
    if args.max_passages:
        texts = texts[:args.max_passages]
    n = len(texts)
    m = MiniLM(os.path.join(args.models, "minilm-l6-v2-int8"), threads=args.threads)
    m.encode(texts[:64])  # warm-up
    tok_first, tok_best = passes([lambda: m.tokenize(texts)])
    ids = m.tokenize(texts)
    for name, order in (("sorted", sorted(range(n), key=lambda i: len(ids[i]))),
                        ("corpus_order", list(range(n)))):
        units = [(lambda b=[ids[i] for i in order[s:s + BATCH]]: m.encode_ids(b))
                 for s in range(0, n, BATCH)]
        first, best = passes(units)
        out[f"passages_per_s_{name}"] = round(n / (tok_first + first), 1)
        print(f"[progress] text {name} done: {out}", file=sys.stderr, flush=True)
        if R > 1:
            out[f"passages_per_s_{name}_best_of_{R}"] = round(n / (tok_best + best), 1)
    out["tokenize_all_s"] = round(tok_first, 3)
    qs = list(queries.values())
    for q in qs[:5]:
        m.encode([q])
    per_q = [[] for _ in qs]
    for _ in range(R):
        for k, q in enumerate(qs):
            per_q[k].append(timed(lambda: m.encode([q])) * 1000)
    firsts = [t[0] for t in per_q]
    out["query_ms_mean"] = round(statistics.mean(firsts), 2)
    out["query_ms_median"] = round(statistics.median(firsts), 2)
    if R > 1:
        bests = [min(t) for t in per_q]
        out[f"query_ms_mean_best_of_{R}"] = round(statistics.mean(bests), 2)
        out[f"query_ms_median_best_of_{R}"] = round(statistics.median(bests), 2)
    out["passages"] = n

    # ---- images
    paths = sorted(os.path.join(args.images, f) for f in os.listdir(args.images)
                   if f.lower().endswith((".jpg", ".jpeg", ".png")))
    paths = paths * args.image_passes
    ni = len(paths)
    sess = session(os.path.join(args.models, "efficientnet-lite0", "model.onnx"), args.threads)
    warm = np.stack([preprocess(p) for p in paths[:BATCH]])
    sess.run(["logits", "features"], {"pixels": warm})
    chunks = [paths[s:s + BATCH] for s in range(0, ni, BATCH)]

    def e2e(c):
        x = np.stack([preprocess(p) for p in c])
        sess.run(["logits", "features"], {"pixels": x})

    batches = [np.stack([preprocess(p) for p in c]) for c in chunks]
    for name, units in (
            ("end_to_end", [(lambda c=c: e2e(c)) for c in chunks]),
            ("decode_preprocess", [(lambda c=c: np.stack([preprocess(p) for p in c]))
                                   for c in chunks]),
            ("model_only", [(lambda x=x: sess.run(["logits", "features"], {"pixels": x}))
                            for x in batches])):
        first, best = passes(units)
        out[f"images_per_s_{name}"] = round(ni / first, 1)
        if R > 1:
            out[f"images_per_s_{name}_best_of_{R}"] = round(ni / best, 1)
    out["images"] = ni
    print(f"[progress] images done", file=sys.stderr, flush=True)
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
