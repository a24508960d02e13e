#!/usr/bin/env bash
# Runs bench/shortbus-load against shortbusd and nats-server side by side and
# prints the ratios (docs/benchmarks.md, "Server: shortbusd vs nats-server").
#
# usage: bench/server_compare.sh BUILD_DIR [--write-doc] [--reps=N] [--quick] [--aa]
#   --write-doc  rewrite the results part of that section and the plot
#                bench/server_compare.png (linked from the doc)
#   --reps=N     repetitions of the whole matrix (default 5; see
#                docs/benchmarks.md for which of them is reported)
#   --quick      a tenth of the messages (a smoke test, not for the doc)
#   --aa         calibration: a second nats-server (TCP only) stands in for
#                shortbusd, so every ratio should be 1.0 and the spread is
#                the noise of the method; --write-doc then rewrites the
#                A/A part of the section instead
# Environment: SHORTBUSD (default BUILD_DIR/server/shortbusd; skipped with a
# note when absent), NATS_SERVER (default: nats-server on PATH).
#
# Every server, and the calibration sink, listens on loopback or on a Unix
# socket in a temporary directory, on an ephemeral port read back from the
# file the server writes; everything started here is stopped by pid. Each
# case runs against every target back to back before the next case starts.
# Raw results (one JSON object per run) go to BUILD_DIR/bench-server-results.jsonl.
set -euo pipefail
build=${1:-build}
shift || true
write_doc=0
reps=5
scale=1
aa=0
for a in "$@"; do
  case "$a" in
    --write-doc) write_doc=1 ;;
    --reps=*) reps=${a#--reps=} ;;
    --quick) scale=10 ;;
    --aa) aa=1 ;;
    *) echo "server_compare.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
me=server_compare.sh
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
bench_prepare server
bench_find_servers
have_sb=1
if [ "$aa" = 1 ]; then
  shortbusd="$nats (A/A: a second nats-server in the shortbusd columns)"
elif [ ! -x "$shortbusd" ]; then
  have_sb=0
  echo "server_compare.sh: $shortbusd is not built: shortbusd columns are pending" >&2
fi
out="$builddir/bench-server-results.jsonl"
: >"$out"

# 10,000 idle connections: the servers started below inherit this limit.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/shortbus-compare.XXXXXX")
trap cleanup EXIT
# wait_for PID FILE: until FILE is non-empty (or the process has died).
wait_for() { wait_until "$1" "$2" test -s "$2"; }

# Each start_* sets pid and the target URLs (tcp_url, unix_url; "" when the
# server has no such listener).
start_nats() {
  local d="$tmp/nats.$RANDOM"
  mkdir -p "$d"
  "$nats" -a 127.0.0.1 -p -1 --ports_file_dir "$d" -l "$d/log" &
  pid=$!
  pids+=("$pid")
  wait_for "$pid" "$d/nats-server_$pid.ports"
  local port
  port=$(nats_port "$d/nats-server_$pid.ports")
  tcp_url="tcp://127.0.0.1:$port"
  unix_url=""
}
start_shortbusd() {
  if [ "$aa" = 1 ]; then start_nats; return; fi
  local d="$tmp/sb.$RANDOM"
  mkdir -p "$d"
  "$shortbusd" --data "$d" --listen tcp://127.0.0.1:0 --listen "unix:$d/s.sock" >"$d/log" 2>&1 &
  pid=$!
  pids+=("$pid")
  # shortbus.port is written once the daemon accepts connections.
  if ! wait_for "$pid" "$d/shortbus.port"; then
    echo "server_compare.sh: shortbusd did not start; its log:" >&2
    tail -n 20 "$d/log" >&2
    stop "$pid"
    return 1
  fi
  tcp_url="tcp://127.0.0.1:$(cat "$d/shortbus.port")"
  unix_url="unix://$d/s.sock"
}
start_sink() {  # start_sink MSGS SIZE: the generator's own trivial server
  local d="$tmp/sink.$RANDOM"
  mkdir -p "$d"
  "$load" sink --listen tcp://127.0.0.1:0 --port-file "$d/port" --msgs "$1" --size "$2" &
  pid=$!
  pids+=("$pid")
  wait_for "$pid" "$d/port"
  sink_tcp_pid=$pid
  "$load" sink --listen "unix://$d/s.sock" --port-file "$d/uport" --msgs "$1" --size "$2" &
  pid=$!
  pids+=("$pid")
  wait_for "$pid" "$d/uport"
  tcp_url="tcp://127.0.0.1:$(cat "$d/port")"
  unix_url="unix://$d/s.sock"
}

# run LABEL URL SCENARIO ARGS...: one run, its JSON line appended to $out
# (a failed run leaves a line with "error"; its stderr is shown).
run() {
  local label=$1 url=$2
  shift 2
  local line
  line=$(timeout 300 "$load" "$@" --server "$url" --label "$label" --json 2>"$tmp/err") || {
    echo "server_compare.sh: $label $url $*: $(tail -n 3 "$tmp/err")" >&2
    [ -n "$line" ] || line="{\"label\":\"$label\",\"server\":\"$url\",\"args\":\"$*\",\"error\":\"no output (timeout?)\"}"
  }
  echo "$line" >>"$out"
  echo "$line"
}

n() { echo $(($1 / scale)); }
# sb_failed WHAT: a shortbusd that would not start, recorded for the report.
sb_failed() {
  echo "{\"label\":\"shortbusd\",\"case\":\"$1\",\"error\":\"shortbusd did not start (no shortbus.port)\"}" >>"$out"
}
# The throughput and latency cases, in the order they run.
cases=(
  "pub --msgs $(n 5000000) --size 128"
  "pubsub --msgs $(n 2000000) --size 16"
  "pubsub --msgs $(n 2000000) --size 128"
  "pubsub --msgs $(n 500000) --size 1024"
  "fanout --subs 4 --msgs $(n 500000) --size 128"
  "queue --pubs 2 --members 3 --msgs $(n 2000000) --size 128"
  "reqrep --msgs $(n 20000) --size 128 --inflight 1"
  "reqrep --msgs $(n 100000) --size 128 --inflight 16"
)
idle_conns=$(n 10000)

start=$(date +%s)
load_avg=$(cut -d' ' -f1-3 /proc/loadavg)
for ((rep = 1; rep <= reps; rep++)); do
  echo "== repetition $rep of $reps" >&2
  # Idle connections, each on a freshly started server (so that the idle
  # RSS is the server's at start), one transport at a time.
  start_nats
  run nats-server "$tcp_url" idle --conns "$idle_conns" --server-pid "$pid"
  stop "$pid"
  if [ "$have_sb" = 1 ]; then
    for transport in tcp unix; do
      start_shortbusd || { sb_failed "idle/$idle_conns"; continue; }
      url=$tcp_url
      [ "$transport" = unix ] && url=$unix_url
      [ -z "$url" ] || run shortbusd "$url" idle --conns "$idle_conns" --server-pid "$pid"
      stop "$pid"
    done
  fi
  # The throughput cases: one fresh instance of each server for the whole
  # repetition, every case against each target back to back.
  start_nats
  nats_pid=$pid nats_tcp=$tcp_url
  targets=("nats-server $nats_tcp")
  sb_pid=
  if [ "$have_sb" = 1 ] && start_shortbusd; then
    sb_pid=$pid
    targets+=("shortbusd $tcp_url")
    [ -z "$unix_url" ] || targets+=("shortbusd $unix_url")
  elif [ "$have_sb" = 1 ]; then
    sb_failed "the throughput and latency cases of repetition $rep"
  fi
  run_cases "$rep"
  # Request/reply latency paired: sequential round trips alternating
  # between nats-server and shortbusd in one process, so that both see the
  # same moments of the machine (the issue's latency targets use these).
  # (nats-server's half of the pairing with shortbusd's Unix socket is
  # labelled nats-server-vs-unix: the Unix ratio divides by it.)
  for t in "${targets[@]:1}"; do
    # shellcheck disable=SC2086
    set -- $t
    label=nats-server
    [ "${2#unix:}" = "$2" ] || label=nats-server-vs-unix
    run "$label" "$nats_tcp" reqrep --msgs "$(n 20000)" --size 128 --server2 "$2" --label2 "$1"
  done
  stop "$nats_pid"
  [ -z "$sb_pid" ] || stop "$sb_pid"
  # The generator against its own sink: what it can do when the server
  # costs nothing (publisher, and subscriber parsing a flood of MSG frames).
  start_sink "$(n 1000000)" 128
  for url in "$tcp_url" "$unix_url"; do
    run sink "$url" pub --msgs "$(n 5000000)" --size 128
    run sink "$url" pubsub --msgs "$(n 1000000)" --size 128
  done
  stop "$pid"
  stop "$sink_tcp_pid"
done
end=$(date +%s)

machine_facts
nats_version=$("$nats" --version 2>&1 | head -n 1)
report_args=("$out" --reps "$reps" --seconds "$((end - start))"
  --context "git=$git" --context "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  --context "machine=$(nproc) CPUs ($cpu), $mem RAM, Linux $(uname -r)"
  --context "load=$load_avg" --context "nats=$nats_version"
  --context "shortbusd=$([ "$have_sb" = 1 ] && echo "$shortbusd" || echo "")"
  --context "quick=$([ "$scale" = 1 ] && echo 0 || echo 1)" --context "aa=$aa")
if [ "$write_doc" = 1 ] && [ "$aa" = 1 ]; then
  report_args+=(--write-doc "$root/docs/benchmarks.md")
elif [ "$write_doc" = 1 ]; then
  report_args+=(--write-doc "$root/docs/benchmarks.md" --plot "$root/bench/server_compare.png")
fi
python3 "$here/server_report.py" "${report_args[@]}"
echo
echo "server_compare.sh: took $((end - start)) s; raw results in $out"
