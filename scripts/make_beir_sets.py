#!/usr/bin/env python3
"""Build small BEIR-format evaluation sets from the third-party data in
/work/shared/data (see its README.md).  Python 3 stdlib only; deterministic
(no randomness, sorted output).

Writes OUT_DIR/<name>/{corpus.jsonl, queries.jsonl, qrels/test.tsv}
(qrels: `qid<TAB>docid<TAB>grade`, no header line, like beir/msmarco):

  leval-nq        LEval natural_question.jsonl: 21 long Wikipedia pages (one is
                  an exact duplicate and is dropped) cut into ~60-200-word
                  passages; queries = the NQ questions; relevant (grade 1) =
                  a passage *of the question's own page* that contains the
                  gold short answer (DPR "has_answer": answer and passage
                  lower-cased, accents stripped, cut into alphanumeric tokens,
                  answer token sequence found contiguously in the passage).
                  Questions with no such passage are dropped.
  leval-multidoc  LEval multidoc_qa.jsonl (MultiDoc2Dial-style help-desk
                  dialogues over government web pages): passages = paragraphs
                  merged to ~60-200 words; a question is kept only if it reads
                  as a stand-alone request (>= 4 content words) and its gold
                  agent answer is grounded in one passage of its own document
                  (>= 80 % of the answer's content-word tokens, answer >= 5
                  content words); relevant = the passages of that document that
                  reach the threshold.  Heuristic labels -- see caveats below.
  coco-captions   coco-mini captions_val2017.json: corpus = first caption
                  (lowest annotation id) of each image, doc id = image id;
                  queries = the other 4 captions, qid = annotation id;
                  relevant = the image's corpus caption.

Usage: python3 scripts/make_beir_sets.py OUT_DIR [--data /work/shared/data]
"""
import argparse
import hashlib
import json
import math
import os
import re
import sys
import unicodedata

MIN_WORDS = 60
MAX_WORDS = 200

# bm25s' / sklearn-ish short English stop-word list, used only for the
# multidoc "content word" heuristic (not for the has_answer rule).
STOP = set("""a an and are as at be but by for if in into is it no not of on or
such that the their then there these they this to was will with i you your
me my we our us he she his her its them do does did can could would should
have has had am been being what which who whom how when where why so any all
some just also about from up out more most other than too very s t don
want know need like get please hello hi thanks thank yes ok okay tell""".split())


# ------------------------------------------------------------ text utils ----

def norm_tokens(s):
    """DPR-style has_answer normalisation: NFD, drop combining marks, lower,
    alphanumeric tokens (punctuation and whitespace differences vanish)."""
    s = unicodedata.normalize("NFD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    return re.findall(r"\w+", s.lower())


def has_answer(answer_toks, passage_toks):
    n = len(answer_toks)
    if n == 0:
        return False
    first = answer_toks[0]
    for i in range(len(passage_toks) - n + 1):
        if passage_toks[i] == first and passage_toks[i:i + n] == answer_toks:
            return True
    return False


def clean_ws(s):
    return re.sub(r"\s+", " ", s).strip()


def split_long(words, max_words=MAX_WORDS):
    """Split a word list into ceil(n/max) nearly equal chunks."""
    n = len(words)
    k = max(1, math.ceil(n / max_words))
    size = math.ceil(n / k)
    return [words[i:i + size] for i in range(0, n, size)]


def pack(pieces, min_words=MIN_WORDS, max_words=MAX_WORDS):
    """pieces: list of (kind, text) with kind 'head' or 'body'.  Greedy packing:
    a buffer is flushed once it reaches min_words; a heading starts a new
    passage when the buffer is already >= min_words/2; long pieces are split
    into equal chunks <= max_words (the buffer is prepended first)."""
    out, buf = [], []

    def flush():
        if buf:
            out.append(" ".join(buf))
            buf.clear()

    def nwords():
        return sum(len(x.split()) for x in buf)

    for kind, text in pieces:
        words = text.split()
        if not words:
            continue
        if kind == "head":
            if nwords() >= min_words // 2:
                flush()
            buf.append(text)
            continue
        if nwords() + len(words) > max_words:
            if nwords() >= min_words // 2:
                flush()
            allw = " ".join(buf).split() + words
            buf.clear()
            chunks = split_long(allw, max_words)
            for c in chunks[:-1]:
                out.append(" ".join(c))
            buf.append(" ".join(chunks[-1]))
        else:
            buf.append(text)
        if nwords() >= min_words:
            flush()
    if buf:
        # a short tail joins the previous passage if that stays <= max_words
        if out and nwords() < min_words // 2 and \
                len(out[-1].split()) + nwords() <= max_words:
            out[-1] = out[-1] + " " + " ".join(buf)
        else:
            flush()
    return out


# ------------------------------------------------------------ leval-nq ----

BLOCK = re.compile(r"(</?(?:P|H[1-6]|Table|Tr|Ul|Ol|Dl|Li|Dd|Dt)(?:_[^>]*)?>)")
HEAD = re.compile(r"<H([1-6])(?:_[^>]*)?>")
TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:_[^>]*)?>")


def nq_page_passages(html):
    m = re.search(r"<H1>(.*?)</H1>", html)
    if m:
        title = clean_ws(TAG.sub(" ", m.group(1)))
        body = html[m.end():]
    else:
        title = clean_ws(re.split(r" - [Ww]ikipedia", html, 1)[0])
        body = html
    pieces, in_head = [], False
    for part in BLOCK.split(body):
        if BLOCK.fullmatch(part):
            in_head = bool(HEAD.fullmatch(part))
            continue
        text = clean_ws(TAG.sub(" ", part))
        if text:
            pieces.append(("head" if in_head else "body", text))
    return title, pack(pieces)


def build_leval_nq(path):
    rows = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
    seen, pages = {}, []
    dup_pages = 0
    for r in rows:
        h = hashlib.sha1(r["input"].encode("utf-8")).hexdigest()
        if h in seen:
            dup_pages += 1
            pages[seen[h]][1].extend(zip(r["instructions"], r["outputs"]))
            continue
        seen[h] = len(pages)
        pages.append((r["input"], list(zip(r["instructions"], r["outputs"]))))
    corpus, queries, qrels = [], [], []
    stats = {"pages": len(pages), "duplicate_pages_dropped": dup_pages,
             "questions_in": sum(len(r["instructions"]) for r in rows),
             "duplicate_questions": 0, "no_relevant_dropped": 0}
    for pi, (html, qas) in enumerate(pages):
        title, passages = nq_page_passages(html)
        pids = []
        for k, p in enumerate(passages):
            pid = f"nq{pi:02d}-{k:04d}"
            pids.append((pid, norm_tokens(p)))  # passage text only, as in DPR
            corpus.append({"_id": pid, "title": title, "text": p})
        # merge duplicate questions within a page (union of their answers)
        qmap = {}
        for q, a in qas:
            key = clean_ws(q)
            if key in qmap:
                stats["duplicate_questions"] += 1
                if a not in qmap[key]:
                    qmap[key].append(a)
            else:
                qmap[key] = [a]
        for qj, (q, answers) in enumerate(qmap.items()):
            qid = f"nq{pi:02d}-q{qj:02d}"
            ans_toks = [norm_tokens(a) for a in answers]
            rel = [pid for pid, toks in pids
                   if any(has_answer(at, toks) for at in ans_toks)]
            if not rel:
                stats["no_relevant_dropped"] += 1
                continue
            queries.append({"_id": qid, "text": q})
            qrels.extend((qid, pid, 1) for pid in rel)
    return corpus, queries, qrels, stats


# ------------------------------------------------------- leval-multidoc ----

def md_passages(text):
    pieces = []
    for para in re.split(r"\n\s*\n", text):
        lines = [clean_ws(x) for x in para.split("\n") if clean_ws(x)]
        if not lines:
            continue
        # first short line of a paragraph is a section heading
        if len(lines) > 1 and len(lines[0].split()) <= 12:
            pieces.append(("head", lines[0]))
            lines = lines[1:]
        pieces.append(("body", " ".join(lines)))
    return pack(pieces)


def content(toks):
    return [t for t in toks if t not in STOP]


MD_MIN_Q_CONTENT = 4
MD_MIN_A_CONTENT = 5
MD_RECALL = 0.8


def build_leval_multidoc(path):
    rows = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
    seen, docs, dup = {}, [], 0
    for r in rows:
        h = hashlib.sha1(r["input"].encode("utf-8")).hexdigest()
        if h in seen:
            dup += 1
            docs[seen[h]][1].extend(zip(r["instructions"], r["outputs"]))
            continue
        seen[h] = len(docs)
        docs.append((r["input"], list(zip(r["instructions"], r["outputs"]))))
    corpus, queries, qrels = [], [], []
    stats = {"documents": len(docs), "duplicate_documents_dropped": dup,
             "questions_in": sum(len(r["instructions"]) for r in rows),
             "duplicate_questions": 0, "not_standalone_dropped": 0,
             "short_answer_dropped": 0, "ungrounded_dropped": 0}
    for di, (text, qas) in enumerate(docs):
        pids = []
        for k, p in enumerate(md_passages(text)):
            pid = f"md{di:02d}-{k:04d}"
            pids.append((pid, set(norm_tokens(p))))
            corpus.append({"_id": pid, "title": "", "text": p})
        qmap = {}
        for q, a in qas:
            key = clean_ws(q)
            if key in qmap:
                stats["duplicate_questions"] += 1
                qmap[key].append(a)
            else:
                qmap[key] = [a]
        for qj, (q, answers) in enumerate(qmap.items()):
            if len(set(content(norm_tokens(q)))) < MD_MIN_Q_CONTENT:
                stats["not_standalone_dropped"] += 1
                continue
            rel = set()
            long_enough = False
            for a in answers:
                at = content(norm_tokens(a))
                if len(at) < MD_MIN_A_CONTENT:
                    continue
                long_enough = True
                for pid, ptoks in pids:
                    if sum(t in ptoks for t in at) / len(at) >= MD_RECALL:
                        rel.add(pid)
            if not long_enough:
                stats["short_answer_dropped"] += 1
                continue
            if not rel:
                stats["ungrounded_dropped"] += 1
                continue
            qid = f"md{di:02d}-q{qj:02d}"
            queries.append({"_id": qid, "text": q})
            qrels.extend((qid, pid, 1) for pid in sorted(rel))
    return corpus, queries, qrels, stats


# -------------------------------------------------------- coco-captions ----

def build_coco(path):
    d = json.load(open(path, encoding="utf-8"))
    by_img = {}
    for a in d["annotations"]:
        by_img.setdefault(a["image_id"], []).append(a)
    corpus, queries, qrels = [], [], []
    for img in sorted(by_img):
        anns = sorted(by_img[img], key=lambda a: a["id"])
        corpus.append({"_id": str(img), "title": "", "text": clean_ws(anns[0]["caption"])})
        for a in anns[1:]:
            queries.append({"_id": str(a["id"]), "text": clean_ws(a["caption"])})
            qrels.append((str(a["id"]), str(img), 1))
    return corpus, queries, qrels, {"images": len(by_img)}


# ------------------------------------------------------------------ io ----

def write_set(out_dir, name, corpus, queries, qrels, stats):
    d = os.path.join(out_dir, name)
    os.makedirs(os.path.join(d, "qrels"), exist_ok=True)
    with open(os.path.join(d, "corpus.jsonl"), "w", encoding="utf-8") as f:
        for o in sorted(corpus, key=lambda o: o["_id"]):
            f.write(json.dumps(o, ensure_ascii=False) + "\n")
    with open(os.path.join(d, "queries.jsonl"), "w", encoding="utf-8") as f:
        for o in sorted(queries, key=lambda o: o["_id"]):
            f.write(json.dumps(o, ensure_ascii=False) + "\n")
    with open(os.path.join(d, "qrels", "test.tsv"), "w", encoding="utf-8") as f:
        for q, doc, g in sorted(set(qrels)):
            f.write(f"{q}\t{doc}\t{g}\n")
    # The questions alone, one per line: `pith calibrate --absent` uses one
    # set's questions as queries that another collection cannot answer.
    with open(os.path.join(d, "questions.txt"), "w", encoding="utf-8") as f:
        for o in sorted(queries, key=lambda o: o["_id"]):
            f.write(" ".join(o["text"].split()) + "\n")
    nrel = len(set(qrels))
    words = [len(o["text"].split()) for o in corpus]
    words.sort()
    summ = {"docs": len(corpus), "queries": len(queries),
            "qrels": nrel, "avg_rel_per_query": round(nrel / max(1, len(queries)), 2),
            "doc_words_min_median_max": [words[0], words[len(words) // 2], words[-1]]}
    summ.update(stats)
    with open(os.path.join(d, "stats.json"), "w", encoding="utf-8") as f:
        json.dump(summ, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{name}: {summ['docs']} docs, {summ['queries']} queries, "
          f"avg relevant/query {summ['avg_rel_per_query']}  ({json.dumps(stats)}; "
          f"doc words min/median/max {summ['doc_words_min_median_max']})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--data", default="/work/shared/data")
    ap.add_argument("--skip-multidoc", action="store_true")
    args = ap.parse_args()
    lev = os.path.join(args.data, "leval")
    write_set(args.out_dir, "leval-nq",
              *build_leval_nq(os.path.join(lev, "natural_question.jsonl")))
    if not args.skip_multidoc:
        write_set(args.out_dir, "leval-multidoc",
                  *build_leval_multidoc(os.path.join(lev, "multidoc_qa.jsonl")))
    write_set(args.out_dir, "coco-captions",
              *build_coco(os.path.join(args.data, "coco-mini", "captions_val2017.json")))
    write_coco_halves(args.out_dir, os.path.join(args.data, "coco-mini"))


def write_coco_halves(out_dir, coco):
    """COCO-mini captions split by image-id parity, one per line
    (`coco-odd-captions.txt`, `coco-even-captions.txt`): one half stands in
    for other users' logged searches (`pith eval captions --query-log`)
    while `--half` evaluates on the other."""
    d = json.load(open(os.path.join(coco, "captions_val2017.json"), encoding="utf-8"))
    have = {i["id"] for i in d["images"] if os.path.exists(os.path.join(coco, "images", i["file_name"]))}
    for name, parity in (("odd", 1), ("even", 0)):
        caps = [clean_ws(a["caption"]) for a in sorted(d["annotations"], key=lambda a: a["id"])
                if a["image_id"] in have and a["image_id"] % 2 == parity]
        with open(os.path.join(out_dir, f"coco-{name}-captions.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(caps) + "\n")
        print(f"coco-{name}-captions.txt: {len(caps)} captions")


if __name__ == "__main__":
    sys.exit(main())
