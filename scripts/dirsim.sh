#!/usr/bin/env bash
# The directory simulator (issue 17; not part of `cargo test`): a fresh release
# `wtd-proxy` on loopback, and NODES simulated nodes (scripts/dirsim.rs) that register,
# ping every 20 s with the example node's offer, hold a receive request, and leave and
# rejoin at CHURN percent a minute. Prints one line of figures: proxy CPU (% of one
# core) and RSS, bytes out per second, ping latency, how fast followers hear a node leave.
#
#   scripts/dirsim.sh 1000 0            # 1,000 nodes, idle, 30 s window
#   scripts/dirsim.sh 10000 5 60        # 10,000 nodes, 5 %/min churn, 60 s window
#
# Bounded: at most 20,000 nodes and 600 s of window; everything it starts is stopped on
# exit. Lines are appended to target/dirsim/results.txt. Results: docs/PERFORMANCE.md.
set -euo pipefail

NODES=${1:-1000}
CHURN=${2:-0}
WINDOW=${3:-30}
if ! [[ $NODES =~ ^[0-9]+$ && $WINDOW =~ ^[0-9]+$ && $CHURN =~ ^[0-9.]+$ ]] \
    || ((NODES < 1 || NODES > 20000 || WINDOW < 1 || WINDOW > 600)); then
    echo "usage: $0 NODES(1-20000) [CHURN_PCT_PER_MIN] [WINDOW_SECONDS(1-600)]" >&2
    exit 2
fi

cd "$(dirname "$0")/.."
cargo build --release --quiet -p wtd-proxy --bin wtd-proxy -p wtd-examples --example dirsim
BIN=target/release
OUT=target/dirsim
mkdir -p "$OUT"

WORK=$(mktemp -d -p /dev/shm wtd-dirsim.XXXXXX 2>/dev/null || mktemp -d -t wtd-dirsim.XXXXXX)
PROXY_PID=
cleanup() {
    if [[ -n $PROXY_PID ]]; then
        kill -INT "$PROXY_PID" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$PROXY_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$PROXY_PID" 2>/dev/null || true
    fi
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n "$(ulimit -Hn)"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Registration limits raised for the set-up only (10,000 names from 100 addresses).
RUST_LOG=warn timeout $((WINDOW + 900)) "$BIN/wtd-proxy" --listen "127.0.0.1:$PORT" --data "$WORK/data" \
    --new-nodes-per-minute 1000000 --new-nodes-per-minute-per-client 100000 \
    --max-connections 18000 2>"$OUT/proxy-$NODES-$CHURN.log" &
PROXY_PID=$!
for _ in $(seq 100); do
    # The proxy itself, not the `timeout` around it, is what gets measured.
    REAL_PID=$(pgrep -P "$PROXY_PID" -x wtd-proxy || true)
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null && break
    sleep 0.1
done

LINE=$(timeout $((WINDOW + 900)) "$BIN/examples/dirsim" "127.0.0.1:$PORT" "$NODES" "$WINDOW" "$CHURN" "$REAL_PID" "sim$NODES")
echo "$(date -u +%FT%TZ) load=$(cut -d' ' -f1 /proc/loadavg) $LINE" | tee -a "$OUT/results.txt"
