#!/usr/bin/env bash
# The real queue against a peer, in the same run (docs/benchmarks.md):
# lab's SqliteStore and PostgresStore driven by bench/queue_bench, and the
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
bench="$build/queue_bench"
peer_src="$root/../shared/bench/peers/sqlite_bench.cpp"
peer="$build/peer_sqlite_bench"
if [ -f "$peer_src" ]; then
  [ -x "$peer" ] && [ "$peer" -nt "$peer_src" ] ||
    g++ -O2 -std=c++17 -pthread -o "$peer" "$peer_src" -lsqlite3
else
  echo "peer source $peer_src not found: measuring lab only" >&2
  peer=""
fi

tmp="$(mktemp -d /tmp/lab-bench-XXXXXX)"
chmod 755 "$tmp"
pg_state="$(mktemp -d /tmp/lab-bench-pg-XXXXXX)"
cleanup() { "$root/tools/pg_server.sh" stop "$pg_state" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
"$root/tools/pg_server.sh" start "$pg_state" >/dev/null
pg_url="$(cat "$pg_state/url")"

results="$tmp/results"
: > "$results"
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
record() {  # system mode consumers metric value
  echo "$1 $2 $3 $4 $5" >> "$results"
}
run() {  # system mode consumers rep
  local sys="$1" mode="$2" c="$3" rep="$4" out
  case "$sys" in
    lab-sqlite) out=$("$bench" --db "sqlite:$tmp/$mode-$c-$rep.db" --mode "$mode" --n "$N" --consumers "$c") ;;
    lab-postgres) out=$("$bench" --db "$pg_url&schema=b_${mode}_${c}_${rep}" --mode "$mode" --n "$N" --consumers "$c") ;;
    peer-sqlite) out=$("$peer" --db "$tmp/peer-$mode-$c-$rep.db" --sync FULL --mode "$mode" --n "$N" --consumers "$c") ;;
  esac
  if [ "$mode" = enqueue ]; then
    record "$sys" enqueue 0 rate "$(echo "$out" | field enqueue_rate)"
    record "$sys" drain "$c" rate "$(echo "$out" | field drain_rate)"
  else
    record "$sys" e2e "$c" rate "$(echo "$out" | field e2e_rate)"
  fi
}

systems="lab-sqlite lab-postgres${peer:+ peer-sqlite}"
for rep in $(seq 1 "$REPS"); do
  for sys in $systems; do
    run "$sys" enqueue 1 "$rep"
    for c in 1 2 4; do run "$sys" e2e "$c" "$rep"; done
  done
  echo "rep $rep of $REPS done" >&2
done

median() {  # system mode consumers
  awk -v s="$1" -v m="$2" -v c="$3" '$1 == s && $2 == m && $3 == c { print $5 }' "$results" |
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else print v[int((NR + 1) / 2)] }'
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
