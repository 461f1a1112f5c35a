#!/usr/bin/env bash
# Bounded chaos run (not part of `cargo test`): the real `wtd-proxy` binary, one callee
# node and CHAOS_CALLERS caller nodes (examples/chaos.rs), each its own process on
# loopback, call for MINUTES (default 3, at most 30) while this driver, at random moments,
# SIGKILLs and restarts the proxy, the callee or one caller (same homes, names, keys, port
# and data folder) and SIGSTOPs the proxy for a few seconds (a proxy that hangs rather than
# dies). The kinds come in shuffled rounds, so each round of four has one of each. At the
# end it checks, and fails unless:
#
#   1. no side effect ran twice: no call id is twice in the callee's ledger (and every
#      call answered `ok` is in it);
#   2. no call hung: every call ended, with its result or an error, within its timeout
#      (3 s) plus 2 s, and every caller stopped by itself after the end;
#   3. no registration or grant was lost: a new key cannot take any name (409), the
#      callee's grants.toml is byte for byte as it was, and every caller's calls succeed
#      after the last fault;
#   4. memory stayed bounded: the RSS of the proxy and of the callee, sampled every
#      second, stayed under CHAOS_RSS_MIB (default 64 MiB);
#   5. service came back: after each fault ended (restart, SIGCONT), a call started after
#      it succeeded within CHAOS_RECOVERY_S (default 30 s); for a caller's death, a call of
#      that caller.
#
#   scripts/chaos.sh 5                   # 5 minutes
#   CHAOS_SEED=1234 scripts/chaos.sh 5   # the same schedule again (kinds, gaps, downtimes)
#   CHAOS_SECONDS=90 scripts/chaos.sh    # 90 seconds (what .ci/run does)
#
# The seed is printed first and last. Logs stay in target/chaos/STAMP/ (the ledger and
# call logs are deleted after a PASS; the calls that ended in an error stay in errors.txt). Results: docs/SECURITY.md, "Faults at random".
set -euo pipefail

MINUTES=${1:-3}
if ! [[ $MINUTES =~ ^[0-9]+$ ]] || ((MINUTES < 1 || MINUTES > 30)); then
    echo "usage: $0 [MINUTES]   (1 to 30, default 3; or CHAOS_SECONDS=N, 60 to 1800)" >&2
    exit 2
fi
SECONDS_RUN=${CHAOS_SECONDS:-$((MINUTES * 60))}
if ! [[ $SECONDS_RUN =~ ^[0-9]+$ ]] || ((SECONDS_RUN < 60 || SECONDS_RUN > 1800)); then
    echo "CHAOS_SECONDS must be 60 to 1800" >&2
    exit 2
fi
SEED=${CHAOS_SEED:-$(((RANDOM << 15) | RANDOM))}
RANDOM=$SEED
CALLERS=${CHAOS_CALLERS:-3}
TASKS=${CHAOS_TASKS:-4}
TIMEOUT_MS=3000
RSS_MIB=${CHAOS_RSS_MIB:-64}
RECOVERY_S=${CHAOS_RECOVERY_S:-30}
WARMUP=10 # seconds of calls before the first fault
QUIET=20  # seconds without faults at the end

# Python reads the logs at the end; a fresh Debian (as on CI, as root) may not have it.
if ! command -v python3 >/dev/null; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        echo "chaos: installing python3 with apt-get"
        timeout 300 apt-get update -qq
        timeout 600 env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends python3 >/dev/null
    else
        echo "chaos: needs python3 (it reads the logs at the end)" >&2
        exit 1
    fi
fi

cd "$(dirname "$0")/.."
cargo build --release --quiet -p wtd-proxy --bin wtd-proxy -p wtd-examples --example chaos
BIN=target/release
OUT=target/chaos/$(date +%Y%m%d-%H%M%S)
WORK=$OUT/work
mkdir -p "$WORK"
echo "chaos: seed $SEED ($SECONDS_RUN s, $CALLERS callers x $TASKS loops; replay with CHAOS_SEED=$SEED); logs in $OUT"

now_ms() { date +%s%3N; }
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
between() { echo $(($1 + RANDOM % ($2 - $1 + 1))); } # a random integer in [$1, $2]

PROXY_PID=
CALLEE_PID=
CALLER_PIDS=()
cleanup() {
    local pids=($PROXY_PID $CALLEE_PID "${CALLER_PIDS[@]}") pid alive
    # A stopped proxy cannot act on SIGINT.
    if [[ -n $PROXY_PID ]]; then kill -CONT "$PROXY_PID" 2>/dev/null || true; fi
    for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
    for _ in $(seq 50); do # up to 5 s for all to stop cleanly
        alive=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT

start_proxy() {
    RUST_LOG=info "$BIN/wtd-proxy" --listen "127.0.0.1:$PORT" --data "$WORK/proxy" \
        >>"$WORK/proxy.log" 2>&1 &
    PROXY_PID=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "chaos: the proxy did not start:" >&2
    tail "$WORK/proxy.log" >&2
    exit 1
}
start_callee() {
    "$BIN/examples/chaos" --role callee --proxy "$URL" --dir "$WORK" --callers "$CALLERS" \
        >>"$WORK/callee.log" 2>&1 &
    CALLEE_PID=$!
}
start_caller() {
    "$BIN/examples/chaos" --role caller --proxy "$URL" --dir "$WORK" --name "chaos-caller-$1" \
        --tasks "$TASKS" --until-ms "$END_MS" --timeout-ms "$TIMEOUT_MS" \
        >>"$WORK/caller-$1.log" 2>&1 &
    CALLER_PIDS[$1]=$!
}
# Sleeps $1 ms in steps of at most 1 s, sampling the RSS of the proxy and the callee.
pause() {
    local until=$(($(now_ms) + $1)) left
    while left=$((until - $(now_ms))); ((left > 0)); do
        ((left > 1000)) && left=1000
        sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
        echo "$(now_ms),$(rss "$PROXY_PID"),$(rss "$CALLEE_PID")" >>"$WORK/rss.csv"
    done
}
# SIGKILL $1 and reap it, so that it is gone for good before its replacement starts.
kill_hard() { kill -KILL "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

echo "time_ms,proxy_rss_kib,callee_rss_kib" >"$WORK/rss.csv"
start_proxy
start_callee
for _ in $(seq 600); do
    [[ -e $WORK/keys/READY ]] && break
    sleep 0.1
done
[[ -e $WORK/keys/READY ]] || { echo "chaos: the callee did not start:" >&2; cat "$WORK/callee.log" >&2; exit 1; }
GRANTS=$WORK/chaos-callee/grants.toml
cp "$GRANTS" "$OUT/grants-before.toml"
START_MS=$(now_ms)
END_MS=$((START_MS + SECONDS_RUN * 1000))
for ((i = 0; i < CALLERS; i++)); do start_caller "$i"; done

# The schedule: kind, start_ms, end_ms (when the fault is over: restarted or continued).
FAULTS=$WORK/faults.txt
: >"$FAULTS"
DECK=()
pause $((WARMUP * 1000))
while (($(now_ms) < END_MS - QUIET * 1000)); do
    if ((${#DECK[@]} == 0)); then # a new round: the four kinds, shuffled
        DECK=(proxy-kill proxy-stop callee-kill caller-kill)
        for ((i = 3; i > 0; i--)); do
            j=$((RANDOM % (i + 1)))
            t=${DECK[i]}
            DECK[i]=${DECK[j]}
            DECK[j]=$t
        done
    fi
    kind=${DECK[0]}
    DECK=("${DECK[@]:1}")
    down=$(between 200 2000)
    begin=$(now_ms)
    case $kind in
    proxy-kill) kill_hard "$PROXY_PID"; pause "$down"; start_proxy; target=proxy ;;
    proxy-stop)
        down=$(between 1000 6000)
        kill -STOP "$PROXY_PID"; pause "$down"; kill -CONT "$PROXY_PID"; target=proxy ;;
    callee-kill) kill_hard "$CALLEE_PID"; pause "$down"; start_callee; target=callee ;;
    caller-kill)
        i=$((RANDOM % CALLERS))
        kill_hard "${CALLER_PIDS[i]}"; pause "$down"; start_caller "$i"; target=chaos-caller-$i ;;
    esac
    echo "$kind $target $begin $(now_ms)" | tee -a "$FAULTS"
    pause $(($(between 6 15) * 1000))
done

# The callers stop by themselves at END_MS; one still running 10 s later has a call hung.
pause $((END_MS - $(now_ms) > 0 ? END_MS - $(now_ms) : 0))
HUNG=0
for ((i = 0; i < CALLERS; i++)); do
    for _ in $(seq 100); do kill -0 "${CALLER_PIDS[i]}" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "${CALLER_PIDS[i]}" 2>/dev/null; then
        echo "chaos: chaos-caller-$i did not stop 10 s after the end: a call hung" >&2
        HUNG=$((HUNG + 1))
        kill_hard "${CALLER_PIDS[i]}"
    fi
done
REGISTRATIONS=0
"$BIN/examples/chaos" --role check --proxy "$URL" --dir "$WORK" --callers "$CALLERS" \
    2>>"$WORK/check.log" | tee "$OUT/registrations.txt" || REGISTRATIONS=$?
GRANTS_KEPT=0
cmp -s "$OUT/grants-before.toml" "$GRANTS" && GRANTS_KEPT=1
cp "$WORK/faults.txt" "$WORK/rss.csv" "$WORK/proxy.log" "$WORK/callee.log" "$OUT/"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

VERDICT=0
python3 - "$WORK" "$TIMEOUT_MS" "$RSS_MIB" "$RECOVERY_S" "$HUNG" "$REGISTRATIONS" \
    "$GRANTS_KEPT" "$CALLERS" <<'EOF' | tee "$OUT/summary.txt" || VERDICT=$?
import collections, csv, glob, os, statistics, sys
work, timeout, rss_mib, recovery_s, hung_callers, regs, grants_kept, callers = sys.argv[1:]
timeout, rss_mib, recovery_s, callers = int(timeout), int(rss_mib), int(recovery_s), int(callers)
margin = 2000
ok = True
def verdict(good, text):
    global ok
    ok &= good
    print(("PASS " if good else "FAIL ") + text)

faults = [l.split() for l in open(os.path.join(work, "faults.txt")) if l.strip()]
faults = [(k, t, int(b), int(e)) for k, t, b, e in faults]
calls = []  # (caller, start, end, outcome, id)
for path in glob.glob(os.path.join(work, "calls", "*.log")):
    caller = os.path.basename(path).split(".")[0]
    for line in open(path):
        parts = line.split()
        if len(parts) == 4:   # a line cut by SIGKILL cannot happen (one write), but be safe
            calls.append((caller, int(parts[0]), int(parts[1]), parts[2], parts[3]))
ledger = collections.Counter(l.strip() for l in open(os.path.join(work, "ledger.txt")))
outcomes = collections.Counter(c[3] for c in calls)
kinds = collections.Counter(f[0] for f in faults)
print(f"faults: {len(faults)} ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})")
# Which fault each error belongs to: the last one begun before the call ended, if the call
# started within 10 s of its end; else none (an error with no fault near is worth a look).
errors = collections.Counter()
with open(os.path.join(work, "..", "errors.txt"), "w") as out:
    for c in sorted(calls, key=lambda c: c[1]):
        if c[3] != "ok":
            near = [f for f in faults if f[2] <= c[2] and c[1] <= f[3] + 10000]
            errors[(c[3], near[-1][0] if near else "no fault")] += 1
            out.write(" ".join(map(str, c)) + "\n")
print(f"calls: {len(calls)} ended ({', '.join(f'{k} {n}' for k, n in outcomes.most_common())}); "
      f"{sum(ledger.values())} side effects in the ledger, {sum(ledger.values()) - outcomes['ok']} of them "
      f"for calls whose caller saw an error or died (the outcome was unknown to it)")

# A reply the proxy refuses (429: the callee is over the proxy's per-node request rate) is
# dropped by the callee's send thread, and its caller waits for its timeout.
refused = sum(1 for l in open(os.path.join(work, "callee.log")) if "a reply was lost" in l and "(429)" in l)
print(f"replies the proxy refused with 429 and the callee dropped (each a Timeout): {refused}")
print("errors by the fault they followed: " + (", ".join(
    f"{k} after {f} {n}" for (k, f), n in sorted(errors.items())) or "none"))

twice = [i for i, n in ledger.items() if n > 1]
unrecorded = [c[4] for c in calls if c[3] == "ok" and c[4] not in ledger]
verdict(not twice and not unrecorded and outcomes["WrongResult"] == 0,
        f"1. no side effect twice: {len(twice)} ids twice{(' e.g. ' + twice[0]) if twice else ''}; "
        f"{len(unrecorded)} answered ok without a side effect; {outcomes['WrongResult']} wrong results")

longest = max((c[2] - c[1] for c in calls), default=0)
late = [c for c in calls if c[2] - c[1] > timeout + margin]
verdict(not late and hung_callers == "0",
        f"2. none hung: longest call {longest} ms (bound {timeout + margin}); {len(late)} over; "
        f"{hung_callers} callers not stopped 10 s after the end")

last_end = max((f[3] for f in faults), default=0)
silent = [f"chaos-caller-{i}" for i in range(callers)
          if not any(c[0] == f"chaos-caller-{i}" and c[3] == "ok" and c[1] >= last_end for c in calls)]
# The proxy says how many registrations it loaded at each start; after the first, all.
loaded = [int(l.split("registered=")[1].split()[0]) for l in open(os.path.join(work, "proxy.log"))
          if "proxy state loaded registered=" in l][1:]
verdict(regs == "0" and grants_kept == "1" and not silent and all(n == callers + 1 for n in loaded),
        f"3. nothing lost: registrations {'kept' if regs == '0' else 'NOT ALL KEPT'} (the proxy "
        f"loaded {sorted(set(loaded)) or 'none'} of {callers + 1} at its {len(loaded)} restarts); grants.toml "
        f"{'unchanged' if grants_kept == '1' else 'CHANGED'}; callers without an ok call after the "
        f"last fault: {silent or 'none'}")

rows = list(csv.DictReader(open(os.path.join(work, "rss.csv"))))
top = {w: max((int(r[f"{w}_rss_kib"]) for r in rows), default=0) / 1024 for w in ("proxy", "callee")}
verdict(all(v < rss_mib for v in top.values()),
        f"4. memory bounded: max RSS proxy {top['proxy']:.1f} MiB, callee {top['callee']:.1f} MiB "
        f"(bound {rss_mib} MiB each)")

back = []
for kind, target, begin, end in faults:
    mine = [c for c in calls if c[3] == "ok" and c[1] >= end and (not target.startswith("chaos-caller") or c[0] == target)]
    first = min(c[2] for c in mine) if mine else None
    back.append((kind, (first - end) / 1000 if mine else None, (first - begin) / 1000 if mine else None))
never = [k for k, b, _ in back if b is None]
times = [b for _, b, _ in back if b is not None]
slow = [b for b in times if b > recovery_s]
summary = ""
if times:
    summary = f"median {statistics.median(times):.2f} s, max {max(times):.2f} s; "
details = []
for kind in sorted(kinds):
    t = [b for k, b, _ in back if k == kind and b is not None]
    out = [o for k, _, o in back if k == kind and o is not None]
    if t:
        details.append(f"   {kind:11} after its end: median {statistics.median(t):.2f} s, max {max(t):.2f} s; "
              f"no ok call from its start for: median {statistics.median(out):.2f} s, max {max(out):.2f} s")
verdict(not never and not slow,
        f"5. service came back within {recovery_s} s of each fault's end: {summary}"
        f"{len(slow)} slower, {len(never)} never")
print("\n".join(details))
print("verdict: PASS" if ok else "verdict: FAIL")
sys.exit(0 if ok else 1)
EOF
echo "chaos: seed $SEED"
if ((VERDICT == 0)); then rm -rf "$WORK/calls" "$WORK/ledger.txt"; fi
exit "$VERDICT"
