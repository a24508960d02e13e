#!/usr/bin/env bash
# Runs every test suite registered with meson in BUILD and ends with one
# line "N passed, M failed" counting individual test cases.
# Then each fuzz target for FUZZ_SECONDS (default 20; 0 skips them) in
# build-fuzz/ (fuzz/run.sh); each target counts as one test case.
set -uo pipefail
build=${1:-build}
root="$(cd "$(dirname "$0")/.." && pwd)"
meson test -C "$build" --print-errorlogs --num-processes 2 "${@:2}"
rc=$?
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
