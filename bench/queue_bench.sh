#!/usr/bin/env bash
# The real queue against a peer, in the same run (docs/benchmarks.md):
# lab's SqliteStore and PostgresStore driven by `lab bench`, and the
# plain SQLite queue loop from shared/bench/peers (sqlite_bench.cpp, built
# here from that folder, WAL + synchronous=FULL like ours). Repetitions are
# interleaved; each cell is the median of REPS. Not a test: it prints
# figures and the commands behind them.
#
#   bench/queue_bench.sh BUILD_DIR [N] [REPS]        (make bench-queue)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:?usage: queue_bench.sh BUILD_DIR [N] [REPS]}"
N="${2:-5000}"
REPS="${3:-3}"
lab="$build/src/cli/lab"
peer_src="$root/../shared/bench/peers/sqlite_bench.cpp"
peer="$build/peer_sqlite_bench"
if [ -f "$peer_src" ]; then
  [ -x "$peer" ] && [ "$peer" -nt "$peer_src" ] ||
    g++ -O2 -std=c++17 -pthread -o "$peer" "$peer_src" -lsqlite3
else
  echo "peer source $peer_src not found: measuring lab only" >&2
  peer=""
fi

# shellcheck source=bench/bench_env.sh
. "$root/bench/bench_env.sh" bench

results="$tmp/results"
: > "$results"
field() { sed -n "s/.*\"$1\": *\([0-9.]*\).*/\1/p"; }
record() {  # system mode consumers metric value
  echo "$1 $2 $3 $4 $5" >> "$results"
}
lab_run() {  # system consumers rep: one `lab bench`, every phase
  local sys="$1" c="$2" rep="$3" db
  case "$sys" in
    lab-sqlite) db="sqlite:$tmp/$c-$rep" ;;
    lab-postgres) db="$pg_url&schema=b_${c}_${rep}" ;;
  esac
  "$lab" bench --db "$db" --jobs "$N" --consumers "$c" --json "$tmp/out.json" >/dev/null
  [ "$c" = 1 ] && record "$sys" enqueue 0 rate "$(field enqueue_rate < "$tmp/out.json")"
  [ "$c" = 1 ] && record "$sys" drain 1 rate "$(field drain_rate < "$tmp/out.json")"
  record "$sys" e2e "$c" rate "$(field end-to-end_rate < "$tmp/out.json")"
}
peer_run() {  # consumers rep
  local c="$1" rep="$2" out
  if [ "$c" = 1 ]; then
    out=$("$peer" --db "$tmp/peer-enqueue-$rep.db" --sync FULL --mode enqueue --n "$N" --consumers 1)
    record peer-sqlite enqueue 0 rate "$(echo "$out" | field enqueue_rate)"
    record peer-sqlite drain 1 rate "$(echo "$out" | field drain_rate)"
  fi
  out=$("$peer" --db "$tmp/peer-e2e-$c-$rep.db" --sync FULL --mode e2e --n "$N" --consumers "$c")
  record peer-sqlite e2e "$c" rate "$(echo "$out" | field e2e_rate)"
}

for rep in $(seq 1 "$REPS"); do
  for c in 1 2 4; do
    lab_run lab-sqlite "$c" "$rep"
    lab_run lab-postgres "$c" "$rep"
    [ -n "$peer" ] && peer_run "$c" "$rep"
  done
  echo "rep $rep of $REPS done" >&2
done

median() {  # system mode consumers
  awk -v s="$1" -v m="$2" -v c="$3" '$1 == s && $2 == m && $3 == c { print $5 }' "$results" |
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else printf "%.0f\n", v[int((NR + 1) / 2)] }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == "-" || b == 0 || a == "-") print "-"; else printf "%.2f", a / b }'; }

echo "queue throughput, jobs/s, median of $REPS (N=$N, 32-byte payloads, no-op handler)"
echo "| measure | lab SQLite | lab PostgreSQL | peer SQLite loop | lab SQLite / peer |"
echo "|---|---|---|---|---|"
for row in "enqueue 0 enqueue-only (1 producer)" "drain 1 drain-only (1 consumer)" \
  "e2e 1 end-to-end, 1 consumer" "e2e 2 end-to-end, 2 consumers" "e2e 4 end-to-end, 4 consumers"; do
  set -- $row
  mode="$1" c="$2"; shift 2
  ls=$(median lab-sqlite "$mode" "$c"); lp=$(median lab-postgres "$mode" "$c")
  ps=$(median peer-sqlite "$mode" "$c")
  echo "| $* | $ls | $lp | $ps | $(ratio "$ls" "$ps") |"
done
echo "reproduce: bench/queue_bench.sh $build $N $REPS"
