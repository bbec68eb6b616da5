#!/usr/bin/env python3
"""Score a TREC run file with pytrec_eval (independent of pith's own metrics).

    score_trec_run.py QRELS_TSV RUN_FILE
prints nDCG@10, Recall@100 and MRR@10 averaged over the queries with qrels.
"""
import sys

import pytrec_eval

qrels = {}
for line in open(sys.argv[1]):
    cols = line.rstrip("\n").split("\t")
    if len(cols) < 3 or not cols[-1].strip().lstrip("-").isdigit():
        continue
    q, d = (cols[0], cols[2]) if len(cols) >= 4 else (cols[0], cols[1])
    qrels.setdefault(q, {})[d] = int(cols[-1])
# pytrec_eval orders by score; RRF scores tie often, so score by run-file rank.
run_ranked = {}
for line in open(sys.argv[2]):
    q, _, d, rank, _, _ = line.split()
    run_ranked.setdefault(q, {})[d] = 1000.0 - int(rank)
top10 = {q: {d: s for d, s in docs.items() if s > 1000.0 - 11} for q, docs in run_ranked.items()}
ev = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"})
ev_rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"})
res = ev.evaluate({q: run_ranked[q] for q in run_ranked if q in qrels})
rr = ev_rr.evaluate({q: top10[q] for q in top10 if q in qrels})
n = len(res)
print(f"queries {n}  nDCG@10 {sum(r['ndcg_cut_10'] for r in res.values()) / n:.4f}  "
      f"Recall@100 {sum(r['recall_100'] for r in res.values()) / n:.4f}  "
      f"MRR@10 {sum(r['recip_rank'] for r in rr.values()) / n:.4f}")
