#!/usr/bin/env python3
"""Crash harness: SIGKILL `pith ingest` and `pith watch` at random moments.

Builds a corpus of text files and photos (crops of scikit-image's samples),
then loops: start a writer (`pith ingest CORPUS` or `pith watch CORPUS` while
files are added, changed and deleted), kill it with SIGKILL after a random
delay, and check the store: `pith check --repair` (the writer's automatic
repair on open) must leave `pith check` reporting 0 inconsistencies. The
mutations keep the work going for the whole run, so kills land during
encoding, SQLite commits, tantivy commits, graph checkpoints and the
compacting rebuilds that deletions trigger.

At the end the killed store gets one uninterrupted ingest and is compared
with a store built from scratch on the same final corpus: the same files
(path and content hash), the same chunks, and the same exact vector results
for a set of queries (`--mode vector` with a path filter, which pith answers
by exact scan, so the comparison does not depend on graph build order).

    scripts/crash_harness.py --pith target/release/pith --kills 100 --files 2000
"""

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOPICS = [
    "sailing across the bay in a small boat", "baking sourdough bread at home", "the rings of Saturn and its moons",
    "chess openings for beginners", "growing tomatoes in a greenhouse", "jazz piano voicings", "volcanoes of Iceland",
    "railway timetables in the Alps", "tax forms and receipts for 2023", "renewing a passport before a trip to Lisbon",
    "training for a marathon in winter", "repairing a bicycle chain", "the history of the printing press",
    "learning Japanese kanji", "coffee roasting temperatures", "birds that migrate in autumn",
]
QUERIES = ["sailing boat", "bread baking", "Saturn moons", "chess opening", "tomato greenhouse", "jazz piano",
           "volcano Iceland", "alpine railway", "tax receipts", "passport Lisbon", "a cat", "a rocket launch"]


def text_body(rng, i):
    t = TOPICS[i % len(TOPICS)]
    words = " ".join(rng.choice(t.split()) for _ in range(rng.randint(20, 400)))
    return f"Note {i} about {t}.\n\n{words}\n"


def make_corpus(root, n_files, photos, rng):
    from PIL import Image
    root.mkdir(parents=True, exist_ok=True)
    n_img = max(1, n_files // 20)
    srcs = sorted(p for p in photos.iterdir() if p.suffix in (".png", ".jpg"))
    for i in range(n_img):
        im = Image.open(srcs[i % len(srcs)]).convert("RGB")
        w, h = im.size
        x, y = rng.randint(0, w // 4), rng.randint(0, h // 4)
        im.crop((x, y, x + w // 2 + 16, y + h // 2 + 16)).save(root / f"img{i:04d}.jpg", quality=85)
    for i in range(n_files - n_img):
        (root / f"sub{i % 7}").mkdir(exist_ok=True)
        (root / f"sub{i % 7}" / f"note{i:05d}.txt").write_text(text_body(rng, i))


def mutate(root, rng, step):
    """Add, change and delete a few files (keeps the writers busy)."""
    notes = sorted(root.glob("sub*/note*.txt"))
    for p in rng.sample(notes, min(len(notes), rng.randint(5, 40))):
        r = rng.random()
        if r < 0.4:
            p.write_text(text_body(rng, rng.randint(0, 10**6)))
        elif r < 0.7:
            p.unlink()
        else:
            p.rename(p.with_name(f"moved{step}_{p.name}"))
    for j in range(rng.randint(3, 30)):
        (root / f"sub{j % 7}" / f"new{step}_{j}.txt").write_text(text_body(rng, step * 100 + j))


def pith(args, binary, store, models, **kw):
    env = dict(os.environ, PITH_DATA=str(store), PITH_MODELS=str(models))
    return subprocess.run([binary, *args], env=env, capture_output=True, text=True, **kw)


def check(binary, store, models):
    r = pith(["check", "--repair"], binary, store, models)
    if r.returncode != 0:
        return False, "repair: " + r.stdout + r.stderr
    r = pith(["check"], binary, store, models)
    return r.returncode == 0, r.stdout + r.stderr


def snapshot(store):
    db = sqlite3.connect(f"file:{store / 'pith.sqlite'}?mode=ro", uri=True)
    files = sorted(db.execute("SELECT path, hash FROM files"))
    chunks = sorted(db.execute("SELECT f.path, c.ord, c.text FROM chunks c JOIN items i ON i.id=c.item_id JOIN files f ON f.id=i.file_id"))
    db.close()
    return files, chunks


def results(binary, store, models, root):
    out = {}
    for q in QUERIES:
        r = pith(["search", q, "--mode", "vector", "--path", str(root), "--k", "10", "--json"], binary, store, models)
        if r.returncode != 0:
            raise SystemExit(f"search failed: {r.stderr}")
        out[q] = [json.loads(line)["path"] for line in r.stdout.splitlines() if line.strip()]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pith", default="target/release/pith")
    ap.add_argument("--models", default=os.environ.get("PITH_MODELS", str(Path.home() / ".cache/pith/models")))
    ap.add_argument("--photos", default="target/testdata/skimage")
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--max-delay", type=float, default=8.0, help="longest run before a kill, seconds")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--work", default=None, help="working folder (default: a temporary one)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    binary = str(Path(a.pith).resolve())
    work = Path(a.work or tempfile.mkdtemp(prefix="pith-crash-"))
    if work.exists() and a.work:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    corpus, store = work / "corpus", work / "store"
    make_corpus(corpus, a.files, Path(a.photos), rng)
    corpus = corpus.resolve()
    t0 = time.time()
    kills = {"ingest": 0, "watch": 0}
    bad = []
    for k in range(a.kills):
        mode = "watch" if k % 3 == 2 else "ingest"
        args = ["watch", str(corpus)] if mode == "watch" else ["ingest", str(corpus)]
        env = dict(os.environ, PITH_DATA=str(store), PITH_MODELS=a.models)
        proc = subprocess.Popen([binary, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        delay = rng.uniform(0.05, a.max_delay)
        deadline = time.time() + delay
        if mode == "watch":
            # Changes arrive while the watcher runs.
            time.sleep(min(delay, rng.uniform(0.5, 2.0)))
            mutate(corpus, rng, k)
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        finished = proc.poll() is not None
        if not finished:
            proc.send_signal(signal.SIGKILL)
            kills[mode] += 1
        proc.wait()
        ok, out = check(binary, store, a.models)
        if not ok:
            bad.append((k, mode, delay, out))
            print(f"kill {k} ({mode} after {delay:.2f}s): INCONSISTENT\n{out}", file=sys.stderr)
        if finished and mode == "ingest":
            mutate(corpus, rng, k)
        if (k + 1) % 10 == 0:
            print(f"{k + 1} runs, kills {kills}, inconsistent {len(bad)}, {time.time() - t0:.0f}s", file=sys.stderr)
    # Final: one uninterrupted ingest of the final corpus, compared with a fresh store.
    r = pith(["ingest", str(corpus)], binary, store, a.models)
    assert r.returncode == 0, r.stderr
    ref = work / "reference"
    r = pith(["ingest", str(corpus)], binary, ref, a.models)
    assert r.returncode == 0, r.stderr
    ok, out = check(binary, store, a.models)
    files_a, chunks_a = snapshot(store)
    files_b, chunks_b = snapshot(ref)
    res_a, res_b = results(binary, store, a.models, corpus), results(binary, ref, a.models, corpus)
    summary = {
        "runs": a.kills, "kills": kills, "total_kills": sum(kills.values()), "inconsistent_after_repair": len(bad),
        "final_consistent": ok, "files": len(files_a), "same_files": files_a == files_b, "same_chunks": chunks_a == chunks_b,
        "same_vector_results": res_a == res_b, "seconds": round(time.time() - t0, 1),
    }
    print(json.dumps(summary) if a.json else json.dumps(summary, indent=2))
    good = not bad and ok and files_a == files_b and chunks_a == chunks_b and res_a == res_b
    sys.exit(0 if good else 1)


if __name__ == "__main__":
    main()
