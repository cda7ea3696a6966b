#!/usr/bin/env bash
# cfyd's AMQP broker against Debian's RabbitMQ, same machine, same scenarios, back to back.
#
#   benches/amqp-side-by-side.sh                 # amqp-bench suite --sizes 16,1024 -n 100000 --max-secs 30
#   benches/amqp-side-by-side.sh throughput -n 20000 --manual-ack   # any amqp-bench arguments
#
# Steps: build ../shared/tools/amqp-bench (target/amqp-bench) and a release cfyd
# (`cargo build --release`), start cfyd on ephemeral ports (amqp port from ports.json),
# run amqp-bench against it, stop it; start a throw-away rabbitmq-server node on
# 127.0.0.1 (tests/compat/rabbitmq-node.sh; apt-get installs it if missing), run the
# same amqp-bench arguments, stop it; print both JSON result sets and a ratio table
# (cfyd msg/s / RabbitMQ msg/s and both p99 latencies per scenario). Only one broker
# runs at a time, so neither steals the other's CPU. Everything stays on 127.0.0.1.
#
# Environment:
#   SKIP_CFYD=1          bench RabbitMQ only (no cargo build of cfyd, no cfyd run)
#   SKIP_RABBITMQ=1      bench cfyd only
#   SBS_CFYD_BIN=PATH    use this cfyd binary instead of building target/release/cfyd
#   SKIP_BENCH_BUILD=1   use target/amqp-bench/release/amqp-bench as it is, if present
#   RABBITMQ_PORT=N      AMQP port of the RabbitMQ node (default 5699; dist N+20000, epmd N+10000)
#   BENCH_TIMEOUT_S=N    wall-clock bound for one broker's whole amqp-bench run (default 1800)
#   OUT_DIR=DIR          where the JSON lines and logs are kept (default target/amqp-side-by-side/<time>)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
shared=$(cd "$root/../shared" && pwd)
bench_src="$shared/tools/amqp-bench"
bench_target="$root/target/amqp-bench"
bench_bin="$bench_target/release/amqp-bench"
rmq_node="$root/tests/compat/rabbitmq-node.sh"
rabbitmq_port=${RABBITMQ_PORT:-5699}
bench_timeout=${BENCH_TIMEOUT_S:-1800}
out=${OUT_DIR:-$root/target/amqp-side-by-side/$(date -u +%Y%m%dT%H%M%SZ)}
CFYD_READY_TIMEOUT_S=30
CFYD_STOP_TIMEOUT_S=15

if [ $# -gt 0 ]; then
  bench_args=("$@")
else
  bench_args=(suite --sizes 16,1024 -n 100000 --max-secs 30)
fi
for a in "${bench_args[@]}"; do
  [ "$a" != "--url" ] || { echo "amqp-side-by-side: do not pass --url; the script sets it" >&2; exit 2; }
done

mkdir -p "$out"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/amqp-side-by-side.XXXXXX")
cfyd_pid=""
rmq_dir="$tmp/rabbitmq"

log() { printf '== %s\n' "$*" >&2; }

stop_cfyd() {
  [ -n "$cfyd_pid" ] || return 0
  if kill -TERM "$cfyd_pid" 2>/dev/null; then
    local deadline=$((SECONDS + CFYD_STOP_TIMEOUT_S))
    while kill -0 "$cfyd_pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    kill -KILL "$cfyd_pid" 2>/dev/null || true
  fi
  wait "$cfyd_pid" 2>/dev/null || true
  cfyd_pid=""
}

stop_rabbitmq() {
  if [ -d "$rmq_dir" ]; then
    cp -r "$rmq_dir/log" "$out/rabbitmq-logs" 2>/dev/null || true
    "$rmq_node" stop "$rmq_dir" || true
  fi
}

cleanup() {
  stop_cfyd
  stop_rabbitmq
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run_bench NAME PORT: amqp-bench with the shared arguments, JSON lines to $out/NAME.jsonl
run_bench() {
  local name=$1 port=$2 rc=0
  log "amqp-bench ${bench_args[*]} against $name on 127.0.0.1:$port"
  timeout --kill-after=10 "$bench_timeout" "$bench_bin" "${bench_args[@]}" \
    --url "amqp://guest:guest@127.0.0.1:$port" \
    >"$out/$name.jsonl" 2>"$out/$name.bench.log" || rc=$?
  if [ "$rc" -ne 0 ]; then
    log "amqp-bench against $name exited $rc (see $out/$name.bench.log)"
    tail -5 "$out/$name.bench.log" >&2 || true
  fi
  return "$rc"
}

failed=0

if [ "${SKIP_BENCH_BUILD:-}" = 1 ] && [ -x "$bench_bin" ]; then
  log "using the existing $bench_bin"
else
  log "building amqp-bench ($bench_target)"
  CARGO_TARGET_DIR="$bench_target" cargo build --quiet --release --manifest-path "$bench_src/Cargo.toml"
fi

if [ "${SKIP_CFYD:-}" != 1 ]; then
  cfyd_bin=${SBS_CFYD_BIN:-$root/target/release/cfyd}
  if [ -z "${SBS_CFYD_BIN:-}" ]; then
    log "building cfyd (cargo build --release)"
    (cd "$root" && cargo build --quiet --release)
  fi
  data="$tmp/cfyd-data"
  "$cfyd_bin" serve --ephemeral-ports --data-dir "$data" \
    </dev/null >"$out/cfyd.log" 2>&1 &
  cfyd_pid=$!
  cfyd_port=""
  deadline=$((SECONDS + CFYD_READY_TIMEOUT_S))
  while [ -z "$cfyd_port" ]; do
    if [ -f "$data/ports.json" ]; then
      cfyd_port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("amqp", ""))' \
        "$data/ports.json" 2>/dev/null || true)
      if [ -z "$cfyd_port" ] && python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$data/ports.json" 2>/dev/null; then
        echo "amqp-side-by-side: cfyd is up but has no \"amqp\" listener in ports.json:" >&2
        cat "$data/ports.json" >&2
        exit 1
      fi
    fi
    [ -n "$cfyd_port" ] && break
    kill -0 "$cfyd_pid" 2>/dev/null || { tail -20 "$out/cfyd.log" >&2; echo "amqp-side-by-side: cfyd exited" >&2; exit 1; }
    [ "$SECONDS" -lt "$deadline" ] || { tail -20 "$out/cfyd.log" >&2; echo "amqp-side-by-side: cfyd not ready" >&2; exit 1; }
    sleep 0.1
  done
  run_bench cfyd "$cfyd_port" || failed=1
  stop_cfyd
fi

if [ "${SKIP_RABBITMQ:-}" != 1 ]; then
  log "starting rabbitmq-server on 127.0.0.1:$rabbitmq_port"
  "$rmq_node" start "$rmq_dir" "$rabbitmq_port" >/dev/null
  run_bench rabbitmq "$rabbitmq_port" || failed=1
  stop_rabbitmq
fi

for name in cfyd rabbitmq; do
  [ -f "$out/$name.jsonl" ] || continue
  printf '\n== %s results (%s)\n' "$name" "$out/$name.jsonl"
  cat "$out/$name.jsonl"
done

printf '\n== cfyd vs RabbitMQ (delivered msg/s ratio > 1 means cfyd is faster)\n'
python3 - "$out/cfyd.jsonl" "$out/rabbitmq.jsonl" <<'EOF'
import json
import math
import sys


def load(path):
    rows = {}
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                r = json.loads(line)
                key = (r.get("label") or r.get("scenario", "?"), r.get("size"))
                rows[key] = r
    except FileNotFoundError:
        pass
    return rows


def num(r, k):
    if r is None or "error" in r:
        return None
    v = r.get(k)
    return v if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v)) else None


def fmt(v, digits=0):
    if v is None:
        return "-"
    return f"{v:,.{digits}f}"


cfyd, rmq = load(sys.argv[1]), load(sys.argv[2])
keys = list(cfyd) + [k for k in rmq if k not in cfyd]
head = ["scenario", "size B", "cfyd msg/s", "rabbitmq msg/s", "ratio", "cfyd p99 ms", "rabbitmq p99 ms", "notes"]
table = []
for key in keys:
    c, r = cfyd.get(key), rmq.get(key)
    cm, rm = num(c, "msgs_per_s"), num(r, "msgs_per_s")
    ratio = cm / rm if cm is not None and rm else None
    notes = []
    for who, row in (("cfyd", c), ("rabbitmq", r)):
        if row is None:
            continue
        if "error" in row:
            notes.append(f"{who} error: {row['error'][:60]}")
        elif row.get("timed_out"):
            notes.append(f"{who} timed out ({row.get('received')}/{row.get('sent')})")
        elif row.get("errors"):
            notes.append(f"{who}: {'; '.join(row['errors'])[:60]}")
    table.append([
        key[0], str(key[1]), fmt(cm), fmt(rm), fmt(ratio, 2),
        fmt(num(c, "p99_ms"), 3), fmt(num(r, "p99_ms"), 3), " ".join(notes),
    ])
widths = [max(len(h), *(len(row[i]) for row in table)) if table else len(h) for i, h in enumerate(head)]
print("  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip())
print("  ".join("-" * w for w in widths))
for row in table:
    print("  ".join(v.ljust(w) if i in (0, 7) else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths))).rstrip())
EOF

exit "$failed"
