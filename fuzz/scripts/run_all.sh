#!/usr/bin/env bash
# Run every fuzz target in turn (never two at once), SECS seconds each, at the
# lowest CPU priority. Logs go to fuzz/target/logs/<target>.log (git-ignored).
#
# Usage: fuzz/scripts/run_all.sh [SECS] [TARGET...]
#   NO_BUILD=1  run the already-built binaries (copied to target/snap/ first)
#               with exactly the arguments `cargo fuzz run` passes, instead of
#               `cargo fuzz run`, which rebuilds whenever pith's sources
#               change (18+ minutes on a busy 2-core machine).
set -u
cd "$(dirname "$0")/.."
SECS=${1:-600}
shift || true
TARGETS=${*:-detect text_decode image chunker snippet query}
export RUSTC_BOOTSTRAP=1 CARGO_BUILD_JOBS=1 CARGO_TARGET_DIR="$PWD/target"
BIN="$PWD/target/x86_64-unknown-linux-gnu/release"
mkdir -p target/logs target/snap
for t in $TARGETS; do
  extra=(-max_len=65536)
  if [ "$t" = image ]; then extra=(-max_len=1048576 -timeout=10); fi
  echo "== $t ($SECS s) $(date -u +%H:%M:%S)"
  mkdir -p "artifacts/$t" "corpus/$t"
  if [ "${NO_BUILD:-0}" = 1 ]; then
    cp "$BIN/$t" "target/snap/$t"
    nice -n 19 "target/snap/$t" -artifact_prefix="$PWD/artifacts/$t/" -max_total_time="$SECS" -rss_limit_mb=2048 \
      "${extra[@]}" "$PWD/corpus/$t" >"target/logs/$t.log" 2>&1
  else
    nice -n 19 cargo fuzz run "$t" -j 1 -- -max_total_time="$SECS" -rss_limit_mb=2048 "${extra[@]}" \
      >"target/logs/$t.log" 2>&1
  fi
  echo "exit $? ; $(grep -E '^(#[0-9]+\s+DONE|Done [0-9]+ runs)' "target/logs/$t.log" | tail -2 | tr '\n' ' ')"
done
