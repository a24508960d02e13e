#!/usr/bin/env bash
# Runs one libFuzzer target for FUZZ_SECONDS (default 20) as a meson test
# (fuzz/meson.build registers it). Usage: run_target.sh EXE NAME SRC_DIR BUILD_DIR
#   reads  SRC_DIR/corpus/NAME (seeds and past crashes: replayed first, never
#          written) and SRC_DIR/NAME.dict when present;
#   writes new inputs to BUILD_DIR/fuzz-corpus/NAME (kept between runs;
#          with FUZZ_FRESH=1 to a scratch directory emptied first),
#          crashing inputs to BUILD_DIR/fuzz-artifacts/NAME/, the log to
#          BUILD_DIR/fuzz-logs/NAME.log.
# Exit status: libFuzzer's (0 when no crash, leak, timeout or failed check).
set -uo pipefail
exe=$1 name=$2 src=$3 build=$4
secs=${FUZZ_SECONDS:-20}
# FUZZ_FRESH=1 (tests/run.sh): start from the seeds alone, in a scratch
# directory, so the time of a short run does not grow with what earlier
# local runs kept (libFuzzer reads a whole corpus before its clock starts).
if [ "${FUZZ_FRESH:-0}" = 1 ]; then
  work="$build/fuzz-corpus-fresh/$name"
  rm -rf "$work"
else
  work="$build/fuzz-corpus/$name"
fi
artifacts="$build/fuzz-artifacts/$name/"
log="$build/fuzz-logs/$name.log"
mkdir -p "$work" "$artifacts" "$(dirname "$log")"
args=(-max_total_time="$secs" -timeout=30 -error_exitcode=1 -timeout_exitcode=1 -rss_limit_mb=2048 -max_len=65536
      -print_final_stats=1 -artifact_prefix="$artifacts")
[ -f "$src/$name.dict" ] && args+=(-dict="$src/$name.dict")
# Sanitizer reports name their source lines; the leak check stays on.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
start=$SECONDS
"$exe" "${args[@]}" "$work" "$src/corpus/$name" >"$log" 2>&1
rc=$?
execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
summary="$name: ${execs:-?} executions in $((SECONDS - start)) s, exit $rc"
echo "fuzz-summary: $summary" >>"$log"
echo "$summary (log: $log)"
if [ $rc -ne 0 ]; then tail -40 "$log"; fi
exit $rc
