# The commands a new user types. Each installs what is missing and builds.
#   make run    build, then start shortbusd on ./data (Ctrl-C stops it)
#   make test   build, then run every test suite; ends with "N passed, M failed"
#   make bench  build, then run the benchmarks and print ratios
#   make soak   long crash, power-loss and daemon torture runs (not part of make test)
#   make fuzz   each libFuzzer target 10 minutes (FUZZ_SECONDS=N), in build-fuzz/
#   make asan   the whole test suite under ASan+UBSan, in build-asan/
#   make tsan   the whole test suite under ThreadSanitizer, in build-tsan/
# .ci/run runs make test, make asan, make tsan; asan and tsan end with their
# own "N passed, M failed" line and fail on any sanitizer report, a child
# process's included (tests/run.sh, SANITIZER_LOGS). Wall times measured:
# docs/reliability.md, "Sanitizers".

BUILD ?= build
DATA ?= ./data
# JOBS=N caps ninja's parallel jobs (default: ninja's, cores + 2).
NINJA = ninja $(if $(JOBS),-j$(JOBS))

.PHONY: all deps build run test bench soak fuzz asan tsan clean

all: build

deps:
	@tools/install-deps.sh

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) --buildtype=debugoptimized

build: deps $(BUILD)/build.ninja
	$(NINJA) -C $(BUILD)

run: build
	$(BUILD)/server/shortbusd --data $(DATA)

test: build
	tests/run.sh $(BUILD)

bench: build
	bench/run.sh $(BUILD)

# SHORTBUS_SOAK_CYCLES (default 300) sets the cycles of each run; each run
# prints its seed and a summary line (docs/reliability.md).
soak: build
	SHORTBUS_SOAK=1 $(BUILD)/tests/engine/crash_test --gtest_filter='*Soak*'
	SHORTBUS_SOAK=1 $(BUILD)/tests/engine/power_loss_test --gtest_filter='*Soak*'
	SHORTBUS_SOAK=1 E2E_SERVER_KIND=shortbusd E2E_SERVER_BIN=$(BUILD)/server/shortbusd \
	  SHORTBUS_BIN=$(BUILD)/tools/shortbus $(BUILD)/tests/torture/process_crash_test

fuzz: deps
	fuzz/run.sh $${FUZZ_SECONDS:-600}

# Sanitizer builds: -O1 (what both sanitizers advise) and line tables only
# (-g1 after meson's -g): half the compile time of -O2 -g, and reports still
# name file and line. No benchmarks; no fuzz step (build-fuzz is ASan+UBSan).
SAN_SETUP = -Dbench=false -Doptimization=1 -Ddebug=true -Dcpp_args=-g1 -Dc_args=-g1

asan: deps
	[ -f build-asan/build.ninja ] || meson setup build-asan -Dsanitize=address $(SAN_SETUP)
	$(NINJA) -C build-asan
	FUZZ_SECONDS=0 SANITIZER_LOGS=build-asan/sanitizer-logs tests/run.sh build-asan

tsan: deps
	[ -f build-tsan/build.ninja ] || meson setup build-tsan -Dsanitize=thread $(SAN_SETUP)
	$(NINJA) -C build-tsan
	FUZZ_SECONDS=0 SANITIZER_LOGS=build-tsan/sanitizer-logs tests/run.sh build-tsan

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz
