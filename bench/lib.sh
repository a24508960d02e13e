# shellcheck shell=bash disable=SC2034,SC2154  # sourced: the caller sets and reads these variables
# What bench/server_compare.sh and bench/streams_compare.sh share; sourced by
# them (bash, set -euo pipefail). The caller sets `me` (its name, for
# messages) and `build` (the build directory as given) before calling.
#
# Process bookkeeping: every process started in the background is added to
# `pids`; `stop` ends one, `cleanup` (the caller's EXIT trap) ends all that
# are left and removes `$tmp`.

# bench_prepare NAME: checks the build directory, sets root, builddir and
# load, and builds bench/shortbus-load (its log in
# BUILD_DIR/bench-NAME-ninja.log; a failed build still runs with the
# generator already built, if any).
bench_prepare() {
  root=$(dirname "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)")
  [ -f "$build/build.ninja" ] || { echo "$me: $build is not a configured build directory" >&2; exit 1; }
  builddir=$(cd "$build" && pwd)
  load="$builddir/bench/shortbus-load"
  if ! ninja -C "$build" bench/shortbus-load >"$builddir/bench-$1-ninja.log" 2>&1; then
    [ -x "$load" ] || { cat "$builddir/bench-$1-ninja.log" >&2; exit 1; }
    echo "$me: ninja failed (see $builddir/bench-$1-ninja.log); using the $load already built" >&2
  fi
}

# bench_find_servers: sets nats (NATS_SERVER, else nats-server on PATH; exits
# when there is none) and shortbusd (SHORTBUSD, else BUILD_DIR/server/shortbusd).
bench_find_servers() {
  nats=${NATS_SERVER:-$(command -v nats-server || true)}
  shortbusd=${SHORTBUSD:-$builddir/server/shortbusd}
  [ -n "$nats" ] && [ -x "$nats" ] || { echo "$me: nats-server is not installed" >&2; exit 1; }
}

pids=()
forget() {  # forget PID: no longer ours to stop
  local p kept=()
  for p in ${pids[@]+"${pids[@]}"}; do [ "$p" = "$1" ] || kept+=("$p"); done
  pids=(${kept[@]+"${kept[@]}"})
}
ours() {  # ours PID: started here and not yet stopped
  local p
  for p in ${pids[@]+"${pids[@]}"}; do [ "$p" = "$1" ] && return 0; done
  return 1
}
gone() {  # gone PID: exited (or a zombie awaiting wait)
  ! kill -0 "$1" 2>/dev/null || [ "$(sed -n 's/^State:\s*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null)" = Z ]
}
stop() {  # stop PID: SIGTERM, up to 10 s to exit, then SIGKILL; reaped
  local i
  kill "$1" 2>/dev/null || true
  for ((i = 0; i < 400; i++)); do gone "$1" && break; sleep 0.025; done
  gone "$1" || { echo "$me: pid $1 ignored SIGTERM for 10 s: SIGKILL" >&2; kill -KILL "$1" 2>/dev/null || true; }
  wait "$1" 2>/dev/null || true
  forget "$1"
}
cleanup() {
  local p
  for p in ${pids[@]+"${pids[@]}"}; do stop "$p"; done
  rm -rf "$tmp"
}
# wait_until PID WHAT CMD...: until CMD succeeds, the process dies, or 10 s.
wait_until() {
  local pid=$1 what=$2 i
  shift 2
  for ((i = 0; i < 400; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    gone "$pid" && { echo "$me: pid $pid exited before $what" >&2; return 1; }
    sleep 0.025
  done
  echo "$me: no $what after 10 s" >&2
  return 1
}

# nats_port PORTS_FILE: the client port in nats-server's --ports_file_dir file.
nats_port() {
  sed -n 's/.*"nats":\["nats:\/\/[^"]*:\([0-9][0-9]*\)".*/\1/p' "$1"
}

# set_order REP: order = targets, reversed on even repetitions, so that no
# server always goes first.
set_order() {
  local i
  order=("${targets[@]}")
  if (($1 % 2 == 0)); then
    order=()
    for ((i = ${#targets[@]} - 1; i >= 0; i--)); do order+=("${targets[$i]}"); done
  fi
}

# run_cases REP: every case of `cases` against each target, in the order
# set_order gives; `run LABEL URL ARGS...` is the caller's.
run_cases() {
  local c t
  set_order "$1"
  for c in "${cases[@]}"; do
    for t in "${order[@]}"; do
      # shellcheck disable=SC2086
      run $t $c
    done
  done
}

# machine_facts: sets git (describe of the tree), cpu (model name) and mem
# (RAM in GiB) for the report's context.
machine_facts() {
  git=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
  cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
  mem=$(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
}
