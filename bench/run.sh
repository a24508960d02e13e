#!/usr/bin/env bash
# Runs the engine and index benchmarks and the server comparison, and prints
# their ratios (docs/benchmarks.md).
#
# usage: bench/run.sh BUILD_DIR [--write-doc] [--only=engine|index|server|streams] [flags...]
#   --write-doc   also rewrite the results sections of docs/benchmarks.md (only
#                 the sections of the parts that ran)
#   --only=X      run only engine_bench, only index_bench, only the server
#                 comparison (bench/server_compare.sh: shortbusd vs
#                 nats-server), or only the streams comparison
#                 (bench/streams_compare.sh: shortbusd vs nats-server -js and
#                 redis-server streams); without --only both comparisons run
#                 when nats-server is installed
#   e.g. bench/run.sh build --benchmark_filter='Append/128'   (flags go to both binaries)
#        bench/run.sh build --only=server --reps=5   (flags go to server_compare.sh)
#        bench/run.sh build --only=streams --reps=3  (flags go to streams_compare.sh)
#
# Streams and probe files go to $SHORTBUS_BENCH_DIR (default BUILD_DIR/bench-data,
# so on the file system of the build directory) and are removed afterwards.
# The raw results stay in BUILD_DIR/bench-results.json (engine_bench) and
# BUILD_DIR/bench-index-results.json (index_bench). Takes about a minute for
# each binary on 2 cores; each writes about 18 GiB through the page cache
# (never more than ~1.3 GiB on disk at once for engine_bench, ~3 GiB for
# index_bench).
set -euo pipefail
build=${1:-build}
shift || true
write_doc=0
only=all
args=()
for a in "$@"; do
  case "$a" in
    --write-doc) write_doc=1 ;;
    --only=engine|--only=index|--only=server|--only=streams) only=${a#--only=} ;;
    --only=*) echo "run.sh: --only takes engine, index, server or streams" >&2; exit 2 ;;
    *) args+=("$a") ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
[ -f "$build/build.ninja" ] || { echo "run.sh: $build is not a configured build directory (meson setup $build)" >&2; exit 1; }
if [ "$only" = server ] || [ "$only" = streams ]; then
  exec "$here/${only}_compare.sh" "$build" $([ "$write_doc" = 1 ] && echo --write-doc) \
    ${args[@]+"${args[@]}"}
fi
targets=()
[ "$only" = index ] || targets+=(bench/engine_bench)
[ "$only" = engine ] || targets+=(bench/index_bench)
ninja -C "$build" "${targets[@]}"
data=${SHORTBUS_BENCH_DIR:-$build/bench-data}
mkdir -p "$data"
builddir=$(cd "$build" && pwd)
engine_out="$builddir/bench-results.json"
index_out="$builddir/bench-index-results.json"
cleanup() { rm -rf "$data"/shortbus-bench-*; }
trap cleanup EXIT
# What the report states about the run, recorded in the JSON with the results.
git=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' | tr -d ',=' || true)
context="git=$git,kernel=$(uname -r),nproc=$(nproc),cpu_model=${cpu:-unknown}"
start=$(date +%s)
report_args=()
if [ "$only" != index ]; then
  rm -f "$engine_out"
  SHORTBUS_BENCH_DIR="$data" "$build/bench/engine_bench" --benchmark_out="$engine_out" \
    --benchmark_out_format=json --benchmark_context="$context" ${args[@]+"${args[@]}"}
  report_args+=("$engine_out")
  echo
fi
engine_done=$(date +%s)
if [ "$only" != engine ]; then
  rm -f "$index_out"
  SHORTBUS_BENCH_DIR="$data" "$build/bench/index_bench" --benchmark_out="$index_out" \
    --benchmark_out_format=json --benchmark_context="$context" ${args[@]+"${args[@]}"}
  report_args+=(--index "$index_out")
  echo
fi
end=$(date +%s)
if [ "$write_doc" = 1 ]; then
  report_args+=(--write-doc docs/benchmarks.md)
fi
(cd "$root" && python3 bench/report.py "${report_args[@]}")
echo
echo "run.sh: benchmarks took $((end - start)) s (engine_bench $((engine_done - start)) s," \
  "index_bench $((end - engine_done)) s); raw results in $builddir/bench-*results.json"
if [ "$only" = all ]; then
  if command -v nats-server >/dev/null; then
    echo
    "$here/server_compare.sh" "$build" $([ "$write_doc" = 1 ] && echo --write-doc)
    echo
    "$here/streams_compare.sh" "$build" $([ "$write_doc" = 1 ] && echo --write-doc)
  else
    echo "run.sh: nats-server is not installed: no server or streams comparison" >&2
  fi
fi
