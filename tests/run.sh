#!/usr/bin/env bash
# Runs every test suite registered with meson in BUILD and ends with one
# line "N passed, M failed" counting individual test cases.
# Then each fuzz target for FUZZ_SECONDS (default 20; 0 skips them) in
# build-fuzz/ (fuzz/run.sh); each target counts as one test case.
# With SANITIZER_LOGS=DIR (make asan, make tsan), every sanitizer report of
# every process, the daemons and CLIs the tests start included, is written
# under DIR; any report fails the run (printed before the summary), even one
# from a child whose exit status no test looked at.
set -uo pipefail
build=${1:-build}
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ -n "${SANITIZER_LOGS:-}" ]; then
  rm -rf "$SANITIZER_LOGS" && mkdir -p "$SANITIZER_LOGS"
  logs="$(cd "$SANITIZER_LOGS" && pwd)"
  # meson's own defaults for ASan/UBSan (it sets none when these are set), plus log_path.
  export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_summary=1:log_path=$logs/asan"
  export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_summary=1:print_stacktrace=1:log_path=$logs/ubsan"
  export TSAN_OPTIONS="second_deadlock_stack=1:log_path=$logs/tsan"
fi
meson test -C "$build" --print-errorlogs --num-processes 2 "${@:2}"
rc=$?
if [ -n "${SANITIZER_LOGS:-}" ] && [ -n "$(ls -A "$SANITIZER_LOGS")" ]; then
  for f in "$SANITIZER_LOGS"/*; do echo "=== $f"; cat "$f"; done
  echo "sanitizer reports in $SANITIZER_LOGS: the run fails"
  rc=1
fi
junits=("$build/meson-logs/testlog.junit.xml")
if [ "${FUZZ_SECONDS:-20}" != 0 ]; then
  fuzz_build=${FUZZ_BUILD:-$root/build-fuzz}
  rm -f "$fuzz_build/meson-logs/testlog.junit.xml"
  FUZZ_FRESH=1 "$root/fuzz/run.sh" "${FUZZ_SECONDS:-20}" || rc=1
  [ -f "$fuzz_build/meson-logs/testlog.junit.xml" ] && junits+=("$fuzz_build/meson-logs/testlog.junit.xml")
fi
python3 "$(dirname "$0")/summary.py" "${junits[0]}" "$rc" "${junits[@]:1}"
sum_rc=$?
[ $rc -eq 0 ] && [ $sum_rc -eq 0 ]
