#!/usr/bin/env python3
"""ConSE (Norouzi et al., 2014) text->image retrieval reference on a COCO-captions folder.

Image side: EfficientNet-Lite0 (ImageNet-1k classifier, ONNX) -> softmax over the
1000 logits -> semantic vector
    v(img) = L2norm( sum_{c in top-T(p)} w_c * e(c) )
where e(c) is the MiniLM (int8 all-MiniLM-L6-v2) embedding of a text prompt for
class c and w_c = p(c) (or p(c) / sum_{top-T} p, "renormalised").
Query side: q = MiniLM(caption).  The gallery images are ranked by cos(q, v).
Every caption is a query; its gold is the image it describes.

Sweep: T in {1,3,5,10,20}; class text = first class name ("first") or the mean
of the class's WordNet-synonym prompts ("syn"); template "a photo of a {}" or
"a {}"; p renormalised over the top T or not; image resize = PIL bilinear
(antialiased, Pillow's default), an emulation of the Rust image crate's
Triangle resize, or plain 2x2 bilinear without antialias.
Renormalising p over the top T is reported but, as the sum is L2-normalised
afterwards, it cannot change a cosine ranking.

Usage:
  python3 scripts/reference_conse.py /work/shared/data/coco-mini [--json]
        [--models ~/.cache/pith/models]
"""
import argparse
import json
import os
import sys
import time

import numpy as np
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
THREADS = 2
BATCH = 32


# ------------------------------------------------------------ preprocess ----

def short_side_size(w, h, short=256):
    """torchvision Resize(256) convention: short side -> 256, long side truncated."""
    if w <= h:
        return short, int(short * h / w)
    return int(short * w / h), short


def bilinear_no_antialias(arr, new_w, new_h):
    """Plain bilinear (2x2 taps, half-pixel centres, edge clamp), no antialias.
    Same as torch.nn.functional.interpolate(mode='bilinear', align_corners=False,
    antialias=False) / OpenCV INTER_LINEAR.  uint8 in, uint8 out (round half up)."""
    h, w, _ = arr.shape
    a = arr.astype(np.float32)

    def coords(n_out, n_in):
        s = n_in / n_out
        x = (np.arange(n_out, dtype=np.float64) + 0.5) * s - 0.5
        x = np.clip(x, 0, None)
        i0 = np.minimum(np.floor(x).astype(np.int64), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        f = (x - i0).astype(np.float32)
        return i0, i1, f

    y0, y1, fy = coords(new_h, h)
    x0, x1, fx = coords(new_w, w)
    rows = a[y0] * (1 - fy)[:, None, None] + a[y1] * fy[:, None, None]
    out = rows[:, x0] * (1 - fx)[None, :, None] + rows[:, x1] * fx[None, :, None]
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)


def _triangle_weights(n_in, n_out):
    """Weight matrix [n_out, n_in] of the Rust `image` crate's separable resampler
    (imageops::sample, FilterType::Triangle, support 1): centre (o+0.5)*ratio,
    support scaled by max(ratio, 1), taps floor(c-s)..ceil(c+s) clamped, kernel
    evaluated at (i - (c-0.5))/sratio, weights normalised to sum 1."""
    ratio = n_in / n_out
    sratio = max(ratio, 1.0)
    sup = 1.0 * sratio
    W = np.zeros((n_out, n_in), dtype=np.float32)
    for o in range(n_out):
        c = (o + 0.5) * ratio
        left = min(max(int(np.floor(c - sup)), 0), n_in - 1)
        right = min(max(int(np.ceil(c + sup)), left + 1), n_in)
        i = np.arange(left, right, dtype=np.float32)
        w = np.maximum(0.0, 1.0 - np.abs((i - (c - 0.5)) / sratio))
        W[o, left:right] = w / w.sum()
    return W


def triangle_image_rs(arr, new_w, new_h):
    """Emulates image::imageops::resize(.., FilterType::Triangle): vertical pass
    first into f32 (no rounding), then horizontal pass, round to nearest, clamp."""
    h, w, _ = arr.shape
    a = arr.astype(np.float32)
    tmp = np.tensordot(_triangle_weights(h, new_h), a, axes=(1, 0))          # [nh, w, c]
    out = np.tensordot(_triangle_weights(w, new_w), tmp, axes=(1, 1))        # [nw, nh, c]
    out = out.transpose(1, 0, 2)
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)


def preprocess(path, resize="pil"):
    """-> float32 [3,224,224].  resize: 'pil' = PIL Image.BILINEAR (Pillow's
    convolution resampler: triangle filter whose support is scaled by the
    downscale ratio, i.e. antialiased; reducing_gap=None, Pillow's default for
    Image.resize; Image.thumbnail would use reducing_gap=2), 'plain' = 2x2
    bilinear without antialias, 'image_rs' = numpy emulation of the Rust image
    crate's resize with FilterType::Triangle (antialiased, f32 intermediate)."""
    im = Image.open(path).convert("RGB")
    w, h = im.size
    nw, nh = short_side_size(w, h)
    if resize == "pil":
        im = im.resize((nw, nh), Image.BILINEAR)
        arr = np.asarray(im)
    elif resize == "image_rs":
        arr = triangle_image_rs(np.asarray(im), nw, nh)
    elif resize == "plain":
        arr = bilinear_no_antialias(np.asarray(im), nw, nh)
    else:
        raise ValueError(resize)
    top = int(round((nh - 224) / 2.0))
    left = int(round((nw - 224) / 2.0))
    arr = arr[top:top + 224, left:left + 224]
    x = (arr.astype(np.float32) / 255.0 - MEAN) / STD
    return x.transpose(2, 0, 1)


# ---------------------------------------------------------------- models ----

def session(path, threads=THREADS):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


class MiniLM:
    def __init__(self, model_dir):
        from tokenizers import Tokenizer
        self.sess = session(os.path.join(model_dir, "model.onnx"))
        self.tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        self.tok.no_padding()
        self.input_names = {i.name for i in self.sess.get_inputs()}

    def encode(self, texts, batch=BATCH):
        ids_all = [e.ids for e in self.tok.encode_batch(list(texts))]
        order = sorted(range(len(ids_all)), key=lambda i: len(ids_all[i]))
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for s in range(0, len(order), batch):
            idx = order[s:s + batch]
            L = max(len(ids_all[i]) for i in idx)
            ids = np.zeros((len(idx), L), dtype=np.int64)
            mask = np.zeros((len(idx), L), dtype=np.int64)
            for r, i in enumerate(idx):
                ids[r, :len(ids_all[i])] = ids_all[i]
                mask[r, :len(ids_all[i])] = 1
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.input_names:
                feed["token_type_ids"] = np.zeros_like(ids)
            h = self.sess.run(["last_hidden_state"], feed)[0]
            m = mask[:, :, None].astype(np.float32)
            v = (h * m).sum(1) / np.maximum(m.sum(1), 1e-9)
            v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
            out[idx] = v
        return out


def softmax(x):
    x = x - x.max(axis=1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=1, keepdims=True)


def image_logits(sess, paths, resize):
    out = []
    for s in range(0, len(paths), BATCH):
        x = np.stack([preprocess(p, resize) for p in paths[s:s + BATCH]])
        out.append(sess.run(["logits"], {"pixels": x})[0])
    return np.concatenate(out).astype(np.float64)


# ---------------------------------------------------------------- ConSE ----

def nice(name):
    return name.replace("_", " ").strip()


def class_vectors(minilm, classes, synonyms, template, mode):
    if mode == "first":
        v = minilm.encode([template.format(nice(c)) for c in classes])
    else:
        flat, owner = [], []
        for ci, syns in enumerate(synonyms):
            names = []
            for s in syns or [classes[ci]]:
                n = nice(s)
                if n.lower() not in {x.lower() for x in names}:
                    names.append(n)
            for n in names:
                flat.append(template.format(n))
                owner.append(ci)
        e = minilm.encode(flat)
        v = np.zeros((len(classes), e.shape[1]), dtype=np.float64)
        cnt = np.zeros(len(classes))
        for row, ci in zip(e, owner):
            v[ci] += row
            cnt[ci] += 1
        v /= cnt[:, None]
    v = v / np.linalg.norm(v, axis=1, keepdims=True)  # each class vector unit length
    return v.astype(np.float64)


def conse_vectors(probs, cvec, T, renorm, weighting="softmax"):
    idx = np.argsort(-probs, axis=1, kind="stable")[:, :T]
    out = np.zeros((probs.shape[0], cvec.shape[1]))
    for i in range(probs.shape[0]):
        w = probs[i, idx[i]]
        if weighting == "uniform":
            w = np.ones_like(w)
        if renorm:
            w = w / w.sum()
        out[i] = (w[:, None] * cvec[idx[i]]).sum(0)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def retrieval_metrics(qvec, gold, ivec, tol=1e-6):
    """Ranks with ties handled as random tie-breaking in expectation: images whose
    cosine is within `tol` of the gold image's are tied with it (with T=1 every
    image sharing a top-1 class has the same vector).  R@k is the expected hit
    rate, the rank used for the median/mean is the mean rank within the tie."""
    sims = qvec.astype(np.float64) @ ivec.T  # [n_captions, n_images]
    g = sims[np.arange(len(gold)), gold]
    greater = (sims > g[:, None] + tol).sum(1)
    tied = (np.abs(sims - g[:, None]) <= tol).sum(1)  # includes the gold image
    ranks = greater + (tied + 1) / 2.0

    def rk(k):
        return float(np.clip((k - greater) / tied, 0.0, 1.0).mean())

    return {
        "R@1": rk(1), "R@5": rk(5), "R@10": rk(10),
        "median_rank": float(np.median(ranks)),
        "mean_rank": float(ranks.mean()),
        "captions_with_ties": int((tied > 1).sum()),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("coco_dir")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--models", default=os.path.expanduser("~/.cache/pith/models"))
    ap.add_argument("--dump", metavar="FILE",
                    help="write per-image top-20 classes/probabilities (each resize) as JSON, "
                         "for run-to-run comparison with another implementation")
    args = ap.parse_args()

    ann = json.load(open(os.path.join(args.coco_dir, "captions_val2017.json"), encoding="utf-8"))
    images = sorted(ann["images"], key=lambda im: im["id"])
    img_index = {im["id"]: i for i, im in enumerate(images)}
    paths = [os.path.join(args.coco_dir, "images", im["file_name"]) for im in images]
    caps = [(a["caption"].strip(), img_index[a["image_id"]]) for a in ann["annotations"]
            if a["image_id"] in img_index]
    gold = np.array([c[1] for c in caps])

    edir = os.path.join(args.models, "efficientnet-lite0")
    classes = [l.rstrip("\n") for l in open(os.path.join(edir, "classes.txt"), encoding="utf-8")
               if l.strip()]
    synonyms = json.load(open(os.path.join(edir, "synonyms.json"), encoding="utf-8"))
    assert len(classes) == 1000 and len(synonyms) == 1000

    minilm = MiniLM(os.path.join(args.models, "minilm-l6-v2-int8"))
    qvec = minilm.encode([c[0] for c in caps])
    esess = session(os.path.join(edir, "model.onnx"))

    resizes = ["pil", "image_rs", "plain"]
    probs = {}
    for r in resizes:
        t0 = time.perf_counter()
        probs[r] = softmax(image_logits(esess, paths, r))
        print(f"[{r}] images classified in {time.perf_counter() - t0:.1f}s", file=sys.stderr)

    cvecs = {}
    for tmpl in ["a photo of a {}", "a {}"]:
        for mode in ["first", "syn"]:
            cvecs[(tmpl, mode)] = class_vectors(minilm, classes, synonyms, tmpl, mode)

    rows = []
    for r in resizes:
        for (tmpl, mode), cv in cvecs.items():
            for T in [1, 3, 5, 10, 20]:
                for renorm in [False, True]:
                    m = retrieval_metrics(qvec, gold, conse_vectors(probs[r], cv, T, renorm))
                    rows.append(dict(resize=r, template=tmpl, classtext=mode, T=T,
                                     renorm=renorm, weighting="softmax", **m))
    # one extra ablation: uniform weights over top-T (no probabilities)
    for (tmpl, mode), cv in cvecs.items():
        for T in [3, 5, 10]:
            m = retrieval_metrics(qvec, gold, conse_vectors(probs["pil"], cv, T, False, "uniform"))
            rows.append(dict(resize="pil", template=tmpl, classtext=mode, T=T, renorm=False,
                             weighting="uniform", **m))

    # beyond the sweep: larger T for the best PIL configuration (does it plateau?)
    bp = max((x for x in rows if x["weighting"] == "softmax" and not x["renorm"]
              and x["resize"] == "pil"), key=lambda x: x["R@1"] + x["R@5"] + x["R@10"])
    extended = []
    for T in [30, 50, 100, 1000]:
        m = retrieval_metrics(qvec, gold, conse_vectors(
            probs["pil"], cvecs[(bp["template"], bp["classtext"])], T, False))
        extended.append(dict(resize="pil", template=bp["template"], classtext=bp["classtext"],
                             T=T, renorm=False, weighting="softmax", **m))

    # resize sensitivity: top-1 agreement and probability differences
    sens = {}
    for r in resizes[1:]:
        sens[r] = {
            "top1_agreement_vs_pil": float((probs[r].argmax(1) == probs["pil"].argmax(1)).mean()),
            "mean_L1_prob_diff_vs_pil": float(np.abs(probs[r] - probs["pil"]).sum(1).mean()),
        }

    key = lambda x: (x["R@1"] + x["R@5"] + x["R@10"], -x["median_rank"])
    softmax_rows = [x for x in rows if x["weighting"] == "softmax" and not x["renorm"]]
    best = max(softmax_rows, key=key)
    best_pil = max((x for x in softmax_rows if x["resize"] == "pil"), key=key)
    out = {"images": len(paths), "captions": len(caps), "rows": rows, "best": best,
           "best_pil_resize": best_pil, "extended_T": extended, "selection": "max R@1+R@5+R@10, then lower median rank",
           "resize_sensitivity": sens,
           "notes": {
               "preprocess": "PIL convert RGB; short side -> 256 (long side int(256*long/short)); "
                             "centre crop 224 (offset round((n-224)/2)); /255; ImageNet mean/std; NCHW",
               "pil": "PIL Image.resize(BILINEAR), reducing_gap=None: antialiased triangle filter "
                      "(support scaled by downscale ratio) -- same family as Rust image::imageops "
                      "resize with FilterType::Triangle",
               "image_rs": "numpy emulation of Rust image::imageops::resize(FilterType::Triangle): "
                           "vertical then horizontal separable triangle filter, support scaled by the "
                           "downscale ratio, f32 intermediate, round-to-nearest u8 output",
               "plain": "2x2 bilinear, half-pixel centres, no antialias (torch antialias=False / cv2 INTER_LINEAR)",
               "class_vector": "MiniLM(template.format(name with '_'->' ')), 'syn' = mean over the "
                               "class's distinct WordNet lemma prompts; each class vector L2-normalised",
               "renorm": "renormalising p over the top T only rescales the sum, so after the final "
                         "L2 normalisation it cannot change any cosine ranking",
           }}
    if args.dump:
        dump = {}
        for r in resizes:
            top = np.argsort(-probs[r], axis=1, kind="stable")[:, :20]
            dump[r] = [{"file": images[i]["file_name"], "classes": top[i].tolist(),
                        "probs": [round(float(probs[r][i, c]), 6) for c in top[i]]}
                       for i in range(len(images))]
        with open(args.dump, "w", encoding="utf-8") as f:
            json.dump(dump, f)
    if args.json:
        print(json.dumps(out))
        return
    print(f"{len(paths)} images, {len(caps)} captions")
    hdr = f"{'resize':9s} {'template':16s} {'text':5s} {'T':>4s} {'renorm':6s} {'wt':7s} " \
          f"{'R@1':>6s} {'R@5':>6s} {'R@10':>6s} {'medR':>5s} {'meanR':>6s}"
    print(hdr)

    def line(x, wt):
        print(f"{x['resize']:9s} {x['template']:16s} {x['classtext']:5s} {x['T']:4d} "
              f"{str(x['renorm']):6s} {wt:7s} {x['R@1']:6.3f} {x['R@5']:6.3f} "
              f"{x['R@10']:6.3f} {x['median_rank']:5.1f} {x['mean_rank']:6.2f}")

    for x in rows:
        line(x, x["weighting"])
    for x in extended:
        line(x, "(ext)")
    print("best:", json.dumps(best))
    print("best with PIL (antialiased) resize:", json.dumps(best_pil))
    print("resize sensitivity:", json.dumps(sens))


if __name__ == "__main__":
    sys.exit(main())
