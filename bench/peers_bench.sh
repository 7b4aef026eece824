#!/usr/bin/env bash
# lab side by side with the queues people use, in one run (docs/benchmarks.md,
# "Side by side with the peers"): the peers' own harness
# (../shared/bench/peers: beanstalkd, BullMQ/Redis, pg-boss, graphile-worker,
# plain SKIP LOCKED SQL, the plain SQLite loop, plainjob, liteque) runs its
# workload, then `lab bench` runs the same workload (same N, same consumer
# counts, same repetitions) on SQLite FULL, SQLite NORMAL and PostgreSQL,
# plus lab's batched and many-producer workloads. bench/peers_report.py
# then writes the table, the plot and the commands into docs/benchmarks.md.
# Not a test: it prints figures and the commands behind them.
#
#   bench/peers_bench.sh BUILD_DIR                     (make bench-peers)
#
# Environment, with the peers harness's own names and defaults: N (20000),
# N_SLOW (5000, for pg-boss and graphile-worker), REPS (3), CONSUMERS
# (1,2,4), CONFIGS (the peer configs; see below). LAB_REPS (REPS) sets
# lab's repetitions alone; PEERS_RESULTS=DIR takes the peers' figures from
# an earlier run's results folder instead of running them (then the two
# sides are not one run: the report says which folder). DOCS=0 leaves the
# docs alone (the report is still written under BUILD_DIR/peers/report).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:?usage: peers_bench.sh BUILD_DIR}" && pwd)"
export N="${N:-20000}" N_SLOW="${N_SLOW:-5000}" REPS="${REPS:-3}" CONSUMERS="${CONSUMERS:-1,2,4}"
# Every peer that acknowledges after an fsync, and the relaxed settings
# people run them with (beanstalkd in memory, Redis without AOF, SQLite
# NORMAL, synchronous_commit=off), so each durability class has a peer.
export CONFIGS="${CONFIGS:-beanstalkd-fsync,beanstalkd-mem,bullmq-aof-always,bullmq-default,pgraw-sync,pgraw-async,pgboss-sync,graphile-sync,sqlite-full,sqlite-normal,plainjob-full-busy600s,plainjob,liteque-full,liteque}"
lab="$build/src/cli/lab"
src="$root/../shared/bench/peers"
work="$build/peers"
t0=$(date +%s)

[ -f "$src/run_all.sh" ] || { echo "peers harness not found at $src" >&2; exit 1; }
[ -x "$lab" ] || { echo "$lab not built: run make build first" >&2; exit 1; }
if ! command -v gnuplot >/dev/null; then
  echo "installing: gnuplot-nox" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox >/dev/null
fi

# The harness writes next to itself (node_modules, build, results), and its
# folder is read-only: run a writable copy of its files.
mkdir -p "$work"
find "$src" -maxdepth 1 -type f -exec cp -f {} "$work/" \;
chmod -R u+w "$work"
chmod +x "$work/run_all.sh" "$work/bench.py"

peers_rc=0
if [ -n "${PEERS_RESULTS:-}" ]; then
  peers_dir="$(readlink -f "$PEERS_RESULTS")"
  echo "== peers: from $peers_dir (not run now)" >&2
else
  echo "== peers: N=$N N_SLOW=$N_SLOW REPS=$REPS CONSUMERS=$CONSUMERS" >&2
  (cd "$work" && ./run_all.sh) || peers_rc=$?
  peers_dir="$(readlink -f "$work/results/latest")"
fi
[ -f "$peers_dir/raw.jsonl" ] || { echo "no peers' results in $peers_dir" >&2; exit 1; }

# shellcheck source=bench/bench_env.sh
. "$root/bench/bench_env.sh" peers

out="$work/report"
rm -rf "$out"
mkdir -p "$out/lab"
manifest="$out/lab/manifest.jsonl"
: > "$manifest"
lab_run() {  # config workload consumers rep extra-args...
  local config="$1" workload="$2" c="$3" rep="$4" db
  shift 4
  case "$config" in
    lab-sqlite-full) db="sqlite:$tmp/$workload-$c-$rep" ;;
    lab-sqlite-normal) db="sqlite:$tmp/$workload-$c-$rep-normal?synchronous=normal" ;;
    lab-postgres) db="$pg_url" ;;
  esac
  local file="$out/lab/$config-$workload-c$c-r$rep.json"
  local cmd=("$lab" bench --db "$db" --jobs "$N" --consumers "$c" --json "$file" "$@")
  if "${cmd[@]}" > "$file.log" 2>&1; then
    echo "   $config $workload c=$c rep $rep: $(grep -E '^end-to-end' "$file.log" | awk '{print $4}') jobs/s end to end" >&2
  else
    echo "   $config $workload c=$c rep $rep: FAILED ($(tail -1 "$file.log"))" >&2
    rm -f "$file"
  fi
  printf '{"config": "%s", "workload": "%s", "consumers": %s, "rep": %s, "file": "%s", "command": "lab bench --db URL --jobs %s --consumers %s%s"}\n' \
    "$config" "$workload" "$c" "$rep" "$file" "$N" "$c" "$([ $# -gt 0 ] && printf ' %s' "$@")" >> "$manifest"
}

echo "== lab: the same workload, then its own" >&2
IFS=, read -ra consumers <<< "$CONSUMERS"
for rep in $(seq 1 "${LAB_REPS:-$REPS}"); do
  for c in "${consumers[@]}"; do
    for config in lab-sqlite-full lab-sqlite-normal lab-postgres; do
      lab_run "$config" peers "$c" "$rep"
    done
  done
  # (b) batched: 100 jobs an enqueue call, consumers claiming 100 at a time;
  # (c) many producers: 16, each awaiting its own enqueue.
  for config in lab-sqlite-full lab-postgres; do
    lab_run "$config" batched 2 "$rep" --batch 100 --claim-batch 100
    lab_run "$config" producers16 2 "$rep" --producers 16
  done
done

python3 "$root/bench/peers_report.py" --peers "$peers_dir" --lab "$manifest" --out "$out" \
  --docs "$([ "${DOCS:-1}" = 0 ] && echo "" || echo "$root/docs")" \
  --lab-reps "${LAB_REPS:-$REPS}" \
  --command "make bench-peers N=$N N_SLOW=$N_SLOW REPS=$REPS LAB_REPS=${LAB_REPS:-$REPS} CONSUMERS=$CONSUMERS CONFIGS=$CONFIGS${PEERS_RESULTS:+ PEERS_RESULTS=$PEERS_RESULTS}"
echo "peers harness exit status $peers_rc; bench-peers took $(( $(date +%s) - t0 ))s" >&2
