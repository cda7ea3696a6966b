#!/usr/bin/env bash
# REST load with 10,000 stored node instances: wrk (Debian) with 100
# connections on loopback against a release cfyd; single node-instance gets
# and the deployment's node-instance list. Prints wrk's summaries.
#
#   benches/rest-load.sh            # builds target/release/cfyd first
#   SKIP_BUILD=1 DURATION=10s benches/rest-load.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
duration=${DURATION:-10s}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
[ -n "${SKIP_BUILD:-}" ] || (cd "$root" && cargo build --release --quiet --bin cfyd)
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
"$root/target/release/cfyd" serve --ephemeral-ports --data-dir "$tmp/data" --log-filter warn >"$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 300); do [ -f "$tmp/data/ports.json" ] && break; sleep 0.1; done
port=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['rest'])" "$tmp/data/ports.json")
base="http://127.0.0.1:$port/api/v2"

mkdir -p "$tmp/bp/big"
cat >"$tmp/bp/big/blueprint.yaml" <<'YAML'
tosca_definitions_version: cloudify_dsl_1_2
imports: [http://www.getcloudify.org/spec/cloudify/3.3.1/types.yaml]
node_templates:
  host:
    type: cloudify.nodes.Compute
    instances: {deploy: 100}
  app:
    type: cloudify.nodes.SoftwareComponent
    instances: {deploy: 99}
    relationships: [{type: cloudify.relationships.contained_in, target: host}]
YAML
tar czf "$tmp/bp.tar.gz" -C "$tmp/bp" big
curl -sf -X PUT "$base/blueprints/big" -H 'Content-Type: application/json' --data-binary @"$tmp/bp.tar.gz" >/dev/null
curl -sf -X PUT "$base/deployments/big" -H 'Content-Type: application/json' -d '{"blueprint_id": "big"}' >/dev/null
count=$(curl -sf "$base/node-instances?deployment_id=big&_size=1" | python3 -c "import json,sys;print(json.load(sys.stdin)['metadata']['pagination']['total'])")
id=$(curl -sf "$base/node-instances?deployment_id=big&_size=1&_include=id" | python3 -c "import json,sys;print(json.load(sys.stdin)['items'][0]['id'])")
echo "== $count node instances stored; single get of $id, 100 connections, $duration"
wrk -t2 -c100 -d"$duration" --latency "$base/node-instances/$id"
echo "== list of one deployment's node instances (_size=100), 100 connections, $duration"
wrk -t2 -c100 -d"$duration" --latency "$base/node-instances?deployment_id=big&_size=100"
