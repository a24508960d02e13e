#!/usr/bin/env bash
# Builds the fuzz targets with clang in build-fuzz/ and runs each one for
# SECONDS (fuzz/README.md). Usage: fuzz/run.sh SECONDS [TARGET...]
#   make fuzz         10 minutes each (FUZZ_SECONDS=N to change)
#   tests/run.sh      20 s each, counted in its "N passed, M failed"
# Results: meson's log in build-fuzz/meson-logs/ (testlog.junit.xml), one
# line per target with its executions, crashing inputs in
# build-fuzz/fuzz-artifacts/TARGET/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build=${FUZZ_BUILD:-$root/build-fuzz}
secs=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(parser_fuzzer segment_fuzzer jetstream_api_fuzzer sublist_fuzzer)

if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz/run.sh: clang++ is missing; tools/install-deps.sh installs it" >&2
  exit 1
fi
if [ ! -f "$build/build.ninja" ]; then
  # Only the libraries the targets link are built (explicit targets below).
  CC=clang CXX=clang++ meson setup "$build" "$root" -Dfuzz=true -Dtests=false -Dbench=false >/dev/null
fi
ninja -C "$build" -j2 "${targets[@]/#/fuzz/}"
# Parallel runs would share the 2 cores and each get fewer executions.
rc=0
FUZZ_SECONDS=$secs meson test -C "$build" --no-rebuild --num-processes 1 --suite fuzz "${targets[@]}" || rc=$?
for t in "${targets[@]}"; do
  grep -h '^fuzz-summary: ' "$build/fuzz-logs/$t.log" 2>/dev/null || echo "fuzz-summary: $t: did not run"
done
exit $rc
