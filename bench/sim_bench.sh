#!/usr/bin/env bash
# Simulator throughput: simulated events/s and seeds/s for the 20-job,
# 4-worker swarm scenario (faults drawn per seed), on MemoryStore and on
# SqliteStore. Prints each command and its summary line. Not a test: no
# thresholds, just figures for docs/benchmarks.md.
set -euo pipefail
LAB="${1:-./build/src/cli/lab}"
run() {
  echo "\$ lab $*"
  "$LAB" "$@" | grep '^summary:'
}
run explore --seeds 20000 --jobs 20 --workers 4
run explore --seeds 20000 --jobs 20 --workers 4 --seed-start 20000
run explore --seeds 100 --jobs 20 --workers 4 --store sqlite:
