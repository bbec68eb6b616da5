#!/usr/bin/env python3
"""Reference ANN table (FAISS + hnswlib) that `pith bench ann` is compared with.

Reads <dir>/{base.npy, queries.npy, gt.npy} (made by scripts/ann_data.py) and,
single-threaded, builds and queries:
  * HNSW graphs over float32 vectors, M=16 efConstruction=200: FAISS
    IndexHNSWFlat and hnswlib, at ef 16/32/64/128;
  * exhaustive FAISS codecs (fp16, int8, int4 scalar quantisers, PQ16, PQ32,
    OPQ16+PQ16, PCA96+int8) and binary sign codes (bit = x > mean of base,
    IndexBinaryFlat Hamming), each without and with a re-rank of the top-100
    by exact float32 distance.  FAISS codecs re-rank with IndexRefineFlat
    (k_factor=10); binary codes re-rank in numpy here (Hamming top-100 from
    FAISS, then exact distances of those 100 rows);
  * HNSW over codes (IndexHNSWSQ 8-bit, IndexHNSWPQ m=16) in IndexRefineFlat
    (k_factor=10), efSearch 64 (FAISS raises ef to k=100 when asked for 100).

Recall@10 = |returned top-10 & true top-10| / 10, averaged over queries.
Queries are sent one at a time from Python (the per-call overhead of the
bindings, a few microseconds, is in the latency); after a warm-up the query
set is replayed until --min-time seconds have passed; QPS = queries / wall
time, p50/p99 over every timed query.  Byte columns: code = per-vector bytes
of what is scanned (float32 for HNSW-Flat), graph = per-vector graph bytes
(FAISS: neighbour lists + levels + offsets; hnswlib: saved file minus
vectors, so it includes labels), float = float32 copy kept for re-rank,
fixed = the rest of the serialised index (codebooks, PCA/OPQ matrices...).

Usage:
  python3 scripts/ann_reference.py --dir target/ann/sift5k --metric l2 [--json OUT]
  python3 scripts/ann_reference.py --dir target/ann/msmarco-minilm --metric ip
"""
import argparse
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import faiss  # noqa: E402
import hnswlib  # noqa: E402
import numpy as np  # noqa: E402

K, RERANK = 10, 100
EFS = (16, 32, 64, 128)


def graph_bytes(h):
    return h.neighbors.size() * 4 + h.levels.size() * 4 + h.offsets.size() * 8


def timed(search, queries, min_time):
    """Returns (ids of the first pass, QPS, p50 ms, p99 ms)."""
    first = np.stack([search(queries[i:i + 1]) for i in range(len(queries))])
    lat, t0 = [], time.perf_counter()
    while not lat or time.perf_counter() - t0 < min_time:
        for i in range(len(queries)):
            q = queries[i:i + 1]
            s = time.perf_counter()
            search(q)
            lat.append(time.perf_counter() - s)
    wall = time.perf_counter() - t0
    lat = np.array(lat) * 1e3
    return first, len(lat) / wall, np.percentile(lat, 50), np.percentile(lat, 99)


def faiss_search(index):
    return lambda q: index.search(q, K)[1][0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--metric", choices=("l2", "ip"), required=True)
    ap.add_argument("--json")
    ap.add_argument("--min-time", type=float, default=1.0,
                    help="seconds of timed queries per row (default 1)")
    a = ap.parse_args()
    faiss.omp_set_num_threads(1)
    base = np.ascontiguousarray(np.load(os.path.join(a.dir, "base.npy")), dtype=np.float32)
    queries = np.ascontiguousarray(np.load(os.path.join(a.dir, "queries.npy")), dtype=np.float32)
    gt = np.load(os.path.join(a.dir, "gt.npy"))[:, :K]
    n, d = base.shape
    metric = faiss.METRIC_L2 if a.metric == "l2" else faiss.METRIC_INNER_PRODUCT
    rows = []

    def record(method, rerank, build_s, search, code, graph=0.0, fixed=0.0):
        ids, qps, p50, p99 = timed(search, queries, a.min_time)
        recall = np.mean([len(set(ids[i]) & set(gt[i])) / K for i in range(len(gt))])
        rows.append(dict(method=method, rerank=rerank, code_bytes=round(code, 1),
                         graph_bytes=round(graph, 1), float_bytes=4 * d if rerank else 0,
                         fixed_kb=round(fixed / 1024, 1), build_s=round(build_s, 3),
                         recall_at_10=round(float(recall), 4), qps=round(qps),
                         p50_ms=round(p50, 4), p99_ms=round(p99, 4)))
        r = rows[-1]
        print(f"  {method:32s} rerank={rerank!s:5s} R@10={r['recall_at_10']:.3f} "
              f"{r['qps']:>7} q/s  build {r['build_s']:.2f} s", flush=True)

    def rest(index, per_vec):  # serialised size not covered by per-vector bytes
        return max(0.0, len(faiss.serialize_index(index)) - n * per_vec)

    # --- HNSW over float32 --------------------------------------------------
    t0 = time.perf_counter()
    hf = faiss.IndexHNSWFlat(d, 16, metric)
    hf.hnsw.efConstruction = 200
    hf.add(base)
    build = time.perf_counter() - t0
    g = graph_bytes(hf.hnsw) / n
    for ef in EFS:
        hf.hnsw.efSearch = ef
        record(f"faiss HNSWFlat M16 ef{ef}", False, build, faiss_search(hf),
               4 * d, g, rest(hf, 4 * d + g))
    t0 = time.perf_counter()
    hl = hnswlib.Index(space=a.metric, dim=d)
    hl.init_index(max_elements=n, ef_construction=200, M=16)
    hl.add_items(base, np.arange(n), num_threads=1)
    build = time.perf_counter() - t0
    g = hl.index_file_size() / n - 4 * d
    for ef in EFS:
        hl.set_ef(ef)
        record(f"hnswlib M16 ef{ef}", False, build,
               lambda q: hl.knn_query(q, k=K, num_threads=1)[0][0], 4 * d, g)

    # --- exhaustive FAISS codecs, with and without re-rank ----------------
    # "np": skip polysemous training (slow; it only reorders codes for Hamming)
    codecs = [("SQ fp16", "SQfp16"), ("SQ int8", "SQ8"), ("SQ int4", "SQ4"),
              ("PQ16x8", "PQ16np"), ("PQ32x8", "PQ32np"),
              ("OPQ16+PQ16x8", "OPQ16,PQ16np"), ("PCA96+SQ int8", "PCA96,SQ8")]
    for name, spec in codecs:
        for rerank in (False, True):
            t0 = time.perf_counter()
            index = faiss.index_factory(d, spec + (",RFlat" if rerank else ""), metric)
            if rerank:
                faiss.downcast_index(index).k_factor = RERANK // K
            index.train(base)
            index.add(base)
            build = time.perf_counter() - t0
            inner = faiss.downcast_index(index).base_index if rerank else index
            code = inner.sa_code_size()
            record(f"faiss {name}", rerank, build, faiss_search(index), code, 0,
                   rest(index, code + (4 * d if rerank else 0)))

    # --- binary sign codes (Hamming), re-rank done here in numpy -----------
    t0 = time.perf_counter()
    mean = base.mean(0)
    bits = lambda x: np.packbits(x > mean, axis=1)  # noqa: E731
    bidx = faiss.IndexBinaryFlat(d)
    bidx.add(bits(base))
    build = time.perf_counter() - t0
    fixed = len(faiss.serialize_index_binary(bidx)) - n * d // 8 + 4 * d

    def binary_search(rerank):
        def search(q):
            cand = bidx.search(bits(q), RERANK if rerank else K)[1][0]
            if not rerank:
                return cand
            v = base[cand]
            score = ((v - q) ** 2).sum(1) if a.metric == "l2" else -(v @ q[0])
            return cand[np.argsort(score, kind="stable")[:K]]
        return search

    for rerank in (False, True):
        record("binary sign (Hamming)", rerank, build, binary_search(rerank),
               d / 8, 0, fixed)

    # --- HNSW over codes + IndexRefineFlat ----------------------------------
    for name, make in [("HNSWSQ int8", lambda: faiss.IndexHNSWSQ(
                            d, faiss.ScalarQuantizer.QT_8bit, 16, metric)),
                       ("HNSWPQ16x8", lambda: faiss.IndexHNSWPQ(d, 16, 16, 8, metric))]:
        t0 = time.perf_counter()
        inner = make()
        inner.hnsw.efConstruction = 200
        index = faiss.IndexRefineFlat(inner)
        index.k_factor = RERANK // K
        index.train(base)
        index.add(base)
        build = time.perf_counter() - t0
        inner.hnsw.efSearch = 64
        code, g = inner.storage.sa_code_size(), graph_bytes(inner.hnsw) / n
        record(f"faiss {name} M16 ef64", True, build, faiss_search(index), code, g,
               rest(index, code + g + 4 * d))

    # --- table ---------------------------------------------------------------
    print(f"\n{os.path.basename(os.path.normpath(a.dir))}: n={n} d={d} "
          f"queries={len(queries)} metric={a.metric} k={K}; single thread; "
          f"faiss {faiss.__version__}, hnswlib {hnswlib_version()}\n")
    print("| method | re-rank top-100 | code B/vec | graph B/vec | float B/vec | fixed KB "
          "| build s | recall@10 | QPS | p50 ms | p99 ms |")
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for r in rows:
        print(f"| {r['method']} | {'yes' if r['rerank'] else 'no'} | {r['code_bytes']:g} "
              f"| {r['graph_bytes']:g} | {r['float_bytes']} | {r['fixed_kb']:g} "
              f"| {r['build_s']:.2f} | {r['recall_at_10']:.3f} | {r['qps']} "
              f"| {r['p50_ms']:.3f} | {r['p99_ms']:.3f} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


def hnswlib_version():
    try:
        from importlib.metadata import version
        return version("hnswlib")
    except Exception:
        return "?"


if __name__ == "__main__":
    main()
