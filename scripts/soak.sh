#!/usr/bin/env bash
# Bounded soak (not part of `cargo test`): the real `wtd-proxy` binary, one callee node
# and many caller nodes (examples/soak.rs), three processes on loopback, for MINUTES
# (default 3, at most 30). Samples the RSS of the proxy, the callee and the callers
# every 5 s, then prints a summary. Fails if any call failed other than by the rate limit
# some callers get on purpose, if a process died, or if the RSS of the proxy or the
# callee grew after the 30 s warm-up by more than SOAK_GROWTH_PCT percent (default 25)
# plus SOAK_GROWTH_KIB (default 4096: allocator slack on a small heap).
#
#   scripts/soak.sh            # 3 minutes
#   scripts/soak.sh 10         # 10 minutes
#   SOAK_ARGS="--callers 40 --tasks 128" scripts/soak.sh 5
#
# The samples and the callers' log are kept in target/soak/. Results: docs/PERFORMANCE.md.
set -euo pipefail

MINUTES=${1:-3}
if ! [[ $MINUTES =~ ^[0-9]+$ ]] || ((MINUTES < 1 || MINUTES > 30)); then
    echo "usage: $0 [MINUTES]   (1 to 30, default 3)" >&2
    exit 2
fi
SECONDS_RUN=$((MINUTES * 60))
WARMUP=30
INTERVAL=5
GROWTH_PCT=${SOAK_GROWTH_PCT:-25}
GROWTH_KIB=${SOAK_GROWTH_KIB:-4096}

cd "$(dirname "$0")/.."
cargo build --release --quiet -p wtd-proxy --bin wtd-proxy -p wtd-examples --example soak
BIN=target/release
OUT=target/soak
mkdir -p "$OUT"
STAMP=$(date +%Y%m%d-%H%M%S)
CSV=$OUT/soak-$STAMP.csv
LOG=$OUT/soak-$STAMP-callers.log

WORK=$(mktemp -d -t wtd-soak.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -INT "$pid" 2>/dev/null || true
    done
    for _ in $(seq 50); do
        kill -0 "${PIDS[@]}" 2>/dev/null || break
        sleep 0.1
    done
    for pid in "${PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT

# The proxy, bounded in time like everything else (SIGINT stops it cleanly).
RUST_LOG=warn timeout -s INT $((SECONDS_RUN + 300)) \
    "$BIN/wtd-proxy" --listen "127.0.0.1:$PORT" --data "$WORK/proxy" >"$WORK/proxy.log" 2>&1 &
PIDS+=($!)
TIMEOUT_PID=$!
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
done
PROXY_PID=$(pgrep -P "$TIMEOUT_PID" -x wtd-proxy || true)
[[ -n $PROXY_PID ]] || { echo "soak: the proxy did not start:" >&2; cat "$WORK/proxy.log" >&2; exit 1; }

"$BIN/examples/soak" --role callee --proxy "$URL" --dir "$WORK" --seconds "$SECONDS_RUN" \
    >"$WORK/callee.log" 2>&1 &
CALLEE_PID=$!
PIDS+=($CALLEE_PID)
for _ in $(seq 300); do
    [[ -e $WORK/keys/READY ]] && break
    sleep 0.1
done
[[ -e $WORK/keys/READY ]] || { echo "soak: the callee did not start:" >&2; cat "$WORK/callee.log" >&2; exit 1; }

# shellcheck disable=SC2086 # SOAK_ARGS is a list of words
"$BIN/examples/soak" --role callers --proxy "$URL" --dir "$WORK" --seconds "$SECONDS_RUN" \
    --progress "$INTERVAL" ${SOAK_ARGS:-} >"$LOG" 2>&1 &
CALLERS_PID=$!
PIDS+=($CALLERS_PID)

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
echo "time_s,proxy_rss_kib,callee_rss_kib,callers_rss_kib,ok,casts,limited,errors" >"$CSV"
echo "soak: $MINUTES min against $URL; samples in $CSV; load average $(cut -d' ' -f1-3 /proc/loadavg)"
START=$(date +%s)
while kill -0 "$CALLERS_PID" 2>/dev/null; do
    sleep "$INTERVAL"
    now=$(($(date +%s) - START))
    counts=$({ grep '^progress' "$LOG" || true; } | tail -n 1 |
        sed -E 's/.*ok=([0-9]+) casts=([0-9]+) limited=([0-9]+) errors=([0-9]+).*/\1,\2,\3,\4/')
    line="$now,$(rss "$PROXY_PID"),$(rss "$CALLEE_PID"),$(rss "$CALLERS_PID"),${counts:-0,0,0,0}"
    echo "$line" >>"$CSV"
    if ((now % 30 < INTERVAL)); then echo "  $line"; fi
    if ((now > SECONDS_RUN + 60)); then
        echo "soak: the callers did not stop within 60 s of the end: killed" >&2
        kill -KILL "$CALLERS_PID" 2>/dev/null || true
    fi
done
CALLERS_RC=0
wait "$CALLERS_PID" || CALLERS_RC=$?
ALIVE=1
kill -0 "$PROXY_PID" 2>/dev/null && kill -0 "$CALLEE_PID" 2>/dev/null || ALIVE=0

echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
grep -E '^(error|summary)' "$LOG" || true
python3 - "$CSV" "$LOG" "$WARMUP" "$INTERVAL" "$SECONDS_RUN" "$GROWTH_PCT" "$GROWTH_KIB" \
    "$CALLERS_RC" "$ALIVE" <<'EOF'
import csv, re, statistics, sys
path, log, warmup, interval, run, pct, slack, rc, alive = sys.argv[1:]
rows = [{k: int(v) for k, v in r.items()} for r in csv.DictReader(open(path))]
after = [r for r in rows if r["time_s"] >= int(warmup)] or rows
ok = True
for who in ("proxy", "callee", "callers"):
    col = [r[f"{who}_rss_kib"] for r in after if r[f"{who}_rss_kib"] > 0] or [0]
    start, top, end = col[0], max(col), col[-1]
    mid = col[len(col) // 2]
    growth = 100.0 * (end - start) / max(start, 1)
    late = 100.0 * (end - mid) / max(mid, 1)   # a leak shows here too; a warm-up does not
    bound = start * (1 + int(pct) / 100) + int(slack)
    judged = who != "callers"   # the callers' process is the load, not what is judged
    over = judged and end > bound
    ok &= not over
    print(f"{who:8} RSS after {warmup} s {start / 1024:6.1f} MiB, max {top / 1024:6.1f}, "
          f"end {end / 1024:6.1f}: growth {growth:+5.1f} %, over the second half {late:+5.1f} %"
          + ("  OVER THE BOUND" if over else ""))
rates = [(b["ok"] + b["casts"] + b["limited"] - a["ok"] - a["casts"] - a["limited"])
         / max(b["time_s"] - a["time_s"], 1) for a, b in zip(rows, rows[1:])
         if a["ok"] > 0 and b["time_s"] <= int(run)]
summary = [line for line in open(log) if line.startswith("summary")]
print(f"calls/s (median of {interval} s intervals): {statistics.median(rates):.0f}" if rates
      else "calls/s: no intervals")
if not summary:
    print("the callers printed no summary"); ok = False
elif int(re.search(r"errors=(\d+)", summary[0]).group(1)) > 0:
    print("errors other than the expected rate limits (see the `error` lines above)"); ok = False
if rc != "0":
    print(f"the callers exited with {rc}"); ok = False
if alive != "1":
    print("the proxy or the callee died during the soak"); ok = False
print("verdict: PASS" if ok else "verdict: FAIL")
sys.exit(0 if ok else 1)
EOF
