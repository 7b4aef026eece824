# The two commands: `make run` and `make test`. Both install what is missing
# (Debian packages via apt-get), configure, build, and then run.
#
#   make run          build and run the failure-mode catalogue (lab run --all)
#   make test         build and run every test, plus an ASan+UBSan build of the tests
#                     and a ThreadSanitizer build of the threaded ones (test-tsan)
#   make test-fm FM=FM_006   one failure mode's tests, every store and mode
#   make test-fm1     FM_001 repro test (baseline: the violation is detected)
#   make test-fm1-fix FM_001 prevent test (guarded: every invariant holds)
#   make screenshots  the README's pictures (docs/img/): a report and the dashboard, taken in
#                     headless Chromium by the browser test
#   make mutants      apply each hand-written engine mutant (tools/mutants/) to a copy
#                     of HEAD, run the fast tiers against it, print which survived

LAB_WERROR ?= ON
JOBS ?= $(shell nproc)
BUILD ?= build
BUILD_ASAN ?= build-asan
BUILD_TSAN ?= build-tsan
CMAKE_FLAGS = -G Ninja -DLAB_WERROR=$(LAB_WERROR)
CTEST = ctest --output-on-failure -j $(JOBS)

.PHONY: all deps build build-asan run test test-unit test-asan test-tsan test-fm test-fm1 test-fm1-fix explore-sweep crash-test \
	bench-sim bench-queue bench-peers format clean mutants screenshots

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=RelWithDebInfo

$(BUILD_ASAN)/build.ninja: | deps
	cmake -S . -B $(BUILD_ASAN) $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=Debug -DLAB_SANITIZE=address,undefined

$(BUILD_TSAN)/build.ninja: | deps
	cmake -S . -B $(BUILD_TSAN) $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=Debug -DLAB_SANITIZE=thread

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps $(BUILD_ASAN)/build.ninja
	cmake --build $(BUILD_ASAN) -j $(JOBS)

run: build
	./$(BUILD)/src/cli/lab run --all --store sqlite: --report $(BUILD)/report

test: test-unit test-asan test-tsan

test-unit: build
	cd $(BUILD) && $(CTEST)

test-asan: build-asan
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(CTEST)

# The threaded code (worker pool, exec handler, waiter, group commit, store
# handles used at once from threads) under ThreadSanitizer.
# The canary races on purpose: TSan must report it, or this build checks nothing.
TSAN_ENV = TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
test-tsan: deps $(BUILD_TSAN)/build.ninja
	cmake --build $(BUILD_TSAN) -j $(JOBS) --target worker_pool_test core_test store_test tsan_canary
	$(TSAN_ENV) ./$(BUILD_TSAN)/src/queue/worker_pool_test
	$(TSAN_ENV) ./$(BUILD_TSAN)/src/store/store_test \
	  --gtest_filter='CommitGroup*:Engines/ConcurrencyTest.Threads*/Sqlite'
	$(TSAN_ENV) ./$(BUILD_TSAN)/src/core/core_test --gtest_filter='SystemWaiter*'
	@if $(TSAN_ENV) ./$(BUILD_TSAN)/src/core/tsan_canary >/dev/null 2>&1; then \
	  echo "test-tsan: the canary's data race was not reported; TSan is not checking"; exit 1; \
	else echo "test-tsan: canary race reported, as it must be"; fi

FM ?= FM_001
test-fm: build
	cd $(BUILD) && $(CTEST) -R '$(FM)[._]'

test-fm1: build
	cd $(BUILD) && $(CTEST) -R 'FM_001_(baseline|Repro)'

test-fm1-fix: build
	cd $(BUILD) && $(CTEST) -R 'FM_001_(guarded|Prevent)'

# The long sweep: every guard on, an hour of fresh seeds (SEEDS_TIME seconds).
SEEDS_TIME ?= 3600
explore-sweep: build
	./$(BUILD)/src/cli/lab explore --time $(SEEDS_TIME) --seed-start $$(date +%s)

# Longer real crash tests: CRASH_JOBS jobs on SQLite and on PostgreSQL, with
# SIGKILLed workers and (PostgreSQL) a crash-restarted server.
CRASH_JOBS ?= 20000
CRASH_SEED ?= $(shell date +%s)
crash-test: build
	./src/cli/crash_test.sh ./$(BUILD)/src/cli/lab sqlite --jobs $(CRASH_JOBS) --seed $(CRASH_SEED) --timeout 3600
	./src/cli/crash_test.sh ./$(BUILD)/src/cli/lab postgres --jobs $(CRASH_JOBS) --seed $(CRASH_SEED) --timeout 3600

# Simulator throughput (docs/benchmarks.md): 20 jobs, 4 workers, swarm faults.
bench-sim: build
	./bench/sim_bench.sh ./$(BUILD)/src/cli/lab

# The real queue against the peers' plain SQLite loop, same run (docs/benchmarks.md).
BENCH_N ?= 5000
BENCH_REPS ?= 3
bench-queue: build
	./bench/queue_bench.sh ./$(BUILD) $(BENCH_N) $(BENCH_REPS)

# lab and the peers (../shared/bench/peers) in one run; writes the table and
# plot into docs/benchmarks.md. N, N_SLOW, REPS, CONSUMERS, CONFIGS as the
# peers harness takes them; DOCS=0 leaves docs/ alone.
bench-peers: build
	./bench/peers_bench.sh ./$(BUILD)

# Mutation testing: every mutant must be killed by a test (README, development).
mutants: deps
	./tools/mutants.sh

format:
	find src failure_modes bench -name '*.cc' -o -name '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN)

screenshots: build
	mkdir -p docs/img
	SHOTS=docs/img ./src/cli/browser_test.sh ./$(BUILD)/src/cli/lab
