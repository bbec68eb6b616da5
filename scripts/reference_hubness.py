#!/usr/bin/env python3
"""Hubness reduction for ConSE text->image search: an independent reference.

Gallery: the ConSE vectors of the coco-mini images, built by the code of
scripts/reference_conse.py (imported, not copied) with pith's defaults
(ConseConfig::default: top_t = 20, template "a {}", synonyms averaged, no
renormalisation); image resize = `image_rs` (numpy emulation of the Rust
`image` crate's Triangle filter, what pith uses; `--resize pil` for Pillow).
Queries: MiniLM int8 embedding of every caption; gold = its own image.
s(q, g) = cos(q, g) (all vectors unit length).

Normalisers (per query only the ranking of the 79 images matters, so every
score below is given in any per-query monotone form):

  none          s(q, g)
  center        cos(q, g - mu_G)                mu_G = mean gallery vector
  center+bank   cos(q - mu_B, g - mu_G)         mu_B = mean query-bank vector
  csls k        2 s(q,g) - r_T(q) - r_S(g)      (Conneau et al. 2018)
                r_T(q) = mean of the k largest s(q, g') over the gallery (query-only)
                r_S(g) = mean of the k largest s(b, g) over the query bank B
  is  beta      exp(beta s(q,g)) / Z_B(g),      Z_B(g) = sum_{b in B} exp(beta s(b, g))
  dis beta      QB-Norm Dynamic Inverted Softmax (Bogolin et al. 2022), k = 1:
                A = union over b in B of the top-k gallery items of b;
                is(q, g) for all g if argmax_g' s(q, g') in A, else s(q, g)
  dualis b1,b2  DBNorm DualIS (Wang et al. 2023):
                exp(b1 s(q,g)) / Z_B(g; b1)  *  exp(b2 s(q,g)) / Z_G(g; b2),
                Z_G(g; b2) = sum_{h in gallery bank} exp(b2 cos(h, g))
  dualdis b1,b2 DBNorm DualDIS as in the released code (each factor gated as in dis:
                the query-bank factor by A_B, the gallery-bank factor by A_G =
                union of the top-1 gallery item of each gallery-bank item; a factor
                that is not applied is s(q, g) itself, as in qb_norm())

Query banks: `classes` = the 1000 ImageNet class-prompt vectors ConSE is built
from (as conse.rs builds them: mean of the synonym prompts "a {}", L2-normalised);
`captions-loo` = captions of the other images (for the captions of image X the
bank excludes X's five captions).  captions-loo uses the evaluation captions
themselves and is a reference point only: it is not available to pith.
Gallery bank (DBNorm): the gallery itself, each item's own term left out
(`self` variant keeps it); the paper uses the training split's gallery items.

Hubness: N_10(g) = number of caption queries with g in their top 10; skewness
= E[(N - mean)^3] / std^3 (population moments, = scipy.stats.skew); orphans =
share of images with N_10 = 0; max = largest N_10.  R@k as in
reference_conse.py (ties counted as expected random tie-breaking).

Offline banks (second table, `--offline`): banks pith has without any evaluation
caption.  Per candidate g every score below is s(q, g) combined with per-item
statistics precomputed at index time (plus, for mp, two query numbers):

  gallery       the gallery itself, own item left out (r = mean cos to the k nearest
                OTHER gallery items)
  pc_*          pseudo-captions composed from each gallery image's own top-3 ImageNet
                labels (first synonym, "a"/"an"), PC_TEMPLATES below; pc_people is
                set A ("a person with {0}", ...), pc_all = the five sets together
  leval         the 267 L-Eval questions; msmarco = the 50 MS MARCO queries
  classes       the 1000 ImageNet class prompts (as in the first table)

  csls k        2 s - r_k(g),  r_k(g) = mean of the k largest cos(b, g), b in bank
  csls-a k,a    s - a r_k(g) (gallery bank: its cosines are on another scale)
  nicdm k       -(1 - s) / sqrt(mu_k(g)),  mu_k(g) = mean of the k smallest 1 - cos(b, g)
                (Schnitzer et al. 2012; the query's own mu_k is constant per query)
  ls k          -(1 - s)^2 / sigma_k(g),   sigma_k(g) = k-th smallest 1 - cos(b, g)
                (local scaling, same paper; exp(-d^2/(sigma_q sigma_g)) ranks alike)
  mp            Phi((s - mu_g)/sd_g) * Phi((s - mu_q)/sd_q)  (Gaussian mutual proximity,
                similarity form): mu_g, sd_g of cos(b, g) over the bank; mu_q = q . mean(G),
                sd_q^2 = q^T Cov(G) q (the query's cosines over the whole gallery)
  mp-x          (s - mu_g) / sd_g  (the candidate factor alone)
  center        s - g . mean(B)   (= cos(q - mean(B), g) up to a per-query factor)
  is beta       s - (1/beta) log sum_b exp(beta cos(b, g))  (inverted softmax, O(1) offset)
                beta = "1/sd": 1 / standard deviation of all cos(b, g) (label-free)
  dis beta      QB-Norm DIS with that bank (k = 1 activation, as above)

Usage:
  python3 scripts/reference_hubness.py /work/shared/data/coco-mini [--json]
        [--models ~/.cache/pith/models] [--resize image_rs|pil|plain]
        [--cache vectors.npz] [--offline] [--text-data /work/shared/data]
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.dont_write_bytecode = True   # importing the sibling script must not leave scripts/__pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_conse as rc  # noqa: E402

BETAS = [1, 5, 10, 20, 50]
CSLS_K = 10
DIS_K = 1
QB_DEFAULT_BETA = 20                 # QB-Norm README / code default (inverse temperature)
DB_DEFAULT = (1 / 1.99, 3.0)         # dbnorm.py defaults beta1, beta2 (inverse temperatures)
TOPK_OCC = 10

# pseudo-caption templates over an image's own top-3 labels ({0} {1} {2}, each with
# its article).  Set A (people) was the first caption-style set tried; B-E were
# written afterwards as controls, none tuned on the evaluation captions.
PC_TEMPLATES = {
    "pc_p1": ["a photo of {0}"],
    "pc_p123": ["a photo of {0}, {1} and {2}"],
    "pc_pairs": ["a photo of {0} and {1}", "a photo of {0} and {2}", "a photo of {1} and {2}"],
    "pc_singles3": ["a photo of {0}", "a photo of {1}", "a photo of {2}"],
    "pc_people": ["a person with {0}", "a man and a woman near {0} and {1}", "people next to {1}",
                  "{0} and {2} in a room", "{0} outside on a sunny day"],
    "pc_scene": ["{0} in the scene", "a view of {0} and {1}", "{0} sitting on {1}",
                 "an image showing {0} near {2}", "{1} beside {0}"],
    "pc_people2": ["someone using {0}", "a group of people with {0}", "a child playing with {1}",
                   "a woman holding {0}", "a man standing by {0} and {2}"],
    "pc_people_c1": ["a person with {0}", "a man next to {0}", "a woman near {0}",
                     "people and {0}", "a group of people around {0}"],
    "pc_plain": ["{0}", "{0} and {1}", "{0}, {1} and {2}", "{1} with {0}", "{2} near {0}"],
}
PC_ALL = ["pc_people", "pc_scene", "pc_people2", "pc_people_c1", "pc_plain"]


# ------------------------------------------------------------- vectors ----

def _article(n):
    return ("an " if n[:1].lower() in "aeiou" else "a ") + n


def text_bank_texts(data_dir):
    """Generic (non-COCO) text: L-Eval questions and MS MARCO queries, where present."""
    out = {}
    lev = []
    for fn in ["multidoc_qa.jsonl", "natural_question.jsonl"]:
        f = os.path.join(data_dir, "leval", fn)
        if os.path.exists(f):
            for line in open(f, encoding="utf-8"):
                lev += [q for q in json.loads(line)["instructions"] if q.strip()]
    if lev:
        out["leval"] = lev
    f = os.path.join(data_dir, "beir", "msmarco", "queries.jsonl")
    if os.path.exists(f):
        out["msmarco"] = [json.loads(l)["text"] for l in open(f, encoding="utf-8") if l.strip()]
    return out


def build_offline(args, minilm, probs, classes, synonyms):
    """Offline banks: pseudo-captions from each image's own top-3 labels, generic text."""
    name = [rc.nice((synonyms[i] or [classes[i]])[0]) for i in range(len(classes))]
    top = np.argsort(-probs, axis=1, kind="stable")[:, :3]
    out = {}
    for bank, templates in PC_TEMPLATES.items():
        texts, owner = [], []
        for i, t in enumerate(top):
            a = [_article(name[c]) for c in t]
            for tpl in templates:
                texts.append(tpl.format(*a))
                owner.append(i)
        out["bank_" + bank] = minilm.encode(texts).astype(np.float64)
        out["owner_" + bank] = np.array(owner)
    for bank, texts in text_bank_texts(args.text_data).items():
        out["bank_" + bank] = minilm.encode(texts).astype(np.float64)
    return out


def build_vectors(args):
    ann = json.load(open(os.path.join(args.coco_dir, "captions_val2017.json"), encoding="utf-8"))
    images = sorted(ann["images"], key=lambda im: im["id"])
    img_index = {im["id"]: i for i, im in enumerate(images)}
    paths = [os.path.join(args.coco_dir, "images", im["file_name"]) for im in images]
    caps = [(a["caption"].strip(), img_index[a["image_id"]]) for a in ann["annotations"]
            if a["image_id"] in img_index]
    gold = np.array([c[1] for c in caps])
    need_bank = ["bank_" + b for b in PC_TEMPLATES]
    if args.cache and os.path.exists(args.cache):
        z = np.load(args.cache)
        if z["resize"].item() == args.resize and len(z["gold"]) == len(gold) \
                and (z["gold"] == gold).all() \
                and (not args.offline or all(k in z.files for k in need_bank + ["probs"])):
            extra = {k: z[k] for k in z.files if k.startswith(("bank_", "owner_")) or k == "probs"}
            return z["Q"], z["G"], z["C"], gold, extra
    edir = os.path.join(args.models, "efficientnet-lite0")
    classes = [l.rstrip("\n") for l in open(os.path.join(edir, "classes.txt"), encoding="utf-8")
               if l.strip()]
    synonyms = json.load(open(os.path.join(edir, "synonyms.json"), encoding="utf-8"))
    assert len(classes) == 1000 and len(synonyms) == 1000
    t0 = time.perf_counter()
    minilm = rc.MiniLM(os.path.join(args.models, "minilm-l6-v2-int8"))
    Q = minilm.encode([c[0] for c in caps]).astype(np.float64)
    C = rc.class_vectors(minilm, classes, synonyms, "a {}", "syn")       # [1000, 384], unit
    probs = rc.softmax(rc.image_logits(rc.session(os.path.join(edir, "model.onnx")),
                                       paths, args.resize))
    G = rc.conse_vectors(probs, C, 20, False)                            # pith defaults
    extra = {"probs": probs}
    if args.offline:
        extra.update(build_offline(args, minilm, probs, classes, synonyms))
    print(f"vectors built in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    if args.cache:
        np.savez(args.cache, Q=Q, G=G, C=C, gold=gold, resize=np.array(args.resize), **extra)
    return Q, G, C, gold, extra


# ------------------------------------------------------------- metrics ----

def evaluate(scores, gold, rel_tol=1e-9):
    n = len(gold)
    g = scores[np.arange(n), gold]
    tol = rel_tol * np.abs(g)
    greater = (scores > (g + tol)[:, None]).sum(1)
    tied = (np.abs(scores - g[:, None]) <= tol[:, None]).sum(1)

    def rk(k):
        return float(np.clip((k - greater) / tied, 0.0, 1.0).mean())

    top = np.argsort(-scores, axis=1, kind="stable")[:, :TOPK_OCC]
    occ = np.bincount(top.ravel(), minlength=scores.shape[1]).astype(np.float64)
    d = occ - occ.mean()
    skew = float((d ** 3).mean() / (d ** 2).mean() ** 1.5) if d.any() else 0.0
    return {"R@1": rk(1), "R@5": rk(5), "R@10": rk(10),
            "median_rank": float(np.median(greater + (tied + 1) / 2.0)),
            "skew10": skew, "orphans": float((occ == 0).mean()), "max_N10": int(occ.max())}


# ------------------------------------------------------------ normalisers ----

def lse(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))).squeeze(axis)


class Bank:
    """Query bank.  rows_for(X) = bank-vs-gallery similarity rows used for queries
    whose gold image is X (same for every X for a fixed bank)."""

    def __init__(self, name, SB, owner=None, vecs=None):
        self.name, self.SB, self.owner, self.vecs = name, SB, owner, vecs

    def images(self, n_img):
        return range(n_img)

    def rows(self, X):
        return self.SB if self.owner is None else self.SB[self.owner != X]

    def vec_mean(self, X):
        return self.vecs.mean(0) if self.owner is None else self.vecs[self.owner != X].mean(0)

    def per_query(self, gold, fn):
        """fn(rows) -> array over the gallery; returns [n_query, n_gallery]."""
        if self.owner is None:
            v = fn(self.SB)
            return np.broadcast_to(v, (len(gold), v.shape[-1]))
        cache = {X: fn(self.rows(X)) for X in np.unique(gold)}
        return np.stack([cache[X] for X in gold])


def activation(rows, n_gal, k=DIS_K):
    top = np.argsort(-rows, axis=1, kind="stable")[:, :k]
    a = np.zeros(n_gal, dtype=bool)
    a[np.unique(top)] = True
    return a


def gallery_bank(G, keep_self):
    """Gallery-vs-gallery similarity of the gallery bank (= the gallery itself)."""
    SG = G @ G.T
    if not keep_self:
        np.fill_diagonal(SG, -np.inf)   # exp(-inf) = 0: own term left out
    return SG


def log_Z(rows, beta):
    return lse(beta * rows, axis=0)    # over bank items, per gallery item


def m_is(S, gold, bank, beta):
    return beta * S - bank.per_query(gold, lambda R: log_Z(R, beta))


def m_dis(S, gold, bank, beta):
    n_gal = S.shape[1]
    act = bank.per_query(gold, lambda R: activation(R, n_gal).astype(np.float64)) > 0.5
    top1 = S.argmax(1)
    on = act[np.arange(len(gold)), top1]
    out = S.copy()
    out[on] = m_is(S, gold, bank, beta)[on]
    return out, float(on.mean())


def m_dualis(S, gold, bank, SG, b1, b2):
    lzg = lse(b2 * SG, axis=0)
    return m_is(S, gold, bank, b1) + b2 * S - lzg[None, :]


def m_dualdis(S, gold, bank, SG, b1, b2):
    """Released-code semantics (qb_norm for both factors, product)."""
    n, n_gal = S.shape
    top1 = S.argmax(1)
    act_q = bank.per_query(gold, lambda R: activation(R, n_gal).astype(np.float64)) > 0.5
    on_q = act_q[np.arange(n), top1]
    on_g = activation(SG, n_gal)[top1]
    fq = np.where(on_q[:, None], np.exp(m_is(S, gold, bank, b1)), S)
    lzg = lse(b2 * SG, axis=0)
    fg = np.where(on_g[:, None], np.exp(b2 * S - lzg[None, :]), S)
    return fq * fg, float(on_q.mean()), float(on_g.mean())


def m_dualdis1(S, gold, bank, SG, b1, b2):
    """Variant: a factor that is not applied is 1 (not s), in log form:
    b1 s - log Z_B(g) [if top1 in A_B] + b2 s - log Z_G(g) [if top1 in A_G];
    s itself if neither applies.  Same as dualdis up to the factor s, which the
    released code multiplies in (and which flips the order of negative cosines)."""
    n, n_gal = S.shape
    top1 = S.argmax(1)
    act_q = bank.per_query(gold, lambda R: activation(R, n_gal).astype(np.float64)) > 0.5
    on_q = act_q[np.arange(n), top1]
    on_g = activation(SG, n_gal)[top1]
    lzg = lse(b2 * SG, axis=0)
    out = np.where(on_q[:, None], m_is(S, gold, bank, b1), 0.0) \
        + np.where(on_g[:, None], b2 * S - lzg[None, :], 0.0)
    none = ~(on_q | on_g)
    out[none] = S[none]
    return out


def m_csls(S, gold, bank, k=CSLS_K):
    rT = np.sort(S, axis=1)[:, -k:].mean(1)                                   # query-only
    rS = bank.per_query(gold, lambda R: np.sort(R, axis=0)[-k:].mean(0))       # per image
    return 2 * S - rT[:, None] - rS


def unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


# ------------------------------------------------------------ offline banks ----

def offline_banks(G, extra, imgs=None):
    """name -> bank-vs-gallery cosine rows [n_bank, n_gallery] for the gallery G (the
    images `imgs` of the full set; pseudo-caption banks keep only those images' items)."""
    n = G.shape[0]
    imgs = np.arange(n) if imgs is None else imgs
    SG = G @ G.T
    np.fill_diagonal(SG, np.nan)                     # own item left out
    out = {"gallery": SG}
    pcs = {}
    for b in PC_TEMPLATES:
        if "bank_" + b in extra:
            keep = np.isin(extra["owner_" + b], imgs)
            pcs[b] = extra["bank_" + b][keep]
            out[b] = pcs[b] @ G.T
    if all(b in pcs for b in PC_ALL):
        out["pc_all"] = np.vstack([pcs[b] for b in PC_ALL]) @ G.T
    for b in ["leval", "msmarco"]:
        if "bank_" + b in extra:
            out[b] = extra["bank_" + b] @ G.T
    if "C" in extra:
        out["classes"] = extra["C"] @ G.T
    return out


def _topk_mean(R, k):            # mean of the k largest finite values per column
    return np.sort(np.where(np.isnan(R), -np.inf, R), axis=0)[-k:].mean(0)


def _kth(R, k):
    return np.sort(np.where(np.isnan(R), -np.inf, R), axis=0)[-k]


def offline_configs(S, gold, banks):
    """(method, bank, params, thunk -> scores) for every offline normaliser."""
    from scipy.stats import norm
    mq, sq = S.mean(1, keepdims=True), S.std(1, keepdims=True)   # = q.mean(G), sqrt(q'Cov(G)q)
    cfg = []
    for bn, R in banks.items():
        nb = R.shape[0] - (1 if bn == "gallery" else 0)
        for k in [5, 10, 20]:
            if k > nb:
                continue
            cfg.append(("csls", bn, f"k={k}", lambda R=R, k=k: 2 * S - _topk_mean(R, k)[None]))
            cfg.append(("nicdm", bn, f"k={k}",
                        lambda R=R, k=k: -(1 - S) / np.sqrt(1 - _topk_mean(R, k))[None]))
            cfg.append(("ls", bn, f"k={k}", lambda R=R, k=k: -(1 - S) ** 2 / (1 - _kth(R, k))[None]))
        if bn == "gallery":
            for k in [10, 20]:
                cfg.append(("csls-a", bn, f"k={k} a=0.25",
                            lambda R=R, k=k: S - 0.25 * _topk_mean(R, k)[None]))
        mu, sd = np.nanmean(R, 0), np.nanstd(R, 0)
        cfg.append(("mp", bn, "gaussian", lambda mu=mu, sd=sd:
                    norm.cdf((S - mu) / sd) * norm.cdf((S - mq) / sq)))
        cfg.append(("mp-x", bn, "(s-mu_g)/sd_g", lambda mu=mu, sd=sd: (S - mu) / sd))
        cfg.append(("center", bn, "s - g.mean(B)", lambda mu=mu: S - mu[None]))
        if bn == "gallery":
            continue                     # gallery-only IS = dualis b1=0 (first table)
        inv_sd = 1.0 / np.std(R)
        bank = Bank(bn, R)
        for beta in [5, 7.5, 10, 20, "1/sd"]:
            b = inv_sd if beta == "1/sd" else beta
            tag = f"beta=1/sd={b:.2f}" if beta == "1/sd" else f"beta={beta}"
            cfg.append(("is", bn, tag, lambda R=R, b=b: S - lse(b * R, axis=0)[None] / b))
            if beta in (20, "1/sd"):
                cfg.append(("dis", bn, tag, lambda bank=bank, b=b: m_dis(S, gold, bank, b)[0]))
    return cfg


def meets(r, base):
    return (r["skew10"] <= 0.5 * base["skew10"] and r["R@1"] >= base["R@1"] - 1e-9
            and r["R@10"] >= base["R@10"] - 1e-9)


def offline_table(Q, G, C, gold, extra, n_sub=200, sub_size=60, seed=0):
    S = Q @ G.T
    base = evaluate(S, gold)
    ex = dict(extra, C=C)
    rows = []
    for m, bn, p, f in offline_configs(S, gold, offline_banks(G, ex)):
        r = dict(method=m, bank=bn, params=p, **evaluate(f(), gold))
        r["meets_goal"] = bool(meets(r, base))
        rows.append(r)
    # robustness of every configuration that meets the goal: random 60-image galleries
    # (their captions as queries, pseudo-caption banks cut to those images)
    keys = {(r["method"], r["bank"], r["params"].split("=1/sd")[0]) for r in rows if r["meets_goal"]}
    if keys:
        rng = np.random.default_rng(seed)
        tally = {k: [] for k in keys}
        for _ in range(n_sub):
            im = np.sort(rng.choice(G.shape[0], sub_size, replace=False))
            qm = np.isin(gold, im)
            remap = -np.ones(G.shape[0], int)
            remap[im] = np.arange(len(im))
            gq, Gs = remap[gold[qm]], G[im]
            Ss = Q[qm] @ Gs.T
            b0 = evaluate(Ss, gq)
            for m, bn, p, f in offline_configs(Ss, gq, offline_banks(Gs, ex, im)):
                k = (m, bn, p.split("=1/sd")[0])
                if k in tally:
                    r = evaluate(f(), gq)
                    tally[k].append((r["R@1"] - b0["R@1"], r["R@10"] - b0["R@10"],
                                     r["skew10"] / b0["skew10"] if b0["skew10"] > 0 else np.nan,
                                     meets(r, b0)))
        for r in rows:
            k = (r["method"], r["bank"], r["params"].split("=1/sd")[0])
            if k in tally:
                t = np.array(tally[k], dtype=np.float64)
                r["subsets"] = {"n": n_sub, "size": sub_size, "mean_dR1": float(t[:, 0].mean()),
                                "mean_dR10": float(t[:, 1].mean()),
                                "median_skew_ratio": float(np.nanmedian(t[:, 2])),
                                "share_meeting_goal": float(t[:, 3].mean())}
    return base, rows


# ------------------------------------------------------------------ main ----

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("coco_dir")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--models", default=os.path.expanduser("~/.cache/pith/models"))
    ap.add_argument("--resize", default="image_rs", choices=["image_rs", "pil", "plain"])
    ap.add_argument("--cache", metavar="NPZ", help="save/load the vectors here")
    ap.add_argument("--offline", action="store_true",
                    help="also the offline-bank table (pseudo-captions, gallery, generic text)")
    ap.add_argument("--text-data", default=None,
                    help="folder with leval/ and beir/msmarco/ (default: coco_dir/..)")
    args = ap.parse_args()
    if args.text_data is None:
        args.text_data = os.path.dirname(os.path.abspath(args.coco_dir))

    Q, G, C, gold, extra = build_vectors(args)
    S = Q @ G.T
    n_img = G.shape[0]
    banks = [Bank("classes", C @ G.T, vecs=C),
             Bank("captions-loo", S, owner=gold, vecs=Q)]
    SG_loo, SG_self = gallery_bank(G, False), gallery_bank(G, True)

    rows = []

    def add(method, bank, params, scores, **extra):
        r = dict(method=method, bank=bank, params=params, **evaluate(scores, gold), **extra)
        rows.append(r)
        return r

    add("none", "-", "", S)
    Gc = unit(G - G.mean(0))
    add("center", "-", "gallery mean", Q @ Gc.T)
    for b in banks:
        Qc = np.stack([unit(Q[i] - b.vec_mean(gold[i])) for i in range(len(gold))])
        add("center+bank", b.name, "query - bank mean", Qc @ Gc.T)
        add("csls", b.name, f"k={CSLS_K}", m_csls(S, gold, b))
        for beta in BETAS:
            add("is", b.name, f"beta={beta}", m_is(S, gold, b, beta), beta=beta)
        for beta in BETAS:
            sc, frac = m_dis(S, gold, b, beta)
            add("dis", b.name, f"beta={beta} k={DIS_K}", sc, beta=beta, active=frac)
        for gb_name, SG in [("gallery-loo", SG_loo), ("gallery+self", SG_self)]:
            for b1 in BETAS + [0]:
                for b2 in BETAS:
                    add("dualis", b.name, f"b1={b1} b2={b2}",
                        m_dualis(S, gold, b, SG, b1, b2), beta1=b1, beta2=b2, gbank=gb_name)
            if gb_name == "gallery-loo":
                for b1 in BETAS:
                    for b2 in BETAS:
                        sc, fq, fg = m_dualdis(S, gold, b, SG, b1, b2)
                        add("dualdis", b.name, f"b1={b1} b2={b2}", sc, beta1=b1, beta2=b2,
                            gbank=gb_name, active_q=fq, active_g=fg)
                        add("dualdis1", b.name, f"b1={b1} b2={b2}",
                            m_dualdis1(S, gold, b, SG, b1, b2), beta1=b1, beta2=b2,
                            gbank=gb_name)
        b1, b2 = DB_DEFAULT
        add("dualis", b.name, "b1=1/1.99 b2=3",
            m_dualis(S, gold, b, SG_loo, b1, b2), beta1=b1, beta2=b2, gbank="gallery-loo")
        sc, fq, fg = m_dualdis(S, gold, b, SG_loo, b1, b2)
        add("dualdis", b.name, "b1=1/1.99 b2=3", sc, beta1=b1, beta2=b2,
            gbank="gallery-loo", active_q=fq, active_g=fg)
    key = lambda r: (r["R@1"] + r["R@5"] + r["R@10"], -r["skew10"])

    summary = [rows[0], rows[1]]
    for b in banks:
        sel = lambda m, gb=None, extra=lambda r: True: [
            r for r in rows if r["method"] == m and r["bank"] == b.name
            and (gb is None or r.get("gbank") == gb) and extra(r)]
        summary += sel("center+bank") + sel("csls")
        for m in ["is", "dis"]:
            summary.append(max(sel(m), key=key) | {"pick": "best beta"})
            summary.append(next(r for r in sel(m) if r["beta"] == QB_DEFAULT_BETA)
                           | {"pick": "default beta=20"})
        for m in ["dualis", "dualdis", "dualdis1"]:
            swept = sel(m, "gallery-loo", lambda r: r["beta1"] in BETAS and r["beta2"] in BETAS)
            summary.append(max(swept, key=key) | {"pick": "best b1,b2"})
            if m != "dualdis1":
                summary.append(next(r for r in sel(m, "gallery-loo")
                                    if r["params"] == "b1=1/1.99 b2=3") | {"pick": "repo default"})
            if m != "dualdis1":
                summary.append(next(r for r in swept if r["beta1"] == 20 and r["beta2"] == 20)
                               | {"pick": "b1=b2=20"})
        selfb = sel("dualis", "gallery+self", lambda r: r["beta1"] in BETAS)
        summary.append(max(selfb, key=key) | {"pick": "best b1,b2"})
        # gallery bank only (no query bank): DualIS with b1 = 0 is exactly this
        gonly = [r for r in sel("dualis", "gallery-loo") if r["beta1"] == 0]
        if b.name == "classes":
            summary.append(max(gonly, key=key) | {"pick": "gallery bank only (b1=0)",
                                                   "bank": "-"})

    out = {"images": int(n_img), "captions": int(len(gold)), "resize": args.resize,
           "conse": {"top_t": 20, "template": "a {}", "synonyms": True},
           "min_cos": float(S.min()), "summary": summary, "rows": rows,
           "selection": "best = max R@1+R@5+R@10, then lower skewness"}
    if args.offline:
        base, orows = offline_table(Q, G, C, gold, extra)
        out["offline"] = {"goal": "skew10 <= 0.5 x none, R@1 and R@10 >= none", "rows": orows}
    if args.json:
        print(json.dumps(out))
        return
    print(f"{n_img} images, {len(gold)} captions, resize {args.resize}, "
          f"min cos(q,g) {S.min():.3f}; mean N10 = {10 * len(gold) / n_img:.1f}")
    print(f"{'method':11s} {'qbank':12s} {'gbank':12s} {'params':18s} {'pick':24s} "
          f"{'R@1':>5s} {'R@5':>5s} {'R@10':>5s} {'medR':>4s} {'skew':>5s} {'orph':>4s} "
          f"{'maxN':>4s} {'active':>9s}")
    for r in summary:
        act = f"{r['active']:.2f}" if "active" in r else (
            f"{r['active_q']:.2f}/{r['active_g']:.2f}" if "active_q" in r else "")
        print(f"{r['method']:11s} {r['bank']:12s} {r.get('gbank', '-'):12s} {r['params']:18s} "
              f"{r.get('pick', ''):24s} {r['R@1']:5.3f} {r['R@5']:5.3f} {r['R@10']:5.3f} "
              f"{r['median_rank']:4.1f} {r['skew10']:5.2f} {r['orphans']:4.2f} "
              f"{r['max_N10']:4d} {act:>9s}")
    print("\nbeta sweeps (R@1/R@5/R@10 skew):")
    for b in banks:
        for m in ["is", "dis"]:
            cells = [f"b={r['beta']}: {r['R@1']:.3f}/{r['R@5']:.3f}/{r['R@10']:.3f} "
                     f"{r['skew10']:.2f}" for r in rows if r["method"] == m and r["bank"] == b.name]
            print(f"  {m:4s} {b.name:12s} " + " | ".join(cells))
    if args.offline:
        print(f"\noffline banks (no evaluation caption); goal: skew <= {0.5 * base['skew10']:.2f}, "
              f"R@1 >= {base['R@1']:.3f}, R@10 >= {base['R@10']:.3f};  * = meets it, then "
              "[random 60-image galleries x200: mean dR@1, mean dR@10, median skew ratio, "
              "share meeting the goal]")
        print(f"{'method':7s} {'bank':13s} {'params':18s} {'R@1':>5s} {'R@5':>5s} {'R@10':>5s} "
              f"{'skew':>5s} {'orph':>4s} {'maxN':>4s}")
        for r in orows:
            sub = r.get("subsets")
            tail = (f"  [{sub['mean_dR1']:+.3f} {sub['mean_dR10']:+.3f} "
                    f"{sub['median_skew_ratio']:.2f} {sub['share_meeting_goal']:.2f}]") if sub else ""
            print(f"{r['method']:7s} {r['bank']:13s} {r['params']:18s} {r['R@1']:5.3f} "
                  f"{r['R@5']:5.3f} {r['R@10']:5.3f} {r['skew10']:5.2f} {r['orphans']:4.2f} "
                  f"{r['max_N10']:4d}{' *' if r['meets_goal'] else ''}{tail}")


if __name__ == "__main__":
    sys.exit(main())
