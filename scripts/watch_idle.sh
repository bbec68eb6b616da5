#!/usr/bin/env bash
# Watch with the store inside the watched folder, hidden files created while
# it runs: how many hidden or store paths get indexed (want 0), and the
# server's CPU use once settled (want < 1%).
#
#   scripts/watch_idle.sh [PITH_BINARY] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-target/release/pith}")
SECS=${2:-30}
root=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$root"' EXIT
mkdir -p "$root/docs"
for i in $(seq 1 50); do echo "Note $i: the bakery opens at seven, bring a secret recipe." > "$root/docs/note$i.txt"; done
cp target/testdata/skimage/{chelsea.png,coffee.png} "$root/"
port=$((20000 + RANDOM % 20000))
"$BIN" --data "$root/pith-data" serve --addr 127.0.0.1:$port --watch "$root" > "$root.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/healthz" | grep -q '"files":52' && break; sleep 0.2; done
echo "API_SECRET=hunter2 secret" > "$root/.env"
mkdir -p "$root/.git" && echo "secret commit" > "$root/.git/COMMIT_EDITMSG"
echo "another secret note" > "$root/docs/.hidden.txt"
sleep 5
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks); sleep "$SECS"; t1=$(ticks)
cpu=$(python3 -c "print(f'{100 * ($t1 - $t0) / $hz / $SECS:.2f}')")
bad=$(curl -s "http://127.0.0.1:$port/api/search?q=secret&k=200" | python3 -c "
import json, sys
hits = json.load(sys.stdin)['results']
print(sum(1 for h in hits if '/.' in h['path'] or '/pith-data/' in h['path']))")
files=$(curl -s "http://127.0.0.1:$port/api/status" | python3 -c "import json,sys; print(json.load(sys.stdin)['counts']['files'])")
own_errors=$(curl -s "http://127.0.0.1:$port/api/status" | python3 -c "import json,sys; print(sum('pith-data' in e['path'] for e in json.load(sys.stdin)['errors']))")
echo "{\"files_indexed\": $files, \"hidden_or_store_paths_in_results\": $bad, \"store_paths_in_errors\": $own_errors, \"idle_cpu_percent\": $cpu, \"seconds\": $SECS}"
