#!/usr/bin/env bash
# Runs every test suite registered with meson in BUILD and ends with one
# line "N passed, M failed" counting individual test cases.
set -uo pipefail
build=${1:-build}
meson test -C "$build" --print-errorlogs --num-processes 2 "${@:2}"
rc=$?
python3 "$(dirname "$0")/summary.py" "$build/meson-logs/testlog.junit.xml" "$rc"
sum_rc=$?
[ $rc -eq 0 ] && [ $sum_rc -eq 0 ]
