#!/usr/bin/env python3
"""Reference retrieval numbers for a BEIR-format data set (pith's yardstick).

Runs, on one BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv):

  * BM25 with bm25s (Lucene variant, k1=1.5, b=0.75, bm25s' default tokenizer:
    lower-case, regex (?u)\\b\\w\\w+\\b, its 33-word English stop-word list),
    once without and once with the PyStemmer English (Snowball/Porter2) stemmer;
  * dense search with int8 all-MiniLM-L6-v2 through onnxruntime
    (intra_op_num_threads=2, inter_op_num_threads=1, batches of 32 sorted by
    token length, mean pooling over the attention mask, L2 normalisation) and
    exact cosine over the whole corpus;
  * reciprocal-rank fusion (k=60, equal weights) of the top-100 BM25 list and
    the top-100 vector list, for each BM25 variant;
  * with --fusion, also convex (weighted-score) fusion of the *stemmed* BM25
    top-100 and the vector top-100: per query each list's scores are min-max
    normalised over that list ((s-min)/(max-min); all 1.0 when max == min),
    a document missing from a list gets 0 there, fused = w*vector +
    (1-w)*bm25_stem over the union, for w in 0.3, 0.5, 0.7, 0.8, 0.9
    (runs convex_stem_w0.3 ...), followed by a table of each fused run's
    nDCG@10 minus the better of bm25_stem and vector.

Scores with pytrec_eval: nDCG@10 (graded: trec_eval's linear gain = qrel
grade), Recall@100 (grade >= 1 is relevant), MRR@10 (recip_rank over the run
cut to its top 10).  Only queries that appear in the qrels are scored.

Ties are broken the way trec_eval does (score descending, then docid
descending as a string), so a run file's rank column agrees with what
pytrec_eval evaluates.

Usage:
  python3 scripts/reference_beir.py /work/shared/data/beir/msmarco [--json]
        [--run-dir runs/] [--models ~/.cache/pith/models] [--no-corpus-order]
        [--fusion]
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

TOPK = 100
RRF_K = 60
CONVEX_WEIGHTS = (0.3, 0.5, 0.7, 0.8, 0.9)
BATCH = 32
THREADS = 2


# ----------------------------------------------------------------- data ----

def load_beir(d):
    corpus = []
    with open(os.path.join(d, "corpus.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                o = json.loads(line)
                corpus.append((str(o["_id"]), o.get("title") or "", o.get("text") or ""))
    queries = {}
    with open(os.path.join(d, "queries.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                o = json.loads(line)
                queries[str(o["_id"])] = o["text"]
    qrels = {}
    with open(os.path.join(d, "qrels", "test.tsv"), encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or parts[0] == "query-id":
                continue  # header line in other BEIR sets
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return corpus, queries, qrels


def doc_text(title, text):
    # BEIR convention: title and body joined by a space when there is a title.
    return f"{title} {text}" if title else text


# ---------------------------------------------------------------- model ----

class MiniLM:
    """int8 all-MiniLM-L6-v2 via onnxruntime; mean pooled, L2 normalised."""

    def __init__(self, model_dir, threads=THREADS):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.sess = ort.InferenceSession(
            os.path.join(model_dir, "model.onnx"), so, providers=["CPUExecutionProvider"])
        self.tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        self.tok.no_padding()
        self.input_names = {i.name for i in self.sess.get_inputs()}

    def tokenize(self, texts):
        return [e.ids for e in self.tok.encode_batch(list(texts))]

    def encode_ids(self, ids_list):
        n = len(ids_list)
        L = max(len(x) for x in ids_list)
        ids = np.zeros((n, L), dtype=np.int64)
        mask = np.zeros((n, L), dtype=np.int64)
        for i, x in enumerate(ids_list):
            ids[i, :len(x)] = x
            mask[i, :len(x)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.input_names:
            feed["token_type_ids"] = np.zeros_like(ids)
        h = self.sess.run(["last_hidden_state"], feed)[0]  # [n, L, 384]
        m = mask[:, :, None].astype(np.float32)
        v = (h * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        return v.astype(np.float32)

    def encode(self, texts, batch=BATCH, sort_by_length=True):
        """Tokenise + encode; returns (embeddings in input order, seconds)."""
        t0 = time.perf_counter()
        ids = self.tokenize(texts)
        order = list(range(len(ids)))
        if sort_by_length:
            order.sort(key=lambda i: len(ids[i]))
        out = np.zeros((len(ids), 384), dtype=np.float32)
        for s in range(0, len(order), batch):
            idx = order[s:s + batch]
            out[idx] = self.encode_ids([ids[i] for i in idx])
        return out, time.perf_counter() - t0


# -------------------------------------------------------------- ranking ----

def trec_sort(pairs):
    """(docid, score) pairs -> sorted list, trec_eval order."""
    pairs = sorted(pairs, key=lambda p: p[0], reverse=True)   # docid desc
    return sorted(pairs, key=lambda p: -p[1])                  # stable: score desc


def run_bm25(corpus, queries, stem):
    import bm25s
    stemmer = None
    if stem:
        import Stemmer
        stemmer = Stemmer.Stemmer("english")
    texts = [doc_text(t, x) for _, t, x in corpus]
    ctoks = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False)
    retr = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    retr.index(ctoks, show_progress=False)
    qids = list(queries)
    qtoks = bm25s.tokenize([queries[q] for q in qids], stopwords="en", stemmer=stemmer,
                           return_ids=False, show_progress=False)
    res = {}
    k = min(TOPK, len(corpus))
    docs, scores = retr.retrieve(qtoks, k=k, show_progress=False, n_threads=1)
    for qi, q in enumerate(qids):
        pairs = [(corpus[int(d)][0], float(s)) for d, s in zip(docs[qi], scores[qi]) if s > 0]
        res[q] = trec_sort(pairs)[:TOPK]
    return res


def run_dense(doc_ids, doc_emb, qids, q_emb):
    sims = q_emb @ doc_emb.T
    res = {}
    for qi, q in enumerate(qids):
        s = sims[qi]
        top = np.argpartition(-s, min(TOPK * 2, len(s) - 1))[:TOPK * 2]
        pairs = [(doc_ids[i], float(s[i])) for i in top]
        res[q] = trec_sort(pairs)[:TOPK]
    return res


def rrf(*runs, k=RRF_K):
    out = {}
    for q in runs[0]:
        acc = {}
        for run in runs:
            for rank, (d, _) in enumerate(run.get(q, [])[:TOPK], start=1):
                acc[d] = acc.get(d, 0.0) + 1.0 / (k + rank)
        out[q] = trec_sort(acc.items())[:TOPK]
    return out


def minmax(pairs):
    """(docid, score) list -> {docid: score min-max normalised over the list}."""
    if not pairs:
        return {}
    lo = min(s for _, s in pairs)
    hi = max(s for _, s in pairs)
    if hi <= lo:
        return {d: 1.0 for d, _ in pairs}
    return {d: (s - lo) / (hi - lo) for d, s in pairs}


def convex(dense, sparse, w):
    """w*minmax(dense top-100) + (1-w)*minmax(sparse top-100), missing = 0."""
    out = {}
    for q in dense:
        a = minmax(dense.get(q, [])[:TOPK])
        b = minmax(sparse.get(q, [])[:TOPK])
        acc = {d: w * a.get(d, 0.0) + (1 - w) * b.get(d, 0.0) for d in set(a) | set(b)}
        out[q] = trec_sort(acc.items())[:TOPK]
    return out


# ------------------------------------------------------------ evaluation ----

def evaluate(run, qrels):
    import pytrec_eval
    qs = [q for q in qrels if q in run]
    full = {q: {d: s for d, s in run[q]} for q in qs}
    top10 = {q: {d: s for d, s in run[q][:10]} for q in qs}
    qr = {q: qrels[q] for q in qs}
    e1 = pytrec_eval.RelevanceEvaluator(qr, {"ndcg_cut.10", "recall.100"})
    e2 = pytrec_eval.RelevanceEvaluator(qr, {"recip_rank"})
    r1 = e1.evaluate(full)
    r2 = e2.evaluate(top10)
    # queries with an empty run count as zero
    n = len(qr)
    return {
        "ndcg@10": sum(r1[q]["ndcg_cut_10"] for q in r1) / n,
        "recall@100": sum(r1[q]["recall_100"] for q in r1) / n,
        "mrr@10": sum(r2[q]["recip_rank"] for q in r2) / n,
        "queries": n,
    }


def write_run(path, run, tag):
    with open(path, "w", encoding="utf-8") as f:
        for q in run:
            for rank, (d, s) in enumerate(run[q], start=1):
                f.write(f"{q} Q0 {d} {rank} {s:.6f} {tag}\n")


# ------------------------------------------------------------------ main ----

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--run-dir", help="write TREC run files (top 100) here")
    ap.add_argument("--models", default=os.path.expanduser("~/.cache/pith/models"))
    ap.add_argument("--no-corpus-order", action="store_true",
                    help="skip the (slow) corpus-order encoding timing")
    ap.add_argument("--fusion", action="store_true",
                    help="also report convex (min-max weighted score) fusion of "
                         "bm25_stem and vector for w in "
                         + ", ".join(map(str, CONVEX_WEIGHTS)))
    args = ap.parse_args()

    corpus, queries, qrels = load_beir(args.dir)
    qids = [q for q in queries if q in qrels]
    qsub = {q: queries[q] for q in qids}
    out = {"dataset": os.path.abspath(args.dir), "docs": len(corpus),
           "queries_scored": len(qids), "runs": {}, "metrics": {}, "speed": {}}

    # BM25
    runs = {}
    for stem in (False, True):
        name = "bm25_stem" if stem else "bm25"
        t0 = time.perf_counter()
        runs[name] = run_bm25(corpus, qsub, stem)
        out["speed"][name + "_index_and_search_s"] = round(time.perf_counter() - t0, 3)

    # Dense
    out["speed"]["loadavg_start"] = open("/proc/loadavg").read().split()[0] \
        if os.path.exists("/proc/loadavg") else None
    cpu0, wall0 = time.process_time(), time.perf_counter()
    model = MiniLM(os.path.join(args.models, "minilm-l6-v2-int8"))
    texts = [doc_text(t, x) for _, t, x in corpus]
    model.encode(texts[:64])  # warm-up
    emb, secs = model.encode(texts, sort_by_length=True)
    out["speed"]["corpus_passages_per_s_sorted"] = round(len(texts) / secs, 1)
    if not args.no_corpus_order:
        emb2, secs2 = model.encode(texts, sort_by_length=False)
        out["speed"]["corpus_passages_per_s_corpus_order"] = round(len(texts) / secs2, 1)
        out["speed"]["max_abs_diff_sorted_vs_corpus_order"] = float(np.abs(emb - emb2).max())
    # query encoding: one query at a time (tokenise + model + pool)
    all_q = list(queries.values())
    for q in all_q[:5]:
        model.encode([q])
    times = []
    for q in all_q:
        t0 = time.perf_counter()
        model.encode([q])
        times.append((time.perf_counter() - t0) * 1000)
    out["speed"]["query_ms_mean"] = round(statistics.mean(times), 2)
    out["speed"]["query_ms_median"] = round(statistics.median(times), 2)
    out["speed"]["cpu_s_per_wall_s"] = round(
        (time.process_time() - cpu0) / (time.perf_counter() - wall0), 2)
    q_emb, _ = model.encode([qsub[q] for q in qids], sort_by_length=False, batch=1)
    doc_ids = [c[0] for c in corpus]
    runs["vector"] = run_dense(doc_ids, emb, qids, q_emb)
    if not args.no_corpus_order:
        runs["vector_corpus_order_batches"] = run_dense(doc_ids, emb2, qids, q_emb)
    runs["rrf"] = rrf(runs["bm25"], runs["vector"])
    runs["rrf_stem"] = rrf(runs["bm25_stem"], runs["vector"])
    if args.fusion:
        for w in CONVEX_WEIGHTS:
            runs[f"convex_stem_w{w}"] = convex(runs["vector"], runs["bm25_stem"], w)

    for name, run in runs.items():
        out["metrics"][name] = {k: (round(v, 4) if isinstance(v, float) else v)
                                for k, v in evaluate(run, qrels).items()}
    if args.run_dir:
        os.makedirs(args.run_dir, exist_ok=True)
        for name, run in runs.items():
            write_run(os.path.join(args.run_dir, f"{name}.trec"), run, f"ref_{name}")
        out["runs"] = sorted(os.listdir(args.run_dir))

    out["settings"] = {
        "bm25": "bm25s lucene k1=1.5 b=0.75; idf=ln(1+(N-df+0.5)/(df+0.5)); "
                "lowercase, regex (?u)\\b\\w\\w+\\b, bm25s STOPWORDS_EN (33 words) removed "
                "before stemming; stem variant = PyStemmer 'english'; doc text = title + ' ' + text",
        "vector": "int8 all-MiniLM-L6-v2 onnxruntime intra=2 inter=1, trunc 256, pad 0, "
                  "mean pool over mask, L2 norm, batches of 32 sorted by token count, exact cosine",
        "rrf": f"k={RRF_K}, equal weights, top-{TOPK} of each list, rank 1-based",
        "ties": "score desc, then docid desc (trec_eval order)",
    }
    if args.fusion:
        out["settings"]["convex"] = (
            f"bm25_stem top-{TOPK} and vector top-{TOPK}, each min-max normalised per "
            "query over its own list (all 1.0 if max == min), missing = 0, "
            "fused = w*vector + (1-w)*bm25_stem, w in " + ", ".join(map(str, CONVEX_WEIGHTS)))
        m = out["metrics"]
        best_name = max(("bm25_stem", "vector"), key=lambda n: m[n]["ndcg@10"])
        best = m[best_name]["ndcg@10"]
        fused = ["rrf_stem"] + [f"convex_stem_w{w}" for w in CONVEX_WEIGHTS]
        out["fusion_check"] = {
            "best_single": best_name, "best_single_ndcg@10": best,
            "delta_ndcg@10": {n: round(m[n]["ndcg@10"] - best, 4) for n in fused},
        }

    if args.json:
        print(json.dumps(out))
        return
    print(f"{out['dataset']}: {out['docs']} docs, {out['queries_scored']} scored queries")
    print(f"{'mode':32s} {'nDCG@10':>8s} {'R@100':>8s} {'MRR@10':>8s}")
    for name, m in out["metrics"].items():
        print(f"{name:32s} {m['ndcg@10']:8.4f} {m['recall@100']:8.4f} {m['mrr@10']:8.4f}")
    if args.fusion:
        fc = out["fusion_check"]
        print(f"fusion vs best single ({fc['best_single']}, nDCG@10 "
              f"{fc['best_single_ndcg@10']:.4f}):")
        for n, d in fc["delta_ndcg@10"].items():
            flag = "  BELOW by > 0.01" if d < -0.01 else ""
            print(f"  {n:30s} {d:+8.4f}{flag}")
    for k, v in out["speed"].items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    sys.exit(main())
