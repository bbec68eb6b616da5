#!/usr/bin/env bash
# The hardening issue's load numbers, over an msmarco store:
#  1. 16 connections for 60 s (p99, errors);
#  2. 4 connections for 60 s while the watcher ingests 2,000 new text files
#     (errors, 503s counted among them);
#  3. RSS of the server sampled every 30 s over a 10-minute run at 4
#     connections (flat = max within 10 % of the first sample after warm-up).
# Usage: scripts/load_hardening.sh [STORE] [RSS_MINUTES]
set -euo pipefail
STORE="${1:-target/bench-msmarco}"
MINUTES="${2:-10}"
PITH="${PITH:-./target/release/pith}"
PORT="${PORT:-7791}"
command -v wrk >/dev/null || { apt-get update -q && apt-get install -y -q wrk; }
export PITH_QUERIES="${PITH_QUERIES:-target/msmarco-queries.txt}"
[ -f "$PITH_QUERIES" ] || python3 -c "import json; [print(json.loads(l)['text']) for l in open('../shared/data/beir/msmarco/queries.jsonl')]" > "$PITH_QUERIES"
WATCH="$(mktemp -d)"
"$PITH" --data "$STORE" serve --addr "127.0.0.1:$PORT" --watch "$WATCH" >/dev/null 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$WATCH"' EXIT
for _ in $(seq 1 100); do curl -sf "127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
curl -sf "127.0.0.1:$PORT/api/search?q=warm+up" >/dev/null
wrk -t2 -c4 -d5s -s scripts/wrk_queries.lua "http://127.0.0.1:$PORT" >/dev/null
echo -n "idle, 16 connections, 60 s: "
wrk -t2 -c16 -d60s -s scripts/wrk_queries.lua "http://127.0.0.1:$PORT" | grep JSON
python3 - "$WATCH" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
for i, line in enumerate(open("../shared/data/beir/msmarco/corpus.jsonl")):
    if i >= 2000:
        break
    d = json.loads(line)
    (out / f"p{i:04d}.txt").write_text(f"{d.get('title', '')}\n{d['text']}\n")
PY
echo -n "4 connections, 60 s, during the ingest of 2,000 files: "
wrk -t2 -c4 -d60s -s scripts/wrk_queries.lua "http://127.0.0.1:$PORT" | grep JSON
echo "files indexed by then: $(curl -s "127.0.0.1:$PORT/api/status" | python3 -c "import json,sys; print(json.load(sys.stdin)['counts']['files'])")"
[ "$MINUTES" -gt 0 ] || exit 0
echo "RSS over $MINUTES minutes at 4 connections (MB, every 30 s):"
( for _ in $(seq 1 $((MINUTES * 2))); do sleep 30; awk '/VmRSS/ {printf "%.0f ", $2/1024}' /proc/$PID/status; done; echo ) &
SAMPLER=$!
wrk -t2 -c4 -d"${MINUTES}m" -s scripts/wrk_queries.lua "http://127.0.0.1:$PORT" | grep JSON
wait $SAMPLER
