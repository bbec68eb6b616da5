#!/usr/bin/env bash
# Load test of /api/search with wrk over an msmarco store, idle and during an
# image ingest. Usage: scripts/load_test.sh [STORE] [IMAGES_DIR]
#   STORE defaults to target/bench-msmarco (made by `make bench` / `pith eval beir --store`).
set -euo pipefail
STORE="${1:-target/bench-msmarco}"
IMAGES="${2:-../shared/data/coco-mini/images}"
PITH="${PITH:-./target/release/pith}"
PORT="${PORT:-7790}"
command -v wrk >/dev/null || { apt-get update -q && apt-get install -y -q wrk; }
export PITH_QUERIES="${PITH_QUERIES:-target/msmarco-queries.txt}"
[ -f "$PITH_QUERIES" ] || python3 -c "import json; [print(json.loads(l)['text']) for l in open('../shared/data/beir/msmarco/queries.jsonl')]" > "$PITH_QUERIES"
WATCH="$(mktemp -d)"
"$PITH" --data "$STORE" serve --addr "127.0.0.1:$PORT" --watch "$WATCH" >/dev/null 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$WATCH"' EXIT
for _ in $(seq 1 100); do curl -sf "127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
curl -sf "127.0.0.1:$PORT/api/search?q=warm+up" >/dev/null
for c in 2 16; do
  echo "idle, $c connections:"
  wrk -t2 -c$c -d15s -s scripts/wrk_queries.lua "http://127.0.0.1:$PORT" | grep JSON
done
# Same load while the watcher ingests images (copied 3 times under new names).
for n in 1 2 3; do for f in "$IMAGES"/*; do cp "$f" "$WATCH/$n-$(basename "$f")"; done; done
echo "during ingest of $(ls "$WATCH" | wc -l) images, 2 connections:"
wrk -t2 -c2 -d15s -s scripts/wrk_queries.lua "http://127.0.0.1:$PORT" | grep JSON
curl -s "127.0.0.1:$PORT/api/status" | python3 -c "import json,sys; s=json.load(sys.stdin); print('images indexed so far:', s['counts']['image_items'])"
