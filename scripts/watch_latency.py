#!/usr/bin/env python3
"""Median seconds from a file's close to it being searchable under `pith serve --watch`.

    watch_latency.py [--pith target/release/pith] [--n 20]
Starts its own server on a temporary store and folder; writes N small text
files one at a time, each with a unique word, and polls /api/search for it.
"""
import argparse, json, os, statistics, subprocess, tempfile, time, urllib.request, uuid

ap = argparse.ArgumentParser()
ap.add_argument("--pith", default="target/release/pith")
ap.add_argument("--n", type=int, default=20)
ap.add_argument("--port", type=int, default=7791)
a = ap.parse_args()
tmp = tempfile.mkdtemp()
watch = os.path.join(tmp, "w"); os.makedirs(watch)
srv = subprocess.Popen([a.pith, "--data", os.path.join(tmp, "store"), "serve", "--addr", f"127.0.0.1:{a.port}", "--watch", watch],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
base = f"http://127.0.0.1:{a.port}"
try:
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/healthz"); break
        except Exception:
            time.sleep(0.2)
    urllib.request.urlopen(base + "/api/search?q=warm")
    lat = []
    for i in range(a.n):
        word = "zq" + uuid.uuid4().hex[:10]
        with open(os.path.join(watch, f"note{i}.txt"), "w") as f:
            f.write(f"Note {i}: the secret word is {word}.\n")
        t0 = time.time()
        while time.time() - t0 < 30:
            r = json.load(urllib.request.urlopen(f"{base}/api/search?q={word}&mode=bm25&k=1"))
            if r["results"]:
                lat.append(time.time() - t0); break
            time.sleep(0.05)
        else:
            lat.append(float("inf"))
    print(json.dumps({"files": a.n, "median_s": statistics.median(lat), "max_s": max(lat), "min_s": min(lat)}))
finally:
    srv.terminate(); srv.wait()
