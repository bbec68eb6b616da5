#!/usr/bin/env bash
# A bridge that has memorised one chunk, for the test that one xRAG token
# can carry a whole text (tests/tests/it/xrag.rs): the shipped bridge
# fine-tuned on that chunk alone (scripts/train_xrag.py, 250 steps, about
# 3 minutes on one core), then copied out by scripts/ship_xrag.py.
#   scripts/make_xrag_memo.sh OUT_DIR
set -euo pipefail
out=${1:?usage: make_xrag_memo.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
minilm="${PITH_MODELS:-$HOME/.cache/pith/models}/minilm-l6-v2-int8"
cat > "$out/texts.json" <<'JSON'
["The lighthouse keeper of Saltmarsh Point wrote every evening in a green notebook: the wind, the ships that passed, and the colour of the sea at dusk. After forty years the notebooks filled a whole shelf of the small museum by the harbour."]
JSON
/usr/bin/python3 "$here/train_xrag.py" --out "$out/run" --texts "$out/texts.json" \
    --init-onnx "$here/../models/xrag/bridge.onnx" --cache "$out/cache" --minilm "$minilm" \
    --steps 250 --lr 1e-2 --warmup 5 --batch 1 --eval-n 0 --threads 1 --max-minutes 15 > "$out/train.log" 2>&1 \
    || { tail -20 "$out/train.log"; exit 1; }
/usr/bin/python3 "$here/ship_xrag.py" "$out/run" --dest "$out/shipped" --minilm "$minilm"
grep -o 'stage1 step 250: loss(avg10) [0-9.]*' "$out/train.log" || true
