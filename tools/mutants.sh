#!/usr/bin/env bash
# make mutants: is every safety mechanism protected by a test that fails
# without it? Each tools/mutants/*.patch is a small hand-written mutant of
# the engine or of the pages it shows (its first line says what it breaks: a fence, a boundary, an
# audit entry, a bound, a state check, a constraint below the rules). This
# applies each, alone, to a copy of HEAD, builds it, runs the fast tiers
# (ctest -LE crash, stopping at the first failure) and prints which test
# killed it (one that fails again on its own: a flaky test is not taken for
# a killer) and which mutants survived.
#
#   tools/mutants.sh            every mutant
#   ONLY='0[1-3]*' tools/mutants.sh   the ones whose file names match
#   MUTANTS_DIR (default /tmp/lab-mutants): the copy and its build
#
# A mutant whose first line begins "equivalent:" is not run; the line says
# why no test can tell it from the engine. Exit 0 when every other mutant
# was killed; 1 when one survived, no longer applies, or the unmutated copy
# fails its own tests (then no verdict would mean anything).
set -uo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
work="${MUTANTS_DIR:-/tmp/lab-mutants}"
jobs="${JOBS:-$(nproc)}"
only="${ONLY:-*}"

rm -rf "$work"
mkdir -p "$work/src"
if ! git -C "$root" archive HEAD | tar -x -C "$work/src"; then
  echo "mutants: cannot copy HEAD of $root" >&2
  exit 1
fi
if ! cmake -S "$work/src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLAB_WERROR=OFF >"$work/cmake.log" 2>&1; then
  cat "$work/cmake.log" >&2
  echo "mutants: the copy of HEAD does not configure" >&2
  exit 1
fi
# The private PostgreSQL server the tests start (cmake/PgFixture.cmake):
# stopped after every run, since a run stopped at its first failure skips
# the fixture's own stop.
pg_state="$(grep -ho '/tmp/lab-pg-[0-9a-f]*' "$work/build/CTestTestfile.cmake" | head -1)"

# Builds and runs the fast tiers; the first failing test's name on stdout.
run() {
  local log="$1"
  if ! cmake --build "$work/build" -j "$jobs" >"$log.build" 2>&1; then
    echo "(does not build)"
    return 1
  fi
  tier "$log" --stop-on-failure || {
    # A kill counts only if its test fails again on its own: a flaky test
    # must not pass for a killer. Otherwise the whole tier runs and the
    # first failure that repeats is the killer.
    local first
    first="$(failed_tests "$log" | head -1)"
    if [ -n "$first" ] && ! tier "$log.again" -R "$(alone "$first")"; then
      echo "$first"
      return 1
    fi
    tier "$log.all" && return 0
    for t in $(failed_tests "$log.all"); do
      if ! tier "$log.again" -R "$(alone "$t")"; then
        echo "$t"
        return 1
      fi
    done
    return 0
  }
}

# The fast tiers with extra ctest arguments; the PostgreSQL server stopped after.
tier() {
  local log="$1"
  shift
  (cd "$work/build" && ctest -LE crash -j "$jobs" --timeout 600 "$@" >"$log" 2>&1)
  local rc=$?
  [ -n "$pg_state" ] && "$work/src/tools/pg_server.sh" stop "$pg_state" >/dev/null 2>&1
  return "$rc"
}

# The names of the tests a ctest log reports failed, in the order they ran.
# The ctest regex that selects test `name` alone: a parameterized test's
# ctest name goes on with "  # GetParam() = ...", which `name` leaves out
# (before this, such a killer "was not found" when run alone, passed, and
# its mutant was counted a survivor).
alone() {
  printf '^%s(  # .*)?$' "$1"
}

failed_tests() {
  grep -oE 'Test +#[0-9]+: [^ ]+ .*(Failed|Exception|Timeout)' "$1" |
    sed -E 's/Test +#[0-9]+: ([^ ]+).*/\1/'
}

echo "mutants: building and testing the unmutated copy of HEAD in $work"
if ! run "$work/unmutated.log" >/dev/null; then
  echo "mutants: the unmutated copy fails its tests ($work/unmutated.log)" >&2
  exit 1
fi

killed=0 survived=0 equivalent=0 broken=0
survivors=()
for patch in "$root"/tools/mutants/$only.patch; do
  name="$(basename "$patch" .patch)"
  what="$(head -1 "$patch")"
  if [[ "$what" == equivalent:* ]]; then
    printf '%-32s equivalent  %s\n' "$name" "${what#equivalent: }"
    equivalent=$((equivalent + 1))
    continue
  fi
  if ! (cd "$work/src" && git apply "$patch" 2>/dev/null); then
    printf '%-32s STALE       the patch no longer applies to HEAD\n' "$name"
    broken=$((broken + 1))
    continue
  fi
  if by="$(run "$work/$name.log")"; then
    printf '%-32s SURVIVED    %s\n' "$name" "${what#mutant: }"
    survived=$((survived + 1))
    survivors+=("$name")
  else
    printf '%-32s killed by   %s\n' "$name" "$by"
    killed=$((killed + 1))
  fi
  (cd "$work/src" && git apply -R "$patch")
done

total=$((killed + survived))
echo "mutants: $killed of $total killed, $survived survived, $equivalent equivalent (not run)," \
  "$broken stale; logs in $work"
[ "$survived" -eq 0 ] && [ "$broken" -eq 0 ]
