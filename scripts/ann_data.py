#!/usr/bin/env python3
"""Benchmark vectors for approximate-nearest-neighbour (ANN) comparisons.

Writes, for each set, <out>/<set>/{base.npy, queries.npy, gt.npy}: base and
queries are float32 [n, dim] in C order, gt is int32 [n_queries, 100] with the
exact nearest base rows (best first).  These files are the shared input of
`pith bench ann` and scripts/ann_reference.py (FAISS / hnswlib), so both sides
measure recall against the same exact neighbours.

Sets:
  sift5k          NGT's 5,000 x 128 SIFT-like descriptors (id column dropped);
                  base = first 4,500 rows, queries = last 500; metric L2.
  msmarco-minilm  the 5,000 BEIR msmarco passages ("title text", or text when
                  the title is empty) and the queries named in qrels/test.tsv
                  (43 of the 50), embedded with int8 all-MiniLM-L6-v2
                  (onnxruntime, truncation to 256 tokens, mean pooling over
                  the attention mask, L2 normalisation); metric inner product.
  msmarco-minilm-allq  (only with --all-queries) the same passages with all 50
                  queries; the 7 unjudged ones are harder for ANN search.

Usage:
  python3 scripts/ann_data.py [--out target/ann] [--data ../shared/data]
        [--models ~/.cache/pith/models] [--force] [--all-queries]
A set whose three files already exist is skipped unless --force.
"""
import argparse
import json
import os
import time

import numpy as np

K_GT = 100
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def exact_gt(base, queries, metric, k=K_GT):
    """Exact top-k base indices per query, best first (int32)."""
    if metric == "l2":
        # ||q - b||^2 = ||q||^2 - 2 q.b + ||b||^2, in float64 to keep ties honest.
        b, q = base.astype(np.float64), queries.astype(np.float64)
        score = -((q * q).sum(1)[:, None] - 2.0 * q @ b.T + (b * b).sum(1)[None, :])
    else:
        score = queries.astype(np.float64) @ base.astype(np.float64).T
    # stable sort on -score: equal scores keep base order (lower index first)
    return np.argsort(-score, axis=1, kind="stable")[:, :k].astype(np.int32)


def sift5k(data_dir):
    rows = np.loadtxt(os.path.join(data_dir, "sift5k", "sift-dataset-5k.tsv"),
                      delimiter="\t", dtype=np.float64)
    x = np.ascontiguousarray(rows[:, :128], dtype=np.float32)  # drop id column
    assert x.shape == (5000, 128), x.shape
    return x[:4500].copy(), x[4500:].copy(), "l2"


def embed(texts, model_dir, batch=32, threads=2):
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.enable_truncation(256)
    tok.no_padding()
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(os.path.join(model_dir, "model.onnx"), so,
                                providers=["CPUExecutionProvider"])
    names = {i.name for i in sess.get_inputs()}
    ids = [e.ids for e in tok.encode_batch(texts)]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # less padding
    out = np.zeros((len(ids), 384), dtype=np.float32)
    for s in range(0, len(order), batch):
        idx = order[s:s + batch]
        L = max(len(ids[i]) for i in idx)
        inp = np.zeros((len(idx), L), dtype=np.int64)
        mask = np.zeros_like(inp)
        for r, i in enumerate(idx):
            inp[r, :len(ids[i])] = ids[i]
            mask[r, :len(ids[i])] = 1
        feed = {"input_ids": inp, "attention_mask": mask}
        if "token_type_ids" in names:
            feed["token_type_ids"] = np.zeros_like(inp)
        h = sess.run(["last_hidden_state"], feed)[0]
        m = mask[:, :, None].astype(np.float32)
        v = (h * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        out[idx] = v
    return out


def msmarco_minilm(data_dir, model_dir, all_queries=False):
    d = os.path.join(data_dir, "beir", "msmarco")
    with open(os.path.join(d, "corpus.jsonl"), encoding="utf-8") as f:
        docs = [json.loads(line) for line in f if line.strip()]
    texts = [f"{o['title']} {o['text']}" if o.get("title") else o.get("text") or ""
             for o in docs]
    with open(os.path.join(d, "queries.jsonl"), encoding="utf-8") as f:
        queries = [json.loads(line) for line in f if line.strip()]
    judged = set()
    with open(os.path.join(d, "qrels", "test.tsv"), encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 3 and parts[0] != "query-id":
                judged.add(parts[0])
    qtexts = [q["text"] for q in queries if all_queries or str(q["_id"]) in judged]
    t0 = time.perf_counter()
    base = embed(texts, model_dir)
    qv = embed(qtexts, model_dir)
    print(f"  embedded {len(texts)} passages + {len(qtexts)} queries "
          f"in {time.perf_counter() - t0:.1f} s")
    return base, qv, "ip"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "target", "ann"))
    ap.add_argument("--data", default=os.path.join(os.path.dirname(REPO), "shared", "data"))
    ap.add_argument("--models", default=os.path.expanduser("~/.cache/pith/models"))
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--all-queries", action="store_true",
                    help="also make msmarco-minilm-allq (all 50 queries)")
    a = ap.parse_args()

    sets = {
        "sift5k": lambda: sift5k(a.data),
        "msmarco-minilm": lambda: msmarco_minilm(
            a.data, os.path.join(a.models, "minilm-l6-v2-int8")),
    }
    if a.all_queries:
        sets["msmarco-minilm-allq"] = lambda: msmarco_minilm(
            a.data, os.path.join(a.models, "minilm-l6-v2-int8"), all_queries=True)
    for name, make in sets.items():
        d = os.path.join(a.out, name)
        files = [os.path.join(d, f) for f in ("base.npy", "queries.npy", "gt.npy")]
        if not a.force and all(os.path.exists(p) for p in files):
            print(f"{name}: exists, skipped ({d})")
            continue
        t0 = time.perf_counter()
        print(f"{name}: building")
        base, queries, metric = make()
        gt = exact_gt(base, queries, metric)
        os.makedirs(d, exist_ok=True)
        for p, arr in zip(files, (base, queries, gt)):
            np.save(p, np.ascontiguousarray(arr))
        print(f"{name}: base {base.shape} queries {queries.shape} gt {gt.shape} "
              f"metric {metric} -> {d} ({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
