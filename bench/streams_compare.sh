#!/usr/bin/env bash
# Durable streams side by side (issue 6, "Benchmarks"): acknowledged publish
# and pull fetch through the JetStream API, driven by bench/shortbus-load
# against nats-server -js and shortbusd (sync=interval and sync=always),
# and redis-server streams (XADD through redis-benchmark, appendfsync
# everysec and always). Prints the markdown section and writes the results.
#
# usage: bench/streams_compare.sh BUILD_DIR [--reps=N] [--window=N] [--quick] [--md=FILE]
#                                 [--write-doc]
#   --reps=N     repetitions of the whole matrix (default 3)
#   --window=N   publishes in flight in the pipelined cases, and redis-benchmark's
#                -P (default 256)
#   --quick      a tenth of the messages (a smoke test, not a measurement)
#   --md=FILE    where the markdown goes (default BUILD_DIR/bench-streams.md)
#   --write-doc  also replace the text between the streams-results markers
#                of docs/benchmarks.md (bench/streams_report.py)
# Environment: SHORTBUSD (default BUILD_DIR/server/shortbusd; its columns
# read "pending" when absent), NATS_SERVER, REDIS_SERVER, REDIS_BENCHMARK,
# REDIS_CLI (default: on PATH; redis is skipped with a note when absent),
# SHORTBUS_BENCH_DIR (default BUILD_DIR/bench-data: the servers' data
# directories go there, so on the build directory's file system).
#
# Outputs: BUILD_DIR/bench-streams-results.jsonl (one JSON object per run),
# BUILD_DIR/bench-streams-results.json (figures, ratios, targets, context)
# and the markdown file. Every server listens on 127.0.0.1 with an
# ephemeral port, in a temporary directory of its own under the bench data
# directory; every wait is bounded; everything started here is stopped by
# pid and the directories are removed.
set -euo pipefail
build=${1:-build}
shift || true
reps=3
scale=1
md=
write_doc=0
window=256
for a in "$@"; do
  case "$a" in
    --write-doc) write_doc=1 ;;
    --reps=*) reps=${a#--reps=} ;;
    --window=*) window=${a#--window=} ;;
    --quick) scale=10 ;;
    --md=*) md=${a#--md=} ;;
    *) echo "streams_compare.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done
command_line="bench/streams_compare.sh $build${*:+ $*}"
here=$(cd "$(dirname "$0")" && pwd)
me=streams_compare.sh
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
bench_prepare streams
bench_find_servers
redis=${REDIS_SERVER:-$(command -v redis-server || true)}
redis_bench=${REDIS_BENCHMARK:-$(command -v redis-benchmark || true)}
redis_cli=${REDIS_CLI:-$(command -v redis-cli || true)}
have_sb=1
[ -x "$shortbusd" ] || { have_sb=0; echo "streams_compare.sh: $shortbusd is not built: shortbusd columns are pending" >&2; }
have_redis=1
for x in "$redis" "$redis_bench" "$redis_cli"; do
  [ -n "$x" ] && [ -x "$x" ] || have_redis=0
done
[ "$have_redis" = 1 ] || echo "streams_compare.sh: redis-server/redis-tools not installed (tools/install-deps.sh): no redis columns" >&2
out="$builddir/bench-streams-results.jsonl"
summary="$builddir/bench-streams-results.json"
md=${md:-$builddir/bench-streams.md}
: >"$out"

data=${SHORTBUS_BENCH_DIR:-$builddir/bench-data}
mkdir -p "$data"
tmp=$(mktemp -d "$data/shortbus-streams.XXXXXX")
trap cleanup EXIT

# Each start_* sets pid and url, or returns 1 (the log tail on stderr).
start_nats() {
  local d="$tmp/nats.$RANDOM"
  mkdir -p "$d"
  "$nats" -js -sd "$d/js" -a 127.0.0.1 -p -1 --ports_file_dir "$d" -l "$d/log" &
  pid=$!
  pids+=("$pid")
  wait_until "$pid" "nats-server's ports file" test -s "$d/nats-server_$pid.ports" || return 1
  url="tcp://127.0.0.1:$(nats_port "$d/nats-server_$pid.ports")"
}
start_shortbusd() {  # start_shortbusd SYNC
  local d="$tmp/sb-$1.$RANDOM"
  mkdir -p "$d"
  "$shortbusd" --data "$d" --listen tcp://127.0.0.1:0 --sync "$1" >"$d/log" 2>&1 &
  pid=$!
  pids+=("$pid")
  sb_log["$1"]="$d/log"
  # shortbus.port is written once the daemon accepts connections.
  if ! wait_until "$pid" "$d/shortbus.port" test -s "$d/shortbus.port"; then
    tail -n 20 "$d/log" >&2
    stop "$pid"
    return 1
  fi
  url="tcp://127.0.0.1:$(cat "$d/shortbus.port")"
}
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
start_redis() {  # start_redis FSYNC: redis_port set; a port taken meanwhile is retried
  local d="$tmp/redis-$1.$RANDOM" try
  mkdir -p "$d"
  for try in 1 2 3; do
    redis_port=$(free_port)
    "$redis" --port "$redis_port" --bind 127.0.0.1 --dir "$d" --appendonly yes \
      --appendfsync "$1" --save '' --logfile "$d/log" --daemonize no &
    pid=$!
    pids+=("$pid")
    wait_until "$pid" "redis PONG on port $redis_port" \
      sh -c "[ \"\$('$redis_cli' -h 127.0.0.1 -p $redis_port ping)\" = PONG ]" && return 0
    stop "$pid"
  done
  tail -n 20 "$d/log" >&2
  return 1
}

# run LABEL URL ARGS...: one run of the generator, its JSON lines appended
# to $out (a failure leaves a line with "error"; its stderr is shown).
run() {
  local label=$1 url=$2
  shift 2
  local lines
  echo "\$ shortbus-load $* --server $url --label $label --json" >&2
  lines=$(timeout 120 "$load" "$@" --server "$url" --label "$label" --json 2>"$tmp/err") || {
    echo "streams_compare.sh: $label $url $*: $(tail -n 3 "$tmp/err")" >&2
    [ -n "$lines" ] || lines="{\"label\":\"$label\",\"server\":\"$url\",\"args\":\"$*\",\"error\":\"no output (timeout?)\"}"
  }
  # A warning the generator printed on a run that still finished.
  [ ! -s "$tmp/err" ] || sed 's/^/  /' "$tmp/err" >&2
  echo "$lines" >>"$out"
  echo "$lines"
}
fail() {  # fail LABEL CASE MESSAGE: a run that could not happen
  echo "{\"label\":\"$1\",\"case\":\"$2\",\"error\":$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$3")}" >>"$out"
}

n() { echo $(($1 / scale)); }
batch=500
fetch_msgs=$(n 200000)
# Each generator run publishes for at most this long (a server that syncs
# every acknowledgement on a slow disk then measures fewer messages).
cap=$(awk -v s="$scale" 'BEGIN { print 5 / s }')
# The NATS-protocol cases, in the order they run (jspub picks its stream).
cases=(
  "jspub --msgs $(n 5000) --warmup 100 --size 128 --inflight 1 --max-seconds $cap"
  "jspub --msgs $(n $((800 * window))) --size 128 --inflight $window --max-seconds $cap"
  "jsfetch --msgs $fetch_msgs --size 128 --batch $batch --ack explicit --inflight $window --max-seconds $cap"
)
paired="jspub --msgs $(n 5000) --warmup 100 --size 128 --inflight 1 --max-seconds $cap"
pingpong="pingpong --msgs $(n 5000) --warmup 100 --size 128"
# redis-benchmark XADD: one connection (-c 1) like the generator, one
# command at a time (-P 1) or pipelined in rounds of $window (-P); -n is a
# multiple of -P so that exactly -n entries are added (checked with XLEN).
# "P N" pairs for each appendfsync; fewer under always (redis-benchmark has
# no time limit, and each command or round waits for an fsync).
value=$(printf 'x%.0s' $(seq 128))
redis_cases_everysec=("1 $(n 20000)" "$window $(($(n 800) * window))")
redis_cases_always=("1 $(n 1000)" "$window $(($(n 200) * window))")

# run_redis LABEL FSYNC: both redis cases on a fresh server.
run_redis() {
  local label=$1 fsync=$2 c p count key csv line len
  local -n redis_cases="redis_cases_$fsync"
  if ! start_redis "$fsync"; then
    for c in "${redis_cases[@]}"; do fail "$label" "xadd/128/P${c%% *}" "redis-server did not start"; done
    return
  fi
  for c in "${redis_cases[@]}"; do
    p=${c%% *} count=${c##* } key="bench:P$p"
    echo "\$ redis-benchmark -h 127.0.0.1 -p $redis_port -c 1 -n $count -P $p --csv --precision 3 XADD $key '*' p <128 x> # appendfsync $fsync" >&2
    if ! csv=$(timeout 120 "$redis_bench" -h 127.0.0.1 -p "$redis_port" -c 1 -n "$count" -P "$p" \
      --csv --precision 3 XADD "$key" '*' p "$value" 2>"$tmp/err"); then
      fail "$label" "xadd/128/P$p" "redis-benchmark failed: $(tail -n 3 "$tmp/err")"
      continue
    fi
    len=$("$redis_cli" -h 127.0.0.1 -p "$redis_port" XLEN "$key")
    line=$(printf '%s\n' "$csv" | tail -n 1 | python3 -c '
import json, sys
f = [x.strip("\"") for x in sys.stdin.read().strip().split("\",\"")]
label, case, n, xlen, fsync = sys.argv[1:6]
r = {"scenario": "redis-xadd", "case": case, "label": label, "transport": "tcp",
     "size": 128, "msgs": int(n), "xlen": int(xlen), "appendfsync": fsync,
     "msgs_per_s": float(f[1]), "mean_us": 1e3 * float(f[2]), "p50_us": 1e3 * float(f[4]),
     "p95_us": 1e3 * float(f[5]), "p99_us": 1e3 * float(f[6]), "max_us": 1e3 * float(f[7])}
if int(xlen) != int(n):
    r["error"] = "XLEN %s after %s XADDs" % (xlen, n)
print(json.dumps(r))' "$label" "xadd/128/P$p" "$count" "$len" "$fsync")
    echo "$line" >>"$out"
    echo "$line"
    "$redis_cli" -h 127.0.0.1 -p "$redis_port" DEL "$key" >/dev/null
  done
  stop "$pid"
}

# The physical limit under sync=always and appendfsync always: store 4 KiB
# into a preallocated file through write(), then fdatasync, on the file
# system of the servers' data directories.
probe_n=200
probe_fdatasync() {
  local line
  echo "\$ probe: $probe_n x (pwrite 4 KiB + fdatasync) in $tmp" >&2
  line=$(timeout 120 python3 -c '
import json, os, sys, time
path, n = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
try:
    os.posix_fallocate(fd, 0, n * 4096)
    os.fsync(fd)
    us = []
    for i in range(n):
        os.pwrite(fd, b"x" * 4096, i * 4096)
        t = time.perf_counter()
        os.fdatasync(fd)
        us.append((time.perf_counter() - t) * 1e6)
finally:
    os.close(fd)
    os.unlink(path)
us.sort()
pick = lambda p: us[min(len(us) - 1, int(p / 100 * len(us)))]
print(json.dumps({"scenario": "probe", "case": "fdatasync/4096", "label": "fdatasync",
                  "msgs": n, "p50_us": pick(50), "p90_us": pick(90), "p99_us": pick(99),
                  "mean_us": sum(us) / n}))' "$tmp/fdatasync-probe" "$probe_n") ||
    line='{"label":"fdatasync","case":"fdatasync/4096","error":"probe failed"}'
  echo "$line" >>"$out"
  echo "$line"
}

declare -A sb_log
start=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for ((rep = 1; rep <= reps; rep++)); do
  echo "== repetition $rep of $reps" >&2
  targets=()
  started=()
  if start_nats; then
    nats_url=$url
    targets+=("nats-server $url")
    started+=("$pid")
  else
    nats_url=
    for c in "${cases[@]}"; do fail nats-server "$c" "nats-server -js did not start"; done
  fi
  declare -A sb_url=() sb_pid=()
  if [ "$have_sb" = 1 ]; then
    for sync in interval always; do
      label=shortbusd
      [ "$sync" = interval ] || label=shortbusd-always
      if start_shortbusd "$sync"; then
        targets+=("$label $url")
        sb_url[$sync]=$url
        sb_pid[$sync]=$pid
        started+=("$pid")
      else
        fail "$label" "all cases of repetition $rep" "shortbusd --sync $sync did not start (no shortbus.port)"
      fi
    done
  fi
  run_cases "$rep"
  # Synchronous publish paired: one process alternates publishes between
  # nats-server and shortbusd, so that both see the same moments.
  if [ -n "$nats_url" ]; then
    for sync in interval always; do
      [ -n "${sb_url[$sync]:-}" ] || continue
      label2=shortbusd
      [ "$sync" = interval ] || label2=shortbusd-always
      # shellcheck disable=SC2086
      run "nats-server-vs-$sync" "$nats_url" $paired --server2 "${sb_url[$sync]}" --label2 "$label2"
    done
  fi
  # The floor of any synchronous reply, in the same minutes: a loopback TCP
  # echo between two processes (bench/load/pingpong.h).
  run loopback tcp://127.0.0.1:0 $pingpong
  # A daemon that died during the repetition is a finding: say so, with its log.
  for sync in interval always; do
    p=${sb_pid[$sync]:-}
    [ -n "$p" ] || continue
    if gone "$p"; then
      status=0
      wait "$p" || status=$?
      forget "$p"
      fail "shortbusd-$sync" "repetition $rep" "shortbusd --sync $sync exited (status $status) during the repetition; log: $(tail -n 5 "${sb_log[$sync]}" | tr '\n' ' ')"
    fi
  done
  for p in ${started[@]+"${started[@]}"}; do
    ours "$p" && stop "$p"
  done
  probe_fdatasync
  if [ "$have_redis" = 1 ]; then
    run_redis redis-everysec everysec
    run_redis redis-always always
  fi
done
end=$(date +%s)
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

machine_facts
fs=$(df -T "$data" | awk 'NR == 2 {print $2}')
report_args=("$out" --reps "$reps" --seconds "$((end - start))" --json-out "$summary" --md-out "$md"
  --context "git=$git" --context "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  --context "command=$command_line"
  --context "machine=$(nproc) CPUs ($cpu), $mem RAM, Linux $(uname -r)"
  --context "load_start=$load_start" --context "load_end=$load_end"
  --context "data_fs=$fs" --context "nats=$("$nats" --version 2>&1 | head -n 1)"
  --context "shortbusd=$([ "$have_sb" = 1 ] && echo "$shortbusd" || echo "")"
  --context "redis=$([ "$have_redis" = 1 ] && "$redis" --version | head -n 1 || echo "")"
  --context "quick=$([ "$scale" = 1 ] && echo 0 || echo 1)"
  --context "window=$window" --context "batch=$batch" --context "fetch_msgs=$fetch_msgs"
  --context "probe_n=$probe_n" --context "cap=$cap")
for c in "${cases[@]}"; do report_args+=(--context "case=shortbus-load $c"); done
report_args+=(--context "case=shortbus-load $paired --server2 URL")
report_args+=(--context "case=shortbus-load $pingpong --server tcp://127.0.0.1:0 (echo peer in a child process)")
for fsync in everysec always; do
  declare -n list="redis_cases_$fsync"
  for c in "${list[@]}"; do
    report_args+=(--context "case=redis-benchmark -c 1 -n ${c##* } -P ${c%% *} --csv --precision 3 XADD bench:P${c%% *} '*' p <128 x> (appendfsync $fsync)")
  done
  unset -n list
done
report_args+=(--context "case=probe: store 4 KiB + fdatasync, ${probe_n} times, into a preallocated file under the bench data directory")
[ "$write_doc" = 0 ] || report_args+=(--write-doc "$root/docs/benchmarks.md")
python3 "$here/streams_report.py" "${report_args[@]}"
echo
echo "streams_compare.sh: took $((end - start)) s; raw results in $out, figures in $summary, markdown in $md"
