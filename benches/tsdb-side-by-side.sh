#!/usr/bin/env bash
# cfyd's time-series store against Debian's influxdb 1.6, same machine, same
# dataset (../shared/tools/tsdb-bench/gen_devops.py: 100 hosts x 10 fields, 10 s,
# 24 h = 8.64 M field values), back to back, one server at a time.
#
#   benches/tsdb-side-by-side.sh                  # full precision and --decimals 2
#   TSDB_BENCH_HOURS=6 benches/tsdb-side-by-side.sh   # a smaller run
#
# For each server and dataset: ingest over HTTP in batches of 5,000 lines, the
# four queries (10 reps), then bytes on disk per field value — for cfyd the block
# files after a clean stop (which flushes; chunks are sealed at 1,000 points
# during ingest), for influxd the TSM files after its cold full compaction (it
# waits 45 s, as tools/tsdb-bench/README says). Prints one JSON line per run and a
# ratio table. Environment: SKIP_INFLUXDB=1, SKIP_CFYD=1, SBS_CFYD_BIN=PATH,
# OUT_DIR=DIR (default target/tsdb-side-by-side/<time>).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tool=$(cd "$root/../shared/tools/tsdb-bench" && pwd)
out=${OUT_DIR:-$root/target/tsdb-side-by-side/$(date +%Y%m%d-%H%M%S)}
hours=${TSDB_BENCH_HOURS:-24}
mkdir -p "$out"

run_gen() { # url db decimals-args...
  local url=$1 db=$2; shift 2
  python3 "$tool/gen_devops.py" all --url "$url" --db "$db" --hours "$hours" "$@" 2>>"$out/gen.log"
}

bytes_per_value() { # bytes values
  python3 -c "print(round($1 / $2, 3))"
}

values=$(python3 -c "print(100 * int($hours * 3600 // 10) * 10)")

if [ -z "${SKIP_CFYD:-}" ]; then
  bin=${SBS_CFYD_BIN:-}
  if [ -z "$bin" ]; then
    (cd "$root" && cargo build --release --quiet --bin cfyd)
    bin=$root/target/release/cfyd
  fi
  for dec in full 2; do
    data=$out/cfyd-$dec
    "$bin" serve --ephemeral-ports --log-filter warn --data-dir "$data" >"$out/cfyd-$dec.log" 2>&1 &
    pid=$!
    for _ in $(seq 200); do [ -f "$data/ports.json" ] && break; sleep 0.05; done
    port=$(python3 -c "import json;print(json.load(open('$data/ports.json'))['influxdb'])")
    args=(); [ "$dec" = 2 ] && args=(--decimals 2)
    run_gen "http://127.0.0.1:$port" bench "${args[@]}" >"$out/cfyd-$dec.json"
    rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
    kill -TERM $pid; wait $pid || true
    bytes=$(du -sb "$data/tsdb/blocks" | cut -f1)
    echo "{\"server\":\"cfyd\",\"decimals\":\"$dec\",\"disk_bytes\":$bytes,\"bytes_per_value\":$(bytes_per_value "$bytes" "$values"),\"rss_kib\":$rss}" | tee "$out/cfyd-$dec.disk.json"
  done
fi

if [ -z "${SKIP_INFLUXDB:-}" ]; then
  if ! command -v influxd >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq influxdb >/dev/null
  fi
  for dec in full 2; do
    scratch=$out/influxd-$dec
    mkdir -p "$scratch"
    sed "s#SCRATCH#$scratch#g" "$tool/influxdb-bench.conf" >"$scratch/influxdb.conf"
    influxd -config "$scratch/influxdb.conf" >"$scratch/influxd.log" 2>&1 &
    pid=$!
    for _ in $(seq 200); do curl -sf http://127.0.0.1:8086/ping >/dev/null && break; sleep 0.1; done
    args=(); [ "$dec" = 2 ] && args=(--decimals 2)
    run_gen "http://127.0.0.1:8086" bench "${args[@]}" >"$out/influxd-$dec.json"
    sleep 45
    rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
    bytes=$(find "$scratch/data" -name '*.tsm' -printf '%s\n' | awk '{s+=$1} END {print s+0}')
    kill -TERM $pid; wait $pid || true
    echo "{\"server\":\"influxd\",\"decimals\":\"$dec\",\"disk_bytes\":$bytes,\"bytes_per_value\":$(bytes_per_value "$bytes" "$values"),\"rss_kib\":$rss}" | tee "$out/influxd-$dec.disk.json"
  done
fi

python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
def load(name):
    p = os.path.join(out, name)
    return json.load(open(p)) if os.path.exists(p) else None
for dec in ("full", "2"):
    c, i = load(f"cfyd-{dec}.json"), load(f"influxd-{dec}.json")
    cd, idd = load(f"cfyd-{dec}.disk.json"), load(f"influxd-{dec}.disk.json")
    print(f"\n== decimals {dec}")
    if c and i:
        a, b = c["ingest"]["points_per_s"], i["ingest"]["points_per_s"]
        print(f"ingest points/s   cfyd {a:>10}  influxd {b:>10}  ratio {a / b:.2f}x")
        for q in c["queries"]:
            x, y = c["queries"][q]["ms_median"], i["queries"][q]["ms_median"]
            print(f"{q:<34} cfyd {x:>8} ms  influxd {y:>8} ms  {y / max(x, 0.001):.1f}x faster")
    if cd and idd:
        print(f"bytes/value       cfyd {cd['bytes_per_value']:>10}  influxd {idd['bytes_per_value']:>10}")
PY
echo "results in $out"
