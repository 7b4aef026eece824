#!/usr/bin/env bash
# Goal: nothing reads the wall clock, a global random generator or the
# environment, or sleeps, except the one file that implements each real
# interface (docs/architecture.md, "Determinism"). Method: grep the sources for the
# forbidden calls and allow them only in the named files. Seen to fail by
# running it with LAB_LINT_SELFTEST=1, which plants a violation.
set -uo pipefail
root="${1:-$(dirname "$0")/..}"
cd "$root" || exit 2

pattern='system_clock::now|steady_clock::now|high_resolution_clock::now|[^_a-zA-Z]rand\(|srand\(|random_device|sleep_for|sleep_until|[^_a-zA-Z]usleep\(|[^_a-zA-Z]sleep\(|getenv\(|[^_a-zA-Z]time\(NULL|[^_a-zA-Z]time\(nullptr'
# The one real implementation of each interface.
# (Tests find their private PostgreSQL server in one variable, read in one file.)
allowed='^(src/core/system_clock\.cc|src/store/testing/pg_env\.cc):'

files=$(git ls-files 'src/*.cc' 'src/*.h' 'failure_modes/*.cc' 'failure_modes/*.h' 2>/dev/null || find src failure_modes -name '*.cc' -o -name '*.h')
hits=$(grep -nE "$pattern" $files | grep -vE "$allowed" | grep -vE '^\S+:[0-9]+:\s*//')
if [ "${LAB_LINT_SELFTEST:-0}" = "1" ]; then
  hits="${hits}planted.cc:1: std::this_thread::sleep_for(1s);"
fi
if [ -n "$hits" ]; then
  echo "determinism lint: forbidden calls outside their one allowed file:"
  echo "$hits"
  exit 1
fi
echo "determinism lint: clean ($(echo "$files" | wc -w) files)"
