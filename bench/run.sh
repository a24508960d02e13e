#!/usr/bin/env bash
# Runs the engine benchmarks and prints their ratios (docs/benchmarks.md).
#
# usage: bench/run.sh BUILD_DIR [--write-doc] [engine_bench flags...]
#   --write-doc   also rewrite the results section of docs/benchmarks.md
#   e.g. bench/run.sh build --benchmark_filter='Append/128'
#
# Streams and probe files go to $SHORTBUS_BENCH_DIR (default BUILD_DIR/bench-data,
# so on the file system of the build directory) and are removed afterwards.
# The raw results stay in BUILD_DIR/bench-results.json. Takes about a minute on
# 2 cores and writes about 18 GiB (never more than ~1.3 GiB on disk at once).
set -euo pipefail
build=${1:-build}
shift || true
write_doc=0
args=()
for a in "$@"; do
  case "$a" in
    --write-doc) write_doc=1 ;;
    *) args+=("$a") ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
[ -f "$build/build.ninja" ] || { echo "run.sh: $build is not a configured build directory (meson setup $build)" >&2; exit 1; }
ninja -C "$build" bench/engine_bench
data=${SHORTBUS_BENCH_DIR:-$build/bench-data}
mkdir -p "$data"
out="$(cd "$build" && pwd)/bench-results.json"
cleanup() { rm -rf "$data"/shortbus-bench-*; }
trap cleanup EXIT
# What the report states about the run, recorded in the JSON with the results.
git=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' | tr -d ',=' || true)
context="git=$git,kernel=$(uname -r),nproc=$(nproc),cpu_model=${cpu:-unknown}"
start=$(date +%s)
SHORTBUS_BENCH_DIR="$data" "$build/bench/engine_bench" --benchmark_out="$out" \
  --benchmark_out_format=json --benchmark_context="$context" ${args[@]+"${args[@]}"}
echo
if [ "$write_doc" = 1 ]; then
  (cd "$root" && python3 bench/report.py "$out" --write-doc docs/benchmarks.md)
else
  (cd "$root" && python3 bench/report.py "$out")
fi
echo
echo "run.sh: benchmarks took $(( $(date +%s) - start )) s; raw results in $out"
