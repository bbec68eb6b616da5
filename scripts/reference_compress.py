#!/usr/bin/env python3
"""Reference numbers for query-aware extractive context compression (L-Eval).

    python3 scripts/reference_compress.py [FILE.jsonl ...] [--method truncation,random,extractive,best]
            [--budget 500,1000,2000] [--threads 2] [--models DIR] [--json]

Files: L-Eval format, one document per line with `input`, `instructions`
(questions) and `outputs` (gold answers); default natural_question.jsonl and
multidoc_qa.jsonl in /work/shared/data/leval. Model: minilm-l6-v2-int8
(model.onnx + tokenizer.json) through onnxruntime, [CLS] .. [SEP] truncated
at 256 tokens, token_type_ids 0, mean pooling over the mask, L2 normalised,
as pith's text_encoder.rs. Embeddings are cached as .npy files in
$PITH_COMPRESS_CACHE (default /tmp/pith_compress_cache), keyed by the texts.

Metric (same as `pith eval compress`):
  normalize(s): lower case; every non-alphanumeric character (str.isalnum)
  a space; split on whitespace; drop "a", "an", "the"; join with spaces.
  A file is short-answer when the median whitespace word count of its gold
  answers is <= 5. Short: retained = " "+normalize(answer)+" " is a
  substring of " "+normalize(kept)+" ". Long: content(s) = set of
  normalize(s) words minus pipeline/src/rag/stopwords.txt (all words if that
  is empty); retained = |content(answer) & words(kept)| / |content(answer)|.
  Budget: MiniLM token ids without special tokens, summed over kept units.
  ratio = document tokens / kept tokens, averaged over questions.

Methods:
  truncation  the longest prefix of the document with <= budget tokens, cut
              at the end offset of token `budget`.
  random      reference sentences in a splitmix64 Fisher-Yates order seeded
              with seed + 1000*doc + question (as pith eval compress), each
              kept if it still fits; output in document order.
  extractive  reference sentences (split on newlines and after [.!?] plus
              whitespace, empty pieces dropped) sorted by MiniLM cosine to
              the question (ties: earlier first); each kept if it still fits
              (others skipped, the walk goes on); document order, " "-joined.
  best        the improved scorer below.

best
----
Units: pith's splitter (pipeline/src/rag/sentences.rs, ported below as
pith_spans) with seven more block tags, so table cells and definition lists
end units and their tags are dropped: td th dl caption thead tbody tfoot.
Per document (once): unit embeddings e_i (MiniLM as above), token counts
n_i, the centroid c = normalise(mean_i e_i), and for BM25 the unit terms
terms_i = normalize(unit) words minus stopwords (repeats kept), dl_i =
len(terms_i), avgdl = max(mean dl, 1), df_t = units containing t, N = units.

Per query q (embedding v):
  dense_i = v.e_i - 0.3 * c.e_i                        (typicality penalty)
  Q       = set(normalize(q) words minus stopwords) restricted to rare
            terms: 1 <= df_t <= max(1, 0.05 * N)
  bm_i    = sum_{t in Q} idf_t * f*(k1+1) / (f + k1*(1 - b + b*dl_i/avgdl)),
            f = count of t in terms_i, k1 = 1.2, b = 0.75,
            idf_t = ln(1 + (N - df_t + 0.5) / (df_t + 0.5))
  lex_i   = bm_i / max_j bm_j   (0 for all when the max is 0)
  s_i     = dense_i + 0.3 * lex_i
  score_i = s_i + 0.3*s_{i-1} + 0.1*s_{i+1} + 0.1*s_{i-2}  (absent neighbours
            count 0; in a multi-source context only the same source's units)
Selection: units in order of score descending, ties by position ascending.
For each unit i, try i and then its successor i+1 (same source): a unit is
added when it is not already kept, has n > 0 tokens, its normalize() text
differs from every kept unit's, and used + n <= budget; otherwise it is
skipped and the walk goes on. Output: kept units in document order joined
with " ".

Measured (this script, 2 cores): natural_question 500/1000/2000 ->
0.679 / 0.771 / 0.881 (extractive 0.532 / 0.697 / 0.743); multidoc_qa ->
0.812 / 0.891 / 0.930 (extractive 0.737 / 0.843 / 0.906).
"""
import argparse
import hashlib
import json
import math
import os
import re
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_DIR_DEFAULT = os.path.join(os.environ.get("PITH_MODELS") or os.path.expanduser("~/.cache/pith/models"),
                                 "minilm-l6-v2-int8")
STOPWORDS_PATH = os.path.join(ROOT, "pipeline", "src", "rag", "stopwords.txt")
CACHE_DIR = os.environ.get("PITH_COMPRESS_CACHE", "/tmp/pith_compress_cache")
MAX_LEN = 256  # manifest preprocess.max_length
DIM = 384


# --------------------------------------------------------------------- metric

def normalize(s):
    s = "".join(c if c.isalnum() else " " for c in s.lower())
    return " ".join(w for w in s.split() if w not in ("a", "an", "the"))


def load_stopwords(path=STOPWORDS_PATH):
    with open(path, encoding="utf-8") as f:
        return {l.strip() for l in f if l.strip()}


def content_words(s, stop):
    words = set(normalize(s).split())
    c = words - stop
    return c if c else words


def is_short_answer_file(answers):
    return statistics.median(len(a.split()) for a in answers) <= 5


def retained_short(answer, kept):
    return (" " + normalize(answer) + " ") in (" " + normalize(kept) + " ")


def retained_long(answer, kept, stop):
    a = content_words(answer, stop)
    if not a:
        return 0.0
    k = set(normalize(kept).split())
    return len(a & k) / len(a)


# ---------------------------------------------------------------- splitting

_REF_SPLIT = re.compile(r"\n|(?<=[.!?])\s+")


def split_reference(text):
    """Split on newlines and after [.!?] followed by whitespace; drop empty pieces."""
    return [p.strip() for p in _REF_SPLIT.split(text) if p.strip()]


# pith's splitter (pipeline/src/rag/sentences.rs), ported rule for rule; spans
# are str indices here (byte offsets in Rust), MAX_BYTES is still counted in
# UTF-8 bytes. `best` runs it with table cells as extra block tags.
PITH_MAX_BYTES = 1200
PITH_ABBREVIATIONS = set("""mr mrs ms dr prof sr jr st vs etc e.g i.e cf al inc ltd co corp no nos fig
figs vol pp p ed eds approx est dept univ gen gov sen rep rev capt col lt sgt mt ft jan feb mar apr jun
jul aug sep sept oct nov dec a.m p.m u.s u.k ph.d b.c a.d op art sec ch max min misc viz""".split())
PITH_BLOCK_TAGS = frozenset("p li tr h1 h2 h3 h4 h5 h6 table ul ol dd dt br div blockquote".split())
CELL_TAGS = frozenset("td th dl caption thead tbody tfoot".split())
_CLOSERS = set("\"')]\u201d\u2019\u00bb.!?")
_TERMS = set(".!?\u2026\u3002\uff01\uff1f")
_CJK = set("\u3002\uff01\uff1f")


def _push(text, s, e, out):
    piece = text[s:e]
    lead = len(piece) - len(piece.lstrip())
    trail = len(piece) - len(piece.rstrip())
    if lead + trail < len(piece):
        out.append((s + lead, e - trail))


def _starts_item(line):
    b = line.encode("utf-8")
    if len(b) >= 2 and b[0:1] in (b"-", b"*", b"+") and b[1:2] == b" ":
        return True
    if line.startswith("\u2022 "):
        return True
    d = 0
    while d < len(b) and 48 <= b[d] <= 57:
        d += 1
    return 0 < d < 4 and len(b) > d + 1 and b[d:d + 1] in (b".", b")") and b[d + 1:d + 2] == b" "


def _block_tag_len(s, tags):
    close = s.find(">")
    if close < 0 or len(s[:close].encode("utf-8")) > 40:
        return None
    inner = s[1:close].lstrip("/")
    n = 0
    while n < len(inner) and inner[n].isascii() and inner[n].isalnum():
        n += 1
    name, rest = inner[:n].lower(), inner[n:]
    if name in tags and (rest == "" or rest[0] in " _/"):
        return close + 1
    return None


def _push_tags(text, s, e, out, tags):
    piece = text[s:e]
    frm = i = 0
    while i < len(piece):
        if piece[i] == "<":
            ln = _block_tag_len(piece[i:i + 64], tags)
            if ln is not None:
                _push(text, s + frm, s + i, out)
                i += ln
                frm = i
                continue
        i += 1
    _push(text, s + frm, e, out)


def _blocks(text, tags):
    out, offs, at = [], [], 0
    for line in text.split("\n"):          # split_inclusive('\n')
        offs.append((at, line + "\n"))
        at += len(line) + 1
    a, l = offs[-1]
    offs[-1] = (a, l[:-1])
    if offs[-1][1] == "":
        offs.pop()
    start, in_fence = 0, False
    for i, (at, line) in enumerate(offs):
        t = line.strip()
        if t.startswith("```"):
            if in_fence:
                in_fence = False
                _push(text, start, at + len(line), out)
                start = at + len(line)
            else:
                _push_tags(text, start, at, out, tags)
                in_fence = True
                start = at
            continue
        if in_fence:
            continue
        end = at + len(line)
        nxt = offs[i + 1][1].lstrip() if i + 1 < len(offs) else None
        if (t == "" or nxt is None or nxt == "" or _starts_item(nxt) or nxt.startswith("#")
                or t.endswith((".", "!", "?", ":", ";")) or _starts_item(t) or t.startswith("#")):
            _push_tags(text, start, end, out, tags)
            start = end
    if in_fence:
        _push(text, start, len(text), out)
    else:
        _push_tags(text, start, len(text), out, tags)
    return out


def _period_ends(piece, at, nxt):
    if nxt is None:
        return True
    if not (nxt.isupper() or nxt in "0123456789" or nxt in "\"'([\u201c\u2018<*-"):
        return False
    k = at - 1
    while k >= 0 and not (piece[k].isspace() or piece[k] in '("'):
        k -= 1
    word = piece[k + 1:at]
    if word == "":
        return True
    if word.lower() in PITH_ABBREVIATIONS:
        return False
    if sum(c.isalpha() for c in word) == 1 and word[0].isupper():   # an initial
        return False
    if "." in word and all(len(p) <= 2 for p in word.split(".")):    # U.S., O.T.
        return False
    return True


def _split_block(text, s, e, out):
    piece = text[s:e]
    if piece.startswith("```"):
        out.append((s, e))
        return
    n = len(piece)
    frm = i = 0
    while i < n:
        c = piece[i]
        if c in _TERMS:
            j = i + 1
            while j < n and piece[j] in _CLOSERS:
                j += 1
            cjk = c in _CJK
            if (cjk or (j < n and piece[j].isspace())) and j < n:
                k = j
                while k < n and piece[k].isspace():
                    k += 1
                if cjk or c != "." or _period_ends(piece, i, piece[k] if k < n else None):
                    _push(text, s + frm, s + j, out)
                    frm = i = k
                    continue
            i = j
            continue
        i += 1
    _push(text, s + frm, e, out)


def _cap(text, s, e, out):
    while len(text[s:e].encode("utf-8")) > PITH_MAX_BYTES:
        limit, nb = s, 0
        while limit < e:
            cb = len(text[limit].encode("utf-8"))
            if nb + cb > PITH_MAX_BYTES:
                break
            nb += cb
            limit += 1
        p = limit - 1
        while p >= s and not text[p].isspace():
            p -= 1
        cut = p if p > s else limit
        _push(text, s, cut, out)
        s = cut
        while s < e and text[s].isspace():
            s += 1
    if e > s:
        _push(text, s, e, out)


def pith_spans(text, tags=PITH_BLOCK_TAGS):
    out = []
    for s, e in _blocks(text, tags):
        _split_block(text, s, e, out)
    capped = []
    for s, e in out:
        _cap(text, s, e, capped)
    return capped


def split_pith(text):
    """pith's sentence splitter as it is (sentences.rs)."""
    return [text[s:e] for s, e in pith_spans(text)]


def split_best(text):
    """pith's splitter with table cells / definition lists also ending units."""
    return [text[s:e] for s, e in pith_spans(text, PITH_BLOCK_TAGS | CELL_TAGS)]


# ------------------------------------------------------------------- model

class Model:
    def __init__(self, model_dir=MODEL_DIR_DEFAULT, threads=2):
        import onnxruntime as ort
        import tokenizers
        self.dir = model_dir
        self.raw = tokenizers.Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        self.raw.no_padding()
        self.raw.no_truncation()
        self.emb_tok = tokenizers.Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        self.emb_tok.no_padding()
        self.emb_tok.enable_truncation(MAX_LEN)
        self.threads = threads
        self._sess = None

    def sess(self):
        if self._sess is None:
            import onnxruntime as ort
            so = ort.SessionOptions()
            so.intra_op_num_threads = self.threads
            so.inter_op_num_threads = 1
            self._sess = ort.InferenceSession(os.path.join(self.dir, "model.onnx"), sess_options=so,
                                              providers=["CPUExecutionProvider"])
        return self._sess

    def ntokens(self, texts):
        """MiniLM token ids per text, no special tokens, no truncation."""
        return [len(e.ids) for e in self.raw.encode_batch(list(texts), add_special_tokens=False)]

    def embed(self, texts, batch_tokens=2048, max_rows=64):
        """Mean-pooled, L2-normalised embeddings; [CLS] .. [SEP], truncated at 256 tokens."""
        out = np.zeros((len(texts), DIM), np.float32)
        if not texts:
            return out
        encs = self.emb_tok.encode_batch(list(texts), add_special_tokens=True)
        order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))
        s = self.sess()
        i = 0
        while i < len(order):
            j = i + 1
            while j < len(order) and j - i < max_rows and (j - i + 1) * len(encs[order[j]].ids) <= batch_tokens:
                j += 1
            grp = order[i:j]
            cols = len(encs[grp[-1]].ids)
            ids = np.zeros((len(grp), cols), np.int64)
            mask = np.zeros((len(grp), cols), np.int64)
            for r, k in enumerate(grp):
                e = encs[k].ids
                ids[r, :len(e)] = e
                mask[r, :len(e)] = 1
            h = s.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask,
                                              "token_type_ids": np.zeros_like(ids)})[0]
            m = mask[:, :, None].astype(np.float32)
            v = (h * m).sum(1) / np.maximum(m.sum(1), 1e-9)
            v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
            out[grp] = v
            i = j
        return out

    def cached_embed(self, texts, tag="x"):
        """embed() with an .npy cache in CACHE_DIR keyed by the texts' hash."""
        os.makedirs(CACHE_DIR, exist_ok=True)
        h = hashlib.sha1("\x00".join(texts).encode("utf-8")).hexdigest()[:20]
        path = os.path.join(CACHE_DIR, f"{tag}_{len(texts)}_{h}.npy")
        if os.path.exists(path):
            return np.load(path)
        t = time.time()
        v = self.embed(texts)
        np.save(path + ".tmp.npy", v)
        os.replace(path + ".tmp.npy", path)
        print(f"  embedded {len(texts)} texts ({tag}) in {time.time() - t:.1f}s", file=sys.stderr)
        return v


# ---------------------------------------------------------------- selection

def greedy_fill(order, lens, budget):
    """Walk `order`; keep each unit whose tokens still fit; return kept indices sorted."""
    kept, used = [], 0
    for i in order:
        if used + lens[i] <= budget:
            kept.append(i)
            used += lens[i]
    return sorted(kept), used


def truncate_prefix(model, text, budget, enc=None):
    enc = enc or model.raw.encode(text, add_special_tokens=False)
    if len(enc.ids) <= budget:
        return text, len(enc.ids)
    if budget <= 0:
        return "", 0
    end = enc.offsets[budget - 1][1]
    return text[:end], budget


class Doc:
    """A document split into sentences, with token counts and cached embeddings."""

    def __init__(self, model, text, split=split_reference, tag="ref"):
        self.text = text
        self.sents = split(text)
        self.lens = model.ntokens(self.sents)
        self.ntok = len(model.raw.encode(text, add_special_tokens=False).ids)
        self.emb = model.cached_embed(self.sents, tag)


def select_extractive(doc, qv, budget):
    cos = doc.emb @ qv
    order = sorted(range(len(doc.sents)), key=lambda i: (-cos[i], i))
    kept, used = greedy_fill(order, doc.lens, budget)
    return " ".join(doc.sents[i] for i in kept), used


def splitmix_shuffle(n, seed):
    """Fisher-Yates with splitmix64, as pith eval compress does."""
    m64 = (1 << 64) - 1
    state, v = seed & m64, list(range(n))
    for i in range(n - 1, 0, -1):
        state = (state + 0x9E3779B97F4A7C15) & m64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m64
        z ^= z >> 31
        j = z % (i + 1)
        v[i], v[j] = v[j], v[i]
    return v


def select_random(doc, budget, seed):
    order = splitmix_shuffle(len(doc.sents), seed)
    kept, used = greedy_fill(order, doc.lens, budget)
    return " ".join(doc.sents[i] for i in kept), used


# ----------------------------------------------------------------- best

BEST = dict(
    typicality=0.3,    # gamma: weight of the cosine to the document centroid, subtracted
    lexical=0.3,       # lambda: weight of rare-term BM25, divided by the best unit's
    rare_df=0.05,      # a query term counts when its unit frequency df <= max(1, rare_df * N)
    k1=1.2, b=0.75,    # BM25
    prev=0.3,          # neighbour weights: s[i-1], s[i+1], s[i-2]
    next=0.1,
    prev2=0.1,
)


def content_terms(s, stop):
    """normalize(s) split on spaces, stopwords dropped, repeats kept."""
    return [w for w in normalize(s).split() if w not in stop]


class BestDoc:
    """Units (split_best), their token counts, embeddings and BM25 statistics,
    computed once per document."""

    def __init__(self, model, text, tag="best", stop=None):
        stop = load_stopwords() if stop is None else stop
        self.stop = stop
        self.text = text
        self.sents = split_best(text)
        self.lens = model.ntokens(self.sents)
        self.ntok = len(model.raw.encode(text, add_special_tokens=False).ids)
        self.emb = model.cached_embed(self.sents, tag)
        self.norm = [normalize(x) for x in self.sents]
        n = len(self.sents)
        self.n = n
        if n:
            c = self.emb.mean(0)
            c /= max(float(np.linalg.norm(c)), 1e-12)
            self.typ = self.emb @ c
        else:
            self.typ = np.zeros(0, np.float32)
        self.tf, self.dl, self.df = [], np.zeros(n), {}
        for i, x in enumerate(self.sents):
            terms = content_terms(x, stop)
            tf = {}
            for t in terms:
                tf[t] = tf.get(t, 0) + 1
            self.tf.append(tf)
            self.dl[i] = len(terms)
            for t in tf:
                self.df[t] = self.df.get(t, 0) + 1
        self.avgdl = max(float(self.dl.mean()), 1.0) if n else 1.0


def best_scores(doc, query, qv, p=BEST):
    n = doc.n
    dense = doc.emb @ qv - p["typicality"] * doc.typ
    lex = np.zeros(n)
    limit = max(1.0, p["rare_df"] * n)
    k1, b = p["k1"], p["b"]
    for t in sorted(set(content_terms(query, doc.stop))):
        df = doc.df.get(t, 0)
        if df == 0 or df > limit:
            continue
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        for i in range(n):
            f = doc.tf[i].get(t, 0)
            if f:
                lex[i] += idf * f * (k1 + 1.0) / (f + k1 * (1.0 - b + b * doc.dl[i] / doc.avgdl))
    top = lex.max() if n else 0.0
    s = dense.astype(np.float64) + (p["lexical"] * lex / top if top > 0 else 0.0)
    z = np.zeros(1)
    prev = np.concatenate([z, s[:-1]])[:n]
    nxt = np.concatenate([s[1:], z])[:n]
    prev2 = np.concatenate([z, z, s[:-2]])[:n]
    return s + p["prev"] * prev + p["next"] * nxt + p["prev2"] * prev2


def select_best(doc, query, qv, budget, p=BEST):
    score = best_scores(doc, query, qv, p)
    order = sorted(range(doc.n), key=lambda i: (-score[i], i))
    kept, seen, used = set(), set(), 0
    for i in order:
        for j in (i, i + 1):              # the unit, then its successor
            if j >= doc.n or j in kept or doc.lens[j] == 0 or doc.norm[j] in seen:
                continue
            if used + doc.lens[j] > budget:
                continue
            kept.add(j)
            seen.add(doc.norm[j])
            used += doc.lens[j]
    return " ".join(doc.sents[j] for j in sorted(kept)), used


# ------------------------------------------------------------------- driver

def load_rows(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def evaluate(model, path, methods, budgets, seed=0, verbose=False):
    rows = load_rows(path)
    stop = load_stopwords()
    answers = [a for r in rows for a in r["outputs"]]
    short = is_short_answer_file(answers)
    name = os.path.splitext(os.path.basename(path))[0]
    need_ref = any(m in ("random", "extractive") for m in methods)
    need_best = "best" in methods
    res = {(m, b): {"ret": [], "ratio": [], "tok": []} for m in methods for b in budgets}
    full = []
    t_embed = 0.0
    t_select = {m: 0.0 for m in methods}
    for di, r in enumerate(rows):
        t = time.time()
        ref = Doc(model, r["input"], split_reference, f"{name}_ref") if need_ref else None
        best = BestDoc(model, r["input"], f"{name}_best", stop) if need_best else None
        qs = r["instructions"]
        qv = model.cached_embed(qs, f"{name}_q") if (need_ref or need_best) else None
        t_embed += time.time() - t
        doc_enc = model.raw.encode(r["input"], add_special_tokens=False)
        doc_ntok = len(doc_enc.ids)
        for qi, (q, a) in enumerate(zip(qs, r["outputs"])):
            if short:
                full.append(float(retained_short(a, r["input"])))
            else:
                full.append(retained_long(a, r["input"], stop))
            for m in methods:
                for b in budgets:
                    t = time.time()
                    if m == "truncation":
                        kept, used = truncate_prefix(model, r["input"], b, doc_enc)
                    elif m == "random":
                        kept, used = select_random(ref, b, seed + di * 1000 + qi)
                    elif m == "extractive":
                        kept, used = select_extractive(ref, qv[qi], b)
                    elif m == "best":
                        kept, used = select_best(best, q, qv[qi], b)
                    else:
                        raise ValueError(m)
                    t_select[m] += time.time() - t
                    assert used <= b
                    ret = float(retained_short(a, kept)) if short else retained_long(a, kept, stop)
                    d = res[(m, b)]
                    d["ret"].append(ret)
                    d["tok"].append(used)
                    d["ratio"].append(doc_ntok / max(used, 1))
    nq = len(full)
    out = {"file": name, "kind": "short" if short else "long", "questions": nq,
           "full_document": sum(full) / nq, "embed_s": t_embed, "results": []}
    for (m, b), d in res.items():
        out["results"].append({"method": m, "budget": b, "retention": sum(d["ret"]) / nq,
                               "mean_ratio": sum(d["ratio"]) / nq, "mean_kept_tokens": sum(d["tok"]) / nq,
                               "select_ms_per_query": 1000 * t_select[m] / (nq * len(budgets))})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", default=[os.path.join("/work/shared/data/leval", f)
                                                  for f in ("natural_question.jsonl", "multidoc_qa.jsonl")])
    ap.add_argument("--method", action="append",
                    help="truncation|random|extractive|best (repeatable or comma list; default all)")
    ap.add_argument("--budget", action="append", help="token budget (repeatable or comma list; default 500,1000,2000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default=MODEL_DIR_DEFAULT, help="minilm-l6-v2-int8 directory")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    methods = [m for x in (args.method or ["truncation,random,extractive,best"]) for m in x.split(",") if m]
    for m in methods:
        if m not in ("truncation", "random", "extractive", "best"):
            ap.error(f"unknown method {m}")
    budgets = [int(b) for x in (args.budget or ["500,1000,2000"]) for b in x.split(",") if b]
    model = Model(args.models, args.threads)
    all_out = []
    for path in args.files:
        t = time.time()
        out = evaluate(model, path, methods, budgets, seed=args.seed)
        out["total_s"] = time.time() - t
        all_out.append(out)
        if not args.json:
            print(f"{out['file']} ({out['kind']}-answer, {out['questions']} questions): "
                  f"full document {out['full_document']:.3f}; embed/split {out['embed_s']:.1f}s, total {out['total_s']:.1f}s")
            print(f"  {'method':<11} {'budget':>6} {'retention':>9} {'ratio':>7} {'kept':>6} {'ms/q':>6}")
            for x in out["results"]:
                print(f"  {x['method']:<11} {x['budget']:>6} {x['retention']:>9.3f} {x['mean_ratio']:>7.1f} "
                      f"{x['mean_kept_tokens']:>6.0f} {x['select_ms_per_query']:>6.2f}")
    if args.json:
        print(json.dumps(all_out, indent=1))


if __name__ == "__main__":
    main()
