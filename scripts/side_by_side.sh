#!/usr/bin/env bash
# Ingest speed, pith against the Python reference on the same files and threads,
# back to back in one run. Usage: scripts/side_by_side.sh [N_PASSAGES]
set -euo pipefail
N="${1:-1000}"
DATA="${DATA:-../shared/data}"
PITH="${PITH:-./target/release/pith}"
TXT="$(mktemp -d)"
trap 'rm -rf "$TXT"' EXIT
python3 - "$DATA/beir/msmarco/corpus.jsonl" "$TXT" "$N" <<'PY'
import json, sys
src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i, line in enumerate(open(src)):
    if i >= n:
        break
    d = json.loads(line)
    open(f"{out}/{d['_id']}.txt", "w").write(d["text"])
PY
echo "== python reference (onnxruntime, 2 intra-op threads)"
python3 scripts/reference_ingest_speed.py --beir "$DATA/beir/msmarco" --images "$DATA/coco-mini/images" --max-passages "$N" --image-passes 1 --json
echo "== pith bench ingest: $N msmarco passages as text files"
"$PITH" --threads 2 bench ingest "$TXT" --json
echo "== pith bench ingest: coco-mini images"
"$PITH" --threads 2 bench ingest "$DATA/coco-mini/images" --json
