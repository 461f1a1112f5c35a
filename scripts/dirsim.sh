#!/usr/bin/env bash
# The directory simulator (issue 17; not part of `cargo test`): a fresh release
# `wtd-proxy` on loopback, and NODES simulated nodes (scripts/dirsim.rs) that register,
# ping every 20 s with the example node's offer, hold a receive request, and leave and
# rejoin at CHURN percent a minute. Prints one line of figures: proxy CPU (% of one
# core) and RSS, bytes out per second, ping latency, how fast followers hear a node leave.
#
#   scripts/dirsim.sh 1000 0            # 1,000 nodes, idle, 30 s window
#   scripts/dirsim.sh 10000 5 60        # 10,000 nodes, 5 %/min churn, 60 s window
#   STORE=redis PROXIES=2 scripts/dirsim.sh 10000 0 30
#                                       # two proxies on one fresh redis-server (issue 15):
#                                       # nodes spread over both; the line ends with Redis's
#                                       # commands/s (median in the window), memory and keys
#
# proxy_cpu_pct and rss_mib add up every process measured (the proxies, and Redis);
# each_cpu_pct/rss_mib lists them one by one, Redis last.
# Bounded: at most 20,000 nodes and 600 s of window; everything it starts is stopped on
# exit. Lines are appended to target/dirsim/results.txt. Results: docs/PERFORMANCE.md.
set -euo pipefail

NODES=${1:-1000}
CHURN=${2:-0}
WINDOW=${3:-30}
PROXIES=${PROXIES:-1}
STORE=${STORE:-}
if ! [[ $NODES =~ ^[0-9]+$ && $WINDOW =~ ^[0-9]+$ && $CHURN =~ ^[0-9.]+$ ]] \
    || ! [[ $PROXIES =~ ^[1-9]$ && ( -z $STORE || $STORE == redis ) ]] \
    || { ((PROXIES > 1)) && [[ $STORE != redis ]]; } \
    || ((NODES < 1 || NODES > 20000 || WINDOW < 1 || WINDOW > 600)); then
    echo "usage: [STORE=redis [PROXIES=1-9]] $0 NODES(1-20000) [CHURN_PCT_PER_MIN] [WINDOW_SECONDS(1-600)]" >&2
    exit 2
fi

cd "$(dirname "$0")/.."
cargo build --release --quiet -p wtd-proxy --bin wtd-proxy -p wtd-examples --example dirsim
BIN=target/release
OUT=target/dirsim
mkdir -p "$OUT"

WORK=$(mktemp -d -p /dev/shm wtd-dirsim.XXXXXX 2>/dev/null || mktemp -d -t wtd-dirsim.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -INT "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# Waits until something accepts connections on port $1 (at most 10 s).
wait_port() {
    for _ in $(seq 100); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 0.2)" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "dirsim: nothing answers on port $1" >&2
    return 1
}

ulimit -n "$(ulimit -Hn)"
STORE_ARGS=()
MEASURED=()
REDIS_PORT=
if [[ $STORE == redis ]]; then
    command -v redis-server >/dev/null || { echo "dirsim: STORE=redis needs redis-server" >&2; exit 2; }
    REDIS_PORT=$(free_port)
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$WORK" --save "" \
        --appendonly yes --appendfsync everysec --daemonize no >"$OUT/redis-$NODES-$CHURN.log" 2>&1 &
    PIDS+=($!)
    wait_port "$REDIS_PORT"
    STORE_ARGS=(--store "redis://127.0.0.1:$REDIS_PORT/0")
fi
ADDRS=()
for i in $(seq "$PROXIES"); do
    PORT=$(free_port)
    # Registration limits raised for the set-up only (10,000 names from 100 addresses).
    RUST_LOG=warn "$BIN/wtd-proxy" --listen "127.0.0.1:$PORT" --data "$WORK/data$i" "${STORE_ARGS[@]}" \
        --new-nodes-per-minute 1000000 --new-nodes-per-minute-per-client 100000 \
        --max-connections 18000 2>"$OUT/proxy$i-$NODES-$CHURN.log" &
    PIDS+=($!)
    MEASURED+=($!)
    ADDRS+=("127.0.0.1:$PORT")
    wait_port "$PORT"
done
# The store is measured after the proxies: its CPU and RSS come last in the line.
[[ -n $REDIS_PORT ]] && MEASURED+=("${PIDS[0]}")

# Redis's commands per second, sampled every 2 s while the simulator runs.
if [[ -n $REDIS_PORT ]]; then
    (
        while sleep 2; do
            echo "$(date +%s) $(redis-cli -p "$REDIS_PORT" INFO stats | tr -d '\r' |
                sed -n 's/^instantaneous_ops_per_sec://p')"
        done
    ) >"$WORK/ops" 2>/dev/null &
    SAMPLER=$!
fi

join() { local IFS=,; echo "$*"; }
LINE=$(timeout $((WINDOW + 900)) "$BIN/examples/dirsim" "$(join "${ADDRS[@]}")" "$NODES" "$WINDOW" "$CHURN" \
    "$(join "${MEASURED[@]}")" "sim$NODES")
if [[ -n $REDIS_PORT ]]; then
    kill "$SAMPLER" 2>/dev/null || true
    # The median of the samples in the measurement window (the last WINDOW seconds).
    END=$(date +%s)
    OPS=$(awk -v from=$((END - WINDOW)) '$1 >= from && $2 != "" {print $2}' "$WORK/ops" | sort -n |
        awk '{a[NR] = $1} END {print (NR ? a[int((NR + 1) / 2)] : "?")}')
    MEM=$(redis-cli -p "$REDIS_PORT" INFO memory | tr -d '\r' | sed -n 's/^used_memory:\(.*\)/\1/p')
    KEYS=$(redis-cli -p "$REDIS_PORT" DBSIZE | tr -d '\r')
    # Which commands (and scripts, by SHA) the load was made of.
    redis-cli -p "$REDIS_PORT" INFO commandstats | tr -d '\r' | grep '^cmdstat' |
        sort -t= -k2 -n -r >"$OUT/redis-commandstats-$NODES-$CHURN.txt"
    LINE="$LINE redis_ops_s=$OPS redis_used_mib=$(awk -v b="$MEM" 'BEGIN {printf "%.1f", b / 1048576}') redis_keys=$KEYS"
fi
echo "$(date -u +%FT%TZ) load=$(cut -d' ' -f1 /proc/loadavg) store=${STORE:-embedded} $LINE" | tee -a "$OUT/results.txt"
