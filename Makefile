# The two commands: `make run` and `make test`. Both install what is missing
# (Debian packages via apt-get), configure, build, and then run.
#
#   make run          build and run the failure-mode catalogue (lab run --all)
#   make test         build and run every test, plus an ASan+UBSan build of the tests
#   make test-fm1     FM_001 repro test (baseline: the violation is detected)
#   make test-fm1-fix FM_001 prevent test (guarded: every invariant holds)

LAB_WERROR ?= ON
JOBS ?= $(shell nproc)
BUILD ?= build
BUILD_ASAN ?= build-asan
CMAKE_FLAGS = -G Ninja -DLAB_WERROR=$(LAB_WERROR)
CTEST = ctest --output-on-failure -j $(JOBS)

.PHONY: all deps build build-asan run test test-unit test-asan test-fm1 test-fm1-fix explore-sweep \
	bench-sim format clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=RelWithDebInfo

$(BUILD_ASAN)/build.ninja: | deps
	cmake -S . -B $(BUILD_ASAN) $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=Debug -DLAB_SANITIZE=address,undefined

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps $(BUILD_ASAN)/build.ninja
	cmake --build $(BUILD_ASAN) -j $(JOBS)

run: build
	./$(BUILD)/src/cli/lab run --all --store sqlite:

test: test-unit test-asan

test-unit: build
	cd $(BUILD) && $(CTEST)

test-asan: build-asan
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(CTEST)

test-fm1: build
	cd $(BUILD) && $(CTEST) -R 'FM_001.*Repro'

test-fm1-fix: build
	cd $(BUILD) && $(CTEST) -R 'FM_001.*Prevent'

# The long sweep: every guard on, an hour of fresh seeds (SEEDS_TIME seconds).
SEEDS_TIME ?= 3600
explore-sweep: build
	./$(BUILD)/src/cli/lab explore --time $(SEEDS_TIME) --seed-start $$(date +%s)

# Simulator throughput (docs/benchmarks.md): 20 jobs, 4 workers, swarm faults.
bench-sim: build
	./bench/sim_bench.sh ./$(BUILD)/src/cli/lab

format:
	find src failure_modes -name '*.cc' -o -name '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
