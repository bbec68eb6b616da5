#!/usr/bin/env bash
# Run schemathesis (PyPI) against a real `pith serve` on a small store built
# from the test photos and a few notes, with every check. Prints the summary;
# exits non-zero on any failure (a 5xx, a schema violation, ...).
#
#   scripts/schemathesis.sh [PITH_BINARY] [MAX_EXAMPLES]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/pith}
N=${2:-100}
python3 -c "import schemathesis" 2>/dev/null || python3 -m pip install -q --disable-pip-version-check schemathesis==4.32.5
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/files"
cp target/testdata/skimage/{chelsea.png,coffee.png,rocket.jpg} "$work/files/"
printf '# Passport\nRenew the passport before the Lisbon trip.\n' > "$work/files/note.md"
printf '<html><head><title>Caf\xc3\xa9&nbsp;menu</title></head><body>Espresso&nbsp;costs &euro;2.</body></html>' > "$work/files/menu.html"
"$BIN" --data "$work/store" ingest "$work/files" >/dev/null
port=$((20000 + RANDOM % 20000))
"$BIN" --data "$work/store" serve --addr 127.0.0.1:$port --watch "$work/files" > "$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
st run "http://127.0.0.1:$port/api/openapi.json" --checks all --max-examples "$N" --seed 1 --workers 2 \
  --exclude-checks unsupported_method,positive_data_acceptance
