#!/usr/bin/env bash
# A throw-away Debian rabbitmq-server node on 127.0.0.1 only, controlled by pid.
# Used to check that the AMQP compatibility suites (and the side-by-side bench)
# are themselves right, by running them against the real RabbitMQ.
#
#   rabbitmq-node.sh start DIR [PORT]   # boots a node in DIR (created), waits until
#                                       # PORT (default 5699) accepts AMQP, prints the pid
#   rabbitmq-node.sh stop DIR           # SIGTERM by pid (SIGKILL after 30 s), removes DIR
#
# Everything the node writes lives in DIR: mnesia, logs, config, the Erlang cookie
# (HOME), and its own epmd (on an unusual port, so no other epmd is touched). Ports:
# AMQP PORT, Erlang distribution PORT+20000, epmd PORT+10000, all on 127.0.0.1.
# Installs rabbitmq-server with apt-get when it is missing (needs root).
set -euo pipefail

RMQ_BIN=/usr/lib/rabbitmq/bin/rabbitmq-server
START_TIMEOUT_S=${RABBITMQ_START_TIMEOUT_S:-90}
STOP_TIMEOUT_S=30

die() { echo "rabbitmq-node: $*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ensure_installed() {
  if [ ! -x "$RMQ_BIN" ]; then
    echo "rabbitmq-node: installing rabbitmq-server with apt-get" >&2
    apt-get update -qq
    # policy-rc.d / no systemd keeps the packaged service from starting here;
    # if it does start, it listens on 5672, which we never use.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
  fi
  [ -x "$RMQ_BIN" ] || die "no $RMQ_BIN after install"
}

start() {
  local dir=$1 port=${2:-5699}
  local dist_port=$((port + 20000)) epmd_port=$((port + 10000))
  ensure_installed
  port_open "$port" && die "127.0.0.1:$port is already in use"
  mkdir -p "$dir/home" "$dir/mnesia" "$dir/log"
  dir=$(cd "$dir" && pwd)
  cat > "$dir/rabbitmq.conf" <<EOF
listeners.tcp.1 = 127.0.0.1:$port
EOF
  echo '[].' > "$dir/enabled_plugins"

  # Our own epmd, so its pid is ours to stop.
  epmd -address 127.0.0.1 -port "$epmd_port" >"$dir/log/epmd.log" 2>&1 &
  echo $! > "$dir/epmd.pid"

  (
    export HOME="$dir/home"
    export ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT=$epmd_port
    export RABBITMQ_NODENAME="rabbit-compat-$port@localhost"
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$port
    export RABBITMQ_DIST_PORT=$dist_port
    export RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
    export RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
    export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
    export RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log"
    export RABBITMQ_PID_FILE="$dir/beam.pid"
    # The Erlang distribution listener binds 127.0.0.1 too.
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    cd "$dir"
    exec "$RMQ_BIN" </dev/null >"$dir/log/stdout.log" 2>&1
  ) &
  local pid=$!
  echo "$pid" > "$dir/rabbitmq.pid"

  local deadline=$((SECONDS + START_TIMEOUT_S))
  while ! port_open "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -30 "$dir/log/stdout.log" >&2 || true
      stop "$dir" keep
      die "rabbitmq-server exited during start (logs in $dir/log)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -30 "$dir/log/stdout.log" >&2 || true
      stop "$dir" keep
      die "rabbitmq-server not listening on $port after ${START_TIMEOUT_S}s"
    fi
    sleep 0.5
  done
  echo "$pid"
}

# stop DIR [keep]: TERM the wrapper (it stops the VM gracefully), bounded wait, KILL.
stop() {
  local dir=$1 keep=${2:-}
  local f pid
  for f in rabbitmq.pid beam.pid epmd.pid; do
    [ -f "$dir/$f" ] || continue
    pid=$(cat "$dir/$f")
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || continue
    local deadline=$((SECONDS + STOP_TIMEOUT_S))
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ -z "$keep" ]; then rm -rf "$dir"; fi
}

case "${1:-}" in
  start) [ $# -ge 2 ] || die "usage: $0 start DIR [PORT]"; start "$2" "${3:-5699}" ;;
  stop) [ $# -ge 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
  *) die "usage: $0 start DIR [PORT] | stop DIR" ;;
esac
