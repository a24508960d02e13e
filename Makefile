# The commands a new user types. Each installs what is missing and builds.
#   make run    build, then start shortbusd on ./data (Ctrl-C stops it)
#   make test   build, then run every test suite; ends with "N passed, M failed"
#   make bench  build, then run the benchmarks and print ratios
#   make soak   long crash, power-loss and daemon torture runs (not part of make test)
#   make fuzz   each libFuzzer target 10 minutes (FUZZ_SECONDS=N), in build-fuzz/
#   make asan   the test suite under ASan+UBSan, in build-asan/
#   make tsan   the test suite under ThreadSanitizer, in build-tsan/

BUILD ?= build
DATA ?= ./data

.PHONY: all deps build run test bench soak fuzz asan tsan clean

all: build

deps:
	@tools/install-deps.sh

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) --buildtype=debugoptimized

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

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

asan: deps
	[ -f build-asan/build.ninja ] || meson setup build-asan -Dsanitize=address -Dbench=false
	ninja -C build-asan
	FUZZ_SECONDS=0 tests/run.sh build-asan

tsan: deps
	[ -f build-tsan/build.ninja ] || meson setup build-tsan -Dsanitize=thread -Dbench=false
	ninja -C build-tsan
	FUZZ_SECONDS=0 tests/run.sh build-tsan

clean:
	rm -rf $(BUILD) build-asan build-tsan
