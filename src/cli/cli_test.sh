#!/usr/bin/env bash
# Goal: the lab CLI keeps its contract: exit 0 on success, 1 on failure, 2
# on usage errors with a clear message on stderr, --help everywhere.
# Method: run the built binary and check exit codes and output.
set -uo pipefail
LAB="$1"
failures=0
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# alive PID: the process exists and is not a zombie (an orphan killed here
# may wait a while for its new parent to reap it).
alive() { [ -r "/proc/$1/stat" ] && ! grep -q ') Z' "/proc/$1/stat"; }

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
expect 0 "FM_015 +implemented" -- list
expect 0 "^\| \[FM_001\]" -- list --markdown
expect 0 "Usage" -- --help
expect 0 "--mode" -- run --help
expect 0 "Usage" -- list --help
expect 0 "FM_001 baseline: reproduced" -- run FM_001 --mode baseline
expect 0 "INV_001 violated" -- run FM_001 --mode baseline
expect 0 "FM_001 guarded: held" -- run FM_001 --mode guarded
expect 0 "INV_004 holds" -- run FM_001 --mode guarded --store sqlite:
expect 0 "FM_001 guarded: held" -- run fm_001
expect 0 "^recovered +no: not drained 90s after the brownout +yes: the backlog drained" -- run FM_005 --store memory:
expect 0 "^figures +baseline +guarded$" -- run FM_005 --store memory:
expect 0 "^goodput, 0:10-1:00 +0.7/s +8.0/s" -- run FM_012 --store memory:
expect 0 "^admission: 11 arrival\\(s\\) refused at the door \\(depth limit 2\\)" -- replay --seed 3
# A failure mode's page and the catalogue's: each mode's verdict per
# invariant and its timeline; an index linking every failure mode's page.
expect 0 "^report: $tmp/fm001.html" -- run FM_001 --store memory: --html "$tmp/fm001.html"
if ! grep -q '<section class="run" id="baseline">' "$tmp/fm001.html" ||
  ! grep -q '<td>INV_001</td><td class="bad">violated</td>' "$tmp/fm001.html"; then
  echo "FAIL: run --html: no baseline section or verdict"; failures=$((failures + 1))
fi
expect 0 "^report: $tmp/report/index.html" -- run --all --store memory: --report "$tmp/report"
grep -q '<a href="FM_016.html">FM_016</a>' "$tmp/report/index.html" && [ -s "$tmp/report/FM_016.html" ] ||
  { echo "FAIL: run --all --report: no FM_016 page linked"; failures=$((failures + 1)); }
expect_usage "--report DIR goes with --all" -- run FM_001 --report "$tmp/x"
# A run as one self-contained page: the violation, tied to its job's events.
expect 1 "^report: $tmp/seed-61.html" -- replay --seed 61 --external-keys --guards -stable_key \
  --html "$tmp/seed-61.html"
if ! grep -q '<li id="run-v0" data-job="[0-9]*"><b>INV_001</b>' "$tmp/seed-61.html" ||
  grep -Eq '(src|href)="https?:' "$tmp/seed-61.html"; then
  echo "FAIL: replay --html: no INV_001 entry, or the page fetches something"; failures=$((failures + 1))
fi
expect 0 "^load: .* executions a job accepted" -- replay --seed 3
expect 0 "FM_001 +commit_boundary +reproduced: INV_001,INV_002,INV_004 +held" -- run --all --store memory:
expect 0 "each one reproduced with its guard off" -- run --all --store sqlite:
expect 0 "reproduced" -- run FM_001 --mode baseline --store "sqlite:$tmp/keep"
test -f "$tmp/keep/FM_001-baseline.db" || { echo "FAIL: sqlite:DIR kept no database"; failures=$((failures + 1)); }
# A second run into the same directory must refuse rather than overwrite.
expect 1 "already exists" -- run FM_001 --mode baseline --store "sqlite:$tmp/keep"

expect_usage "subcommand" --
expect_usage "bogus" -- bogus
expect_usage "unknown failure mode 'FM_999'" -- run FM_999
expect_usage "mode" -- run FM_001 --mode sideways
expect_usage "unknown store URL 'redis://x'" -- run FM_001 --store redis://x
expect_usage "names no file" -- run FM_001 --store sqlite://
expect 1 "cannot connect to PostgreSQL" -- run FM_001 --store postgresql://u@127.0.0.1:1/db
expect_usage "--nope" -- run FM_001 --nope
# lab bench: a small run completes and verifies its jobs; bad input is a usage error.
expect 0 "verified: 125 jobs SUCCEEDED, each with exactly one effect" -- bench --jobs 50 --consumers 2 --batch 5
expect_usage "private to the handle" -- bench --db memory:
expect_usage "--batch" -- bench --batch 0
# The batched and split paths, each on a handle of its own or one shared group.
expect 0 "verified: 25 jobs SUCCEEDED" -- bench --jobs 10 --consumers 2 --claim-batch 3 --db 'sqlite:?synchronous=normal'
expect 0 "verified: 25 jobs SUCCEEDED" -- bench --jobs 10 --consumers 2 --split-steps --no-group-commit
expect 0 "synchronous=NORMAL: acknowledged before its sync" -- bench --jobs 1 --db 'sqlite:?synchronous=normal'
expect_usage "--claim-batch" -- bench --claim-batch 0
expect_usage "only ?synchronous=full|extra|normal" -- bench --db 'sqlite:?synchronous=off'
expect_usage "excludes" -- bench --group-commit --no-group-commit
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
# The file records the flags it was shrunk with: a bare replay reproduces the
# failure; a flag on the command line overrides the file's, and says so.
expect 1 "INV_006" -- replay --schedule "$tmp/shrunk.json"
expect 0 "note: --guards all overrides the schedule file's -reaper" -- replay --schedule "$tmp/shrunk.json" --guards all
expect 0 "every invariant holds" -- replay --schedule "$tmp/shrunk.json" --guards all
# A hand-edited schedule that would test nothing is refused, never run.
sed 's/"lease_ms": [0-9]*/"lease_ms": 9223372036854775000/' "$tmp/shrunk.json" >"$tmp/bad.json"
expect_usage "lease_ms is 9223372036854775000; it must be between" -- replay --schedule "$tmp/bad.json"
# Storage faults: every store error handled, a guard's absence still found.
expect 0 "handles reopened" -- explore --seeds 200 --store-faults
expect 1 "--store-faults --out seed-" -- explore --seeds 2000 --store-faults --guards -fencing
# Numbers are decimal and in range here too.
expect_usage "--seeds '0x10': not a number" -- explore --seeds 0x10
expect_usage "--jobs '0'" -- explore --seeds 1 --jobs 0
expect_usage "--time '5parsecs'" -- explore --time 5parsecs
# Stopped by a signal, explore still prints its summary and where to resume.
"$LAB" explore --time 1h >"$tmp/explore.out" 2>"$tmp/explore.err" &
explorer=$!
for _ in $(seq 600); do grep -q "Ctrl-C stops" "$tmp/explore.err" 2>/dev/null && break; sleep 0.1; done
sleep 0.3
kill -INT "$explorer"
wait "$explorer"
code=$?
if [ "$code" -ne 130 ] || ! grep -q "resume with --seed-start [0-9]" "$tmp/explore.out" ||
   ! grep -q "^summary: " "$tmp/explore.out"; then
  echo "FAIL: explore interrupted: exit $code"; cat "$tmp/explore.out"; failures=$((failures + 1))
fi
expect 1 "nothing to shrink" -- shrink --seed 3 --out "$tmp/none.json"
expect_usage "exactly one of --seeds N or --time" -- explore
expect_usage "exactly one of --seed S or --schedule" -- replay
expect_usage "unknown guard 'bogus'" -- explore --seeds 1 --guards -bogus
expect_usage "store" -- explore --seeds 1 --store redis:
expect_usage "--out" -- shrink --seed 1
expect_usage "schedule file" -- replay --schedule "$tmp/t.jsonl"
expect 1 "cannot read schedule file" -- replay --schedule "$tmp/missing.json"

# Operating a real queue.
db="sqlite:$tmp/ops.db"
expect 0 "^1$" -- queue enqueue --db "$db" --key order-1 '{"amount": 42}'
expect 0 "^1$" -- queue enqueue --db "$db" --key order-1 'other'
expect 0 "already exists for key 'order-1'" -- queue enqueue --db "$db" --key order-1 'other'
echo "from stdin" | "$LAB" queue enqueue --db "$db" --queue mail - >/dev/null
expect 0 "payload \\(11 bytes\\): from stdin\\\\x0a" -- queue inspect 2 --db "$db"
expect 0 "enqueue +\\(new\\) -> PENDING" -- queue inspect 1 --db "$db"
expect 0 '"state": "PENDING"' -- queue inspect 1 --db "$db" --json
expect 0 "mail +PENDING +1" -- queue stats --db "$db"
expect 0 '"PENDING": 1' -- queue stats --db "$db" --json
expect 0 "dead-letter queue is empty" -- queue dlq list --db "$db"
expect 1 "no job with id 99" -- queue inspect 99 --db "$db"
expect 1 "only DEAD jobs can be redriven" -- queue dlq redrive --job 1 --db "$db"
expect 1 "cannot connect to PostgreSQL" -- queue stats --db "postgresql://u@/db?host=$tmp/none"
expect_usage "unknown store URL 'redis://x'" -- queue stats --db redis://x
expect_usage "give a PAYLOAD" -- queue enqueue --db "$db"
expect_usage "run-at 'soon'" -- queue enqueue --db "$db" --run-at soon x
expect_usage "max-attempts" -- queue enqueue --db "$db" --max-attempts 0 x
expect_usage "exactly one of --job ID or --all" -- queue dlq redrive --db "$db"
expect 0 "mail +PENDING +1" -- queue stats --db "$db"  # Nothing changed by the refusals.

# Working the queue: the command gets the payload on stdin; exit 0 commits.
expect_usage "memory: store lives in one process" -- queue work --db memory:
expect_usage "--lease '5x'" -- queue work --db "$db" --lease 5x
expect_usage "concurrency" -- queue work --db "$db" --concurrency 0
expect_usage "the share ends with %" -- queue work --db "$db" --retry-budget 20,10,10s
expect_usage "three parts" -- queue work --db "$db" --retry-budget 20%,10
expect_usage "floor" -- queue work --db "$db" --retry-budget 20%,0,10s
expect_usage "window" -- queue work --db "$db" --retry-budget 20%,10,1ms
expect_usage "four parts" -- queue work --db "$db" --circuit-breaker 50%,20,10s
expect_usage "share is 0%" -- queue work --db "$db" --circuit-breaker 0%,20,10s,5s
expect_usage "circuit-breaker open '0s'" -- queue work --db "$db" --circuit-breaker 50%,20,10s,0s
expect 1 "cannot connect to PostgreSQL" -- queue work --db "postgresql://u@/db?host=$tmp/none"
expect 0 "queue drained.* 1 finished.*retries held back by the retry budget" -- \
  queue work --db "$db" --queue mail --drain --retry-budget 0%,1,1s \
  --exec "cat > '$tmp/mail.out'; echo \"\$LAB_JOB_ID \$LAB_JOB_KEY \$LAB_ATTEMPT\" >> '$tmp/mail.out'"
if [ "$(cat "$tmp/mail.out" 2>/dev/null)" != "$(printf 'from stdin\n2 job:2 1')" ]; then
  echo "FAIL: queue work: the command did not get the payload and job variables"
  cat "$tmp/mail.out"; failures=$((failures + 1))
fi
expect 0 "mail +SUCCEEDED +1" -- queue stats --db "$db"
# A non-zero exit goes to the retry policy: one attempt allowed, so dead.
"$LAB" queue enqueue --db "$db" --queue doom --key doomed --max-attempts 1 x >/dev/null
expect 0 "1 failed attempts.*0 calls held back by the circuit breaker \\(opened 0 times\\)" -- \
  queue work --db "$db" --queue doom --drain --exec 'exit 7' --circuit-breaker 100%,2,10s,5s
expect 0 "doomed .* command exited with status 7" -- queue dlq list --db "$db"
expect 0 "redriven 1 job" -- queue dlq redrive --db "$db" --all --queue doom
expect 0 "1 finished" -- queue work --db "$db" --queue doom --drain --exec true
# The reconciliation drill: the downstream system reports holding the
# effect of a job whose command's call took effect but whose exit said it
# failed: a divergence, recorded, then repaired by a redrive; exit 1 as
# diff's. Once the job has run again under its key, they agree: exit 0.
lost="$("$LAB" queue enqueue --db "$db" --queue drill --key lost --max-attempts 1 x)"
"$LAB" queue work --db "$db" --queue drill --drain --exec 'exit 1' >/dev/null 2>&1
printf '{"key": "drill/lost"}\n\n{"key": "elsewhere/7", "payload": "x"}\n' > "$tmp/held.jsonl"
expect 1 "extra: the downstream system holds an effect under key 'drill/lost', but the job is DEAD" -- \
  queue drill --db "$db" --held "$tmp/held.jsonl" --no-repair
expect 0 "drill +DEAD -> DEAD drill: extra" -- queue inspect "$lost" --db "$db"
expect 1 "1 finding\\(s\\), 1 repaired" -- queue drill --db "$db" --held "$tmp/held.jsonl"
expect 0 "1 finished" -- queue work --db "$db" --queue drill --drain --exec true
expect 0 '"findings": \[\]' -- queue drill --db "$db" --held "$tmp/held.jsonl" --json
printf '{"key": "drill/lost"}\nnonsense\n' > "$tmp/bad.jsonl"
expect_usage "bad.jsonl line 2: not JSON" -- queue drill --db "$db" --held "$tmp/bad.jsonl"
expect_usage "cannot open --held" -- queue drill --db "$db" --held "$tmp/none.jsonl"
# SIGTERM: no new claims, the running job finishes and commits, exit 0.
"$LAB" queue enqueue --db "$db" --queue slow a >/dev/null
"$LAB" queue enqueue --db "$db" --queue slow b >/dev/null
"$LAB" queue work --db "$db" --queue slow --exec "touch '$tmp/started'; sleep 1" \
  >/dev/null 2>"$tmp/work.err" &
worker=$!
for _ in $(seq 100); do [ -e "$tmp/started" ] && break; sleep 0.1; done
kill -TERM "$worker"
wait "$worker"
code=$?
if [ "$code" -ne 0 ] || ! grep -q "stopped (signal): 1 finished" "$tmp/work.err"; then
  echo "FAIL: queue work on SIGTERM exited $code"; cat "$tmp/work.err"; failures=$((failures + 1))
fi
expect 0 "slow +PENDING +1" -- queue stats --db "$db"
expect 0 "slow +SUCCEEDED +1" -- queue stats --db "$db"
# Retention: finished jobs older than --retain go with their records, and the
# deletion is audited; pending jobs and the newest ids stay.
expect 0 "pruned 0 job\\(s\\) finished 1d ago" -- queue prune --db "$db" --retain 1d
expect 0 '"jobs": 3' -- queue prune --db "$db" --retain 0s --json  # mail, doom, drill.
expect 1 "no job with id 2" -- queue inspect 2 --db "$db"
expect 0 "slow +SUCCEEDED +1" -- queue stats --db "$db"  # The newest execution's job is kept.
if "$LAB" queue stats --db "$db" | grep -q doom; then
  echo "FAIL: queue prune --retain 0s kept the finished job of queue doom"; failures=$((failures + 1))
fi
expect_usage "--retain '5x'" -- queue prune --db "$db" --retain 5x
expect_usage "--retain" -- queue prune --db "$db"
expect_usage "--retain '-1s'" -- queue work --db "$db" --retain -1s

# Admission control: a queue at its depth limit refuses an enqueue with exit
# 3, in words, and writes nothing; a job whose deadline passed is EXPIRED by
# the worker's claim, never run, and cannot be redriven.
adb="sqlite:$tmp/admission.db"
expect 0 "queue full: at most 1 unfinished jobs" -- queue limit --db "$adb" --queue full --max-depth 1
expect 0 '"full": 1' -- queue limit --db "$adb" --json
"$LAB" queue enqueue --db "$adb" --queue full first >/dev/null
expect 3 "queue 'full' is full: it holds 1 unfinished jobs" -- queue enqueue --db "$adb" --queue full second
expect 0 "full +PENDING +1" -- queue stats --db "$adb"
expect 0 "queue full admits at most 1 unfinished jobs" -- queue stats --db "$adb"
expect 0 '"max_depth": \{' -- queue stats --db "$adb" --json
expect 0 "no queue has a depth limit" -- queue limit --db "$adb" --queue full --max-depth 0
expect 0 "^[0-9]+$" -- queue enqueue --db "$adb" --queue full second
expect_usage "--max-depth '-1'" -- queue limit --db "$adb" --queue full --max-depth -1
expect_usage "together" -- queue limit --db "$adb" --queue full
expect_usage "--deadline 'soon'" -- queue enqueue --db "$adb" --deadline soon x
late=$("$LAB" queue enqueue --db "$adb" --queue late --deadline 1 x)
expect 0 "deadline " -- queue inspect "$late" --db "$adb"
expect 0 "0 finished" -- queue work --db "$adb" --queue late --drain --exec "touch '$tmp/late.ran'"
if [ -e "$tmp/late.ran" ]; then
  echo "FAIL: a job past its deadline was run"; failures=$((failures + 1))
fi
expect 0 "expire +PENDING -> EXPIRED +expired: its deadline" -- queue inspect "$late" --db "$adb"
expect 1 "is EXPIRED: its deadline passed" -- queue dlq redrive --job "$late" --db "$adb"

# Hardening: every class of bad input is refused in words (exit 2) and
# changes nothing; nothing aborts on bytes that are not text.
for cmd in "enqueue x" "stats" "inspect 1" "dlq list" "dlq redrive --all" "work" "prune --retain 1d" \
  "drill --held $tmp/held.jsonl"; do
  # shellcheck disable=SC2086
  expect_usage "memory: store lives in one process" -- queue $cmd --db memory:
done
for bad in 0x10 1e3 abc "" 99999999999999999999 1000001; do
  expect_usage "--priority '$bad'" -- queue enqueue --db "$db" --priority "$bad" x
done
expect_usage "from 1 to 1000000" -- queue enqueue --db "$db" --max-attempts 010000000 x
expect 0 "^[0-9]+$" -- queue enqueue --db "$db" --queue octal --max-attempts 010 x  # Decimal 10.
expect 0 '"max_attempts": 10' -- queue inspect "$(cat "$tmp/out")" --db "$db" --json
for bad in 2562047500000h 99999999999999999999ms 25h 0 -1s 5x ""; do
  expect_usage "--lease '$bad'" -- queue work --db "$db" --lease "$bad"
done
expect_usage "--run-at '\\+2562047500000h'" -- queue enqueue --db "$db" --run-at +2562047500000h x
expect_usage "JOB '0x1': not a number" -- queue inspect 0x1 --db "$db"
expect_usage "--concurrency 'abc': not a number" -- queue work --db "$db" --concurrency abc
expect_usage "--exec is empty" -- queue work --db "$db" --exec ''
expect_usage "queue name may not contain '/'" -- queue enqueue --db "$db" --queue a/b x
expect_usage "idempotency key has a control character" -- queue enqueue --db "$db" --key "$(printf 'a\tb')" x
expect_usage "idempotency key is not valid UTF-8" -- queue enqueue --db "$db" --key "$(printf 'k\377')" x
expect_usage "bad PostgreSQL URL: .*no_such" -- queue stats --db "postgresql://u@/db?host=$tmp/none&no_such=1"
expect 0 "default +PENDING +1" -- queue stats --db "$db"  # Still nothing changed.
# Read-only commands never create a database.
expect 1 "directory '$tmp/nope' does not exist" -- queue enqueue --db "sqlite:$tmp/nope/q.db" x
expect 1 "no database at '$tmp/absent.db'" -- queue stats --db "sqlite:$tmp/absent.db"
expect 1 "no database at" -- queue dlq list --db "sqlite:$tmp/absent.db"
test ! -e "$tmp/absent.db" || { echo "FAIL: a read-only command created a database"; failures=$((failures + 1)); }
# Bytes that are not text: stored exactly, shown escaped, JSON as base64.
printf 'bin\377\000x' | "$LAB" queue enqueue --db "$db" --queue bytes - >"$tmp/id"
expect 0 '"base64": "Ymlu/wB4"' -- queue inspect "$(cat "$tmp/id")" --db "$db" --json
expect 0 'payload \(6 bytes\): bin\\xff\\x00x' -- queue inspect "$(cat "$tmp/id")" --db "$db"
"$LAB" queue inspect "$(cat "$tmp/id")" --db "$db" --full-payload >"$tmp/payload.out"
if ! printf 'bin\377\000x' | cmp -s - "$tmp/payload.out"; then
  echo "FAIL: --full-payload did not give the payload's bytes back"; failures=$((failures + 1))
fi
expect 0 '"bytes"' -- queue stats --db "$db" --json
# The effect key names queue and key: the same key in two queues is two jobs.
"$LAB" queue enqueue --db "$db" --queue qa --key same x >/dev/null
"$LAB" queue enqueue --db "$db" --queue qb --key same x >/dev/null
expect 0 "1 finished" -- queue work --db "$db" --queue qa --drain --exec "echo \$LAB_JOB_KEY > '$tmp/qa.key'"
test "$(cat "$tmp/qa.key")" = "qa/same" || { echo "FAIL: LAB_JOB_KEY is not <queue>/<key>"; failures=$((failures + 1)); }

# A per-job timeout kills the command and fails the attempt; what a command
# leaves running in the background is killed when its job ends.
"$LAB" queue enqueue --db "$db" --queue hang --max-attempts 1 x >/dev/null
expect 0 "1 failed attempts \\(1 dead-lettered\\)" -- queue work --db "$db" --queue hang --drain --timeout 300ms --exec 'sleep 600'
expect 0 "command timed out after 300ms" -- queue dlq list --db "$db" --queue hang
# A job's own timeout wins over the worker's.
"$LAB" queue enqueue --db "$db" --queue hang2 --max-attempts 1 --timeout 200ms x >/dev/null
expect 0 "1 failed attempts" -- queue work --db "$db" --queue hang2 --drain --timeout 1h --exec 'sleep 600'
expect 0 "command timed out after 200ms" -- queue dlq list --db "$db" --queue hang2
expect_usage "--timeout '0'" -- queue enqueue --db "$db" --timeout 0 x
"$LAB" queue enqueue --db "$db" --queue bg x >/dev/null
expect 0 "1 finished" -- queue work --db "$db" --queue bg --drain --exec "sleep 600 & echo \$! > '$tmp/bg.pid'"
if alive "$(cat "$tmp/bg.pid")"; then
  echo "FAIL: a command's background child outlived its job"; failures=$((failures + 1))
fi
# A second signal kills the running command and exits 130.
"$LAB" queue enqueue --db "$db" --queue twice x >/dev/null
rm -f "$tmp/started"
"$LAB" queue work --db "$db" --queue twice --exec "echo \$\$ > '$tmp/cmd.pid'; touch '$tmp/started'; sleep 600" \
  >/dev/null 2>"$tmp/work2.err" &
worker=$!
for _ in $(seq 100); do [ -e "$tmp/started" ] && break; sleep 0.1; done
kill -TERM "$worker"; sleep 0.2; kill -TERM "$worker"
wait "$worker"
code=$?
sleep 0.2
if [ "$code" -ne 130 ] || alive "$(cat "$tmp/cmd.pid")"; then
  echo "FAIL: a second signal: exit $code (want 130), command still running?"; cat "$tmp/work2.err"
  failures=$((failures + 1))
fi
# A database the worker can never write stops it with exit 1 (it looped before).
mkdir -p "$tmp/ro" && chmod 755 "$tmp" "$tmp/ro"
"$LAB" queue enqueue --db "sqlite:$tmp/ro/q.db" x >/dev/null
chmod 444 "$tmp/ro/q.db"; chmod 555 "$tmp/ro"
as_other=()
if [ "$(id -u)" -eq 0 ]; then as_other=(runuser -u nobody --); fi
timeout 60 "${as_other[@]}" "$LAB" queue work --db "sqlite:$tmp/ro/q.db" --drain >"$tmp/ro.out" 2>&1
code=$?
if [ "$code" -ne 1 ] || ! grep -Eqi "readonly|read-only|unable to open|permission" "$tmp/ro.out"; then
  echo "FAIL: a read-only database: exit $code (want 1 with a clear message)"; cat "$tmp/ro.out"
  failures=$((failures + 1))
fi
chmod 755 "$tmp/ro"

# The outbox: each job's output is committed as an intent, and the relay
# delivers it under the job's key until the receiver acknowledges it. The
# receiver deduplicates by key; its first answer for "ob/flaky" is lost
# after the effect took hold, so that one is sent twice and held once.
odb="sqlite:$tmp/outbox.db"
cat > "$tmp/receive.sh" <<'RECEIVER'
inbox="$1"
grep -qxF "$LAB_JOB_KEY" "$inbox.keys" 2>/dev/null ||
  { echo "$LAB_JOB_KEY" >> "$inbox.keys"; { cat; echo; } >> "$inbox"; }
if [ "$LAB_JOB_KEY" = "ob/flaky" ] && [ ! -e "$inbox.lost" ]; then touch "$inbox.lost"; exit 1; fi
exit 0
RECEIVER
for k in ann bob flaky; do
  "$LAB" queue enqueue --db "$odb" --queue ob --key "$k" "mail to $k" >/dev/null
done
expect 0 "relay: 3 effects delivered, 1 sends not acknowledged \(sent again\), 0 still to deliver" -- \
  queue work --db "$odb" --queue ob --drain --exec "tr a-z A-Z" --relay "sh $tmp/receive.sh $tmp/inbox"
if [ "$(sort "$tmp/inbox" | tr '\n' ,)" != "MAIL TO ANN,MAIL TO BOB,MAIL TO FLAKY," ]; then
  echo "FAIL: the outbox's receiver holds:"; cat "$tmp/inbox"; failures=$((failures + 1))
fi
expect 0 "deliver +SUCCEEDED -> SUCCEEDED effect [0-9]+ delivered under ob/ann" -- \
  queue inspect 1 --db "$odb"
expect 0 "effect \(ledger\): exec 1 key 'ob/ann' \(outbox: delivered 20" -- queue inspect 1 --db "$odb"
# The receiver loses what it acknowledged for bob: the drill finds it
# missing and has it delivered again; the next relay pass does.
printf '{"key": "ob/ann", "payload": "MAIL TO ANN"}\n{"key": "ob/flaky"}\n' > "$tmp/ob-held.jsonl"
rm -f "$tmp/inbox.keys" && grep -v BOB "$tmp/inbox" > "$tmp/inbox.kept"; mv "$tmp/inbox.kept" "$tmp/inbox"
printf 'ob/ann\nob/flaky\n' > "$tmp/inbox.keys"
expect 1 "missing: the ledger holds 'MAIL TO BOB' under key 'ob/bob', which the downstream system lacks; to be delivered again" -- \
  queue drill --db "$odb" --held "$tmp/ob-held.jsonl"
expect 0 "relay: 1 effects delivered, 0 sends not acknowledged" -- \
  queue work --db "$odb" --queue ob --drain --relay "sh $tmp/receive.sh $tmp/inbox"
grep -q "MAIL TO BOB" "$tmp/inbox" || { echo "FAIL: bob's effect was not delivered again"; failures=$((failures + 1)); }
expect_usage "--relay is blank" -- queue work --db "$odb" --relay " "

# Metrics: a running worker serves Prometheus' text format on loopback.
mdb="sqlite:$tmp/metrics.db"
for i in 1 2 3; do "$LAB" queue enqueue --db "$mdb" "m$i" >/dev/null; done
"$LAB" queue work --db "$mdb" --exec 'sleep 0.4; cat >/dev/null' --metrics 127.0.0.1:0 \
  >/dev/null 2>"$tmp/metrics.err" &
worker=$!
url=""
for _ in $(seq 100); do
  url="$(grep -o 'http://127.0.0.1:[0-9]*/metrics' "$tmp/metrics.err")" && break
  sleep 0.1
done
sleep 1
if [ -z "$url" ] || ! curl -fsS "$url" > "$tmp/metrics.txt"; then
  echo "FAIL: queue work --metrics: nothing served"; cat "$tmp/metrics.err"; failures=$((failures + 1))
elif ! grep -q '^# TYPE lab_jobs_finished_total counter$' "$tmp/metrics.txt" ||
  ! grep -Eq '^lab_jobs\{queue="default",state="(PENDING|RUNNING|SUCCEEDED)"\} [0-9]+$' "$tmp/metrics.txt" ||
  ! grep -Eq '^lab_handler_duration_seconds_count [0-9]+$' "$tmp/metrics.txt" ||
  grep -Evq '^(# (HELP|TYPE) lab_[a-z_]+ .+|lab_[a-z_]+(\{[^}]*\})? [0-9.e+-]+)$' "$tmp/metrics.txt"; then
  echo "FAIL: queue work --metrics: not the exposition format:"; cat "$tmp/metrics.txt"
  failures=$((failures + 1))
fi
kill -TERM "$worker"; wait "$worker"
expect_usage "loopback only" -- queue work --db "$mdb" --metrics 0.0.0.0:9464
expect_usage "the port must be a number" -- queue work --db "$mdb" --metrics 127.0.0.1:http

# The dashboard: served on loopback, it shows the store's jobs; a redrive
# needs the page's anti-forgery field; beyond loopback it needs a token.
udb="sqlite:$tmp/ui.db"
"$LAB" queue enqueue --db "$udb" --queue billing --max-attempts 1 charge >/dev/null
"$LAB" queue work --db "$udb" --queue billing --exec 'exit 1' --drain >/dev/null 2>&1
# wait_for_url FILE: the address a server printed to FILE, once it has.
wait_for_url() {
  local u=""
  for _ in $(seq 100); do
    u="$(grep -o 'http://127.0.0.1:[0-9]*' "$1")" && break
    sleep 0.1
  done
  echo "$u"
}
"$LAB" queue ui --db "$udb" --listen 127.0.0.1:0 >/dev/null 2>"$tmp/ui.err" &
ui=$!
base="$(wait_for_url "$tmp/ui.err")"
if [ -z "$base" ] || ! curl -fsS "$base/" > "$tmp/ui.html"; then
  echo "FAIL: queue ui: nothing served"; cat "$tmp/ui.err"; failures=$((failures + 1))
elif ! grep -q 'href="/jobs?queue=billing&amp;state=DEAD">1</a>' "$tmp/ui.html"; then
  echo "FAIL: queue ui: the dead job is not shown"; failures=$((failures + 1))
else
  form="$(curl -fsS "$base/jobs?state=DEAD" | grep -o 'name="form" value="[0-9a-f]*"' | head -1 | cut -d'"' -f4)"
  forged="$(curl -s -o /dev/null -w '%{http_code}' -d job=1 "$base/redrive")"
  "$LAB" queue inspect --db "$udb" 1 | grep -q 'state DEAD' && [ "$forged" = 403 ] ||
    { echo "FAIL: queue ui: a redrive without the form's field was not refused ($forged)"; failures=$((failures + 1)); }
  done_code="$(curl -s -o /dev/null -w '%{http_code}' -d job=1 -d "form=$form" "$base/redrive")"
  "$LAB" queue inspect --db "$udb" 1 | grep -q 'state PENDING' && [ "$done_code" = 303 ] ||
    { echo "FAIL: queue ui: the page's redrive did not take ($done_code)"; failures=$((failures + 1)); }
  curl -fsS "$base/metrics" | grep -q '^lab_jobs{queue="billing",state="PENDING"} 1$' ||
    { echo "FAIL: queue ui: /metrics lacks the jobs gauge"; failures=$((failures + 1)); }
fi
kill -TERM "$ui"; wait "$ui"
grep -q "dashboard stopped" "$tmp/ui.err" || { echo "FAIL: queue ui did not stop on SIGTERM"; failures=$((failures + 1)); }
printf 'a-token-of-twenty-chars\n' > "$tmp/token"
"$LAB" queue ui --db "$udb" --listen 127.0.0.1:0 --token-file "$tmp/token" >/dev/null 2>"$tmp/ui2.err" &
ui=$!
base="$(wait_for_url "$tmp/ui2.err")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/")" = 401 ] &&
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer a-token-of-twenty-chars' "$base/")" = 200 ] ||
  { echo "FAIL: queue ui --token-file: not asked for, or not accepted"; failures=$((failures + 1)); }
kill -TERM "$ui"; wait "$ui"
expect_usage "asks for an access token" -- queue ui --db "$udb" --listen 0.0.0.0:0
printf 'short\n' > "$tmp/short"
expect_usage "16 to 256" -- queue ui --db "$udb" --token-file "$tmp/short"
expect_usage "the port must be a number" -- queue ui --db "$udb" --listen 127.0.0.1:99999
expect 1 "no database at" -- queue ui --db "sqlite:$tmp/none.db" --listen 127.0.0.1:0

if [ "$failures" -ne 0 ]; then echo "$failures CLI check(s) failed"; exit 1; fi
echo "all CLI checks passed"
