#!/usr/bin/env bash
# Goal: the lab CLI keeps its contract: exit 0 on success, 1 on failure, 2
# on usage errors with a clear message on stderr, --help everywhere.
# Method: run the built binary and check exit codes and output.
set -uo pipefail
LAB="$1"
failures=0
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# expect CODE PATTERN(stdout or stderr, grep -E) -- ARGS...
expect() {
  local want="$1" pattern="$2"; shift 3
  "$LAB" "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL: lab $* exited $got, want $want"; cat "$tmp/err"; failures=$((failures + 1)); return
  fi
  if ! grep -Eq -- "$pattern" "$tmp/out" "$tmp/err"; then
    echo "FAIL: lab $*: output lacks /$pattern/"; cat "$tmp/out" "$tmp/err"; failures=$((failures + 1))
  fi
}
# Usage errors must say so on stderr, not stdout.
expect_usage() {
  local pattern="$1"; shift 2
  expect 2 "$pattern" -- "$@"
  if ! grep -Eq -- "$pattern" "$tmp/err"; then
    echo "FAIL: lab $*: usage error not on stderr"; failures=$((failures + 1))
  fi
}

expect 0 "FM_001 +implemented +INV_001,INV_002,INV_004" -- list
expect 0 "FM_016 +planned" -- list
expect 0 "Usage" -- --help
expect 0 "--mode" -- run --help
expect 0 "Usage" -- list --help
expect 0 "FM_001 baseline: reproduced" -- run FM_001 --mode baseline
expect 0 "INV_001 violated" -- run FM_001 --mode baseline
expect 0 "FM_001 guarded: held" -- run FM_001 --mode guarded
expect 0 "INV_004 holds" -- run FM_001 --mode guarded --store sqlite:
expect 0 "FM_001 guarded: held" -- run fm_001
expect 0 "FM_001 +reproduced +held" -- run --all --store memory:
expect 0 "every one reproduces" -- run --all --store sqlite:
expect 0 "reproduced" -- run FM_001 --mode baseline --store "sqlite:$tmp/keep"
test -f "$tmp/keep/FM_001-baseline.db" || { echo "FAIL: sqlite:DIR kept no database"; failures=$((failures + 1)); }
# A second run into the same directory must refuse rather than overwrite.
expect 1 "already exists" -- run FM_001 --mode baseline --store "sqlite:$tmp/keep"

expect_usage "subcommand" --
expect_usage "bogus" -- bogus
expect_usage "unknown failure mode 'FM_999'" -- run FM_999
expect_usage "planned but has no scenario" -- run FM_005
expect_usage "mode" -- run FM_001 --mode sideways
expect_usage "unknown store URL 'redis://x'" -- run FM_001 --store redis://x
expect_usage "names no file" -- run FM_001 --store sqlite://
expect_usage "supports memory: and sqlite:" -- run FM_001 --store postgresql://u@h/db
expect_usage "--nope" -- run FM_001 --nope
expect_usage "exactly one of FM or --all" -- run
expect_usage "exactly one of FM or --all" -- run FM_001 --all

# The simulator commands.
expect 0 "no violation found" -- explore --seeds 200
expect 0 "summary: 200 seeds" -- explore --seeds 200 --jobs 20 --workers 4 --no-swarm
expect 1 "VIOLATION at seed" -- explore --seeds 2000 --guards -commit_boundary
expect 1 "replay: lab replay --seed" -- explore --seeds 2000 --guards -reaper
seed="$(sed -n 's/^VIOLATION at seed \([0-9]*\).*/\1/p' "$tmp/out")"
expect 1 "violated: .*INV_006" -- replay --seed "$seed" --guards -reaper
expect 0 "wrote $tmp/shrunk.json" -- shrink --seed "$seed" --guards -reaper --out "$tmp/shrunk.json"
expect 1 "INV_006" -- replay --schedule "$tmp/shrunk.json" --guards -reaper --trace "$tmp/t.jsonl"
test -s "$tmp/t.jsonl" || { echo "FAIL: replay --trace wrote nothing"; failures=$((failures + 1)); }
expect 0 "every invariant holds" -- replay --schedule "$tmp/shrunk.json"
expect 1 "nothing to shrink" -- shrink --seed 3 --out "$tmp/none.json"
expect_usage "exactly one of --seeds N or --time" -- explore
expect_usage "exactly one of --seed S or --schedule" -- replay
expect_usage "unknown guard 'bogus'" -- explore --seeds 1 --guards -bogus
expect_usage "store" -- explore --seeds 1 --store redis:
expect_usage "--out" -- shrink --seed 1
expect_usage "schedule file" -- replay --schedule "$tmp/t.jsonl"
expect 1 "cannot read schedule file" -- replay --schedule "$tmp/missing.json"

if [ "$failures" -ne 0 ]; then echo "$failures CLI check(s) failed"; exit 1; fi
echo "all CLI checks passed"
