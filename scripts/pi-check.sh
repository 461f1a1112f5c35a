#!/usr/bin/env bash
# WTD on a Raspberry Pi, checked without a Pi: cross-builds `wtd-proxy`, the `wtd` command
# and the `node` example for 64-bit Pi OS (aarch64) with the `pi` profile, runs the proxy
# and a node under qemu on free loopback ports, makes one real call to the node with the
# aarch64 `wtd` command, checks the answer, and prints the binary sizes. It also builds for
# 32-bit Pi OS (armv7) when that target installs, and says so when it does not.
#
#   scripts/pi-check.sh                   # aarch64, and armv7 if its target installs
#   PI_CHECK_ARMV7=0 scripts/pi-check.sh  # aarch64 only: half the time
#
# Needs Debian or Ubuntu (it installs the cross linkers and qemu-user with apt-get, as root
# or through sudo) and rustup. Everything it starts is stopped on exit, and every wait is
# bounded. The `pi` profile's fat LTO makes the builds slow: 12.5 minutes for both targets
# on a busy 2-core machine, half of that for aarch64 alone.
set -euo pipefail
cd "$(dirname "$0")/.."

AARCH64=aarch64-unknown-linux-gnu
ARMV7=armv7-unknown-linux-gnueabihf
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER=arm-linux-gnueabihf-gcc
BUILD_TIMEOUT=${PI_CHECK_BUILD_TIMEOUT:-1800}

say() { echo "pi-check: $*"; }
fail() {
    echo "pi-check: $*" >&2
    exit 1
}

# --- What it needs ---------------------------------------------------------------------

SUDO=
[[ $(id -u) -eq 0 ]] || SUDO=sudo
APT_UPDATED=0
# apt_install PACKAGE...: installs the packages that are not installed yet.
apt_install() {
    local package missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' ||
            missing+=("$package")
    done
    ((${#missing[@]} > 0)) || return 0
    command -v apt-get >/dev/null || fail "needs ${missing[*]}, and there is no apt-get here to install them"
    if ((APT_UPDATED == 0)); then
        timeout 300 $SUDO apt-get update -qq
        APT_UPDATED=1
    fi
    say "installing ${missing[*]}"
    timeout 600 $SUDO env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
# rust_target TARGET: adds the standard library for TARGET unless it is there.
rust_target() {
    rustup target list --installed | grep -qx "$1" || timeout 600 rustup target add "$1"
}

command -v rustup >/dev/null || fail "needs rustup (https://rustup.rs) to add the Pi targets"
command -v python3 >/dev/null || apt_install python3
apt_install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
rust_target "$AARCH64"
ARMV7_OK=1
if [[ ${PI_CHECK_ARMV7:-1} == 0 ]]; then
    ARMV7_OK=0
    say "armv7 (32-bit Pi OS): skipped (PI_CHECK_ARMV7=0)"
elif ! { apt_install gcc-arm-linux-gnueabihf libc6-dev-armhf-cross && rust_target "$ARMV7"; }; then
    ARMV7_OK=0
    say "armv7 (32-bit Pi OS): its linker or Rust target did not install; skipping that build"
fi

# --- Build -------------------------------------------------------------------------------

# build TARGET: the proxy, the command and the node example, for TARGET, `pi` profile.
build() {
    local started=$SECONDS
    say "building for $1 (--profile pi: fat LTO, a few minutes)"
    timeout "$BUILD_TIMEOUT" cargo build --locked --profile pi --target "$1" \
        -p wtd-proxy -p wtd -p wtd-examples --bin wtd-proxy --bin wtd --example node
    say "built for $1 in $((SECONDS - started)) s"
}
build "$AARCH64"
((ARMV7_OK == 0)) || build "$ARMV7"

# --- Run it under qemu -------------------------------------------------------------------

BIN=target/$AARCH64/pi
QEMU=(qemu-aarch64 -L /usr/aarch64-linux-gnu)
WORK=$(mktemp -d -t wtd-pi-check.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
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

# wait_for SECONDS COMMAND...: runs COMMAND every 0.2 s until it succeeds, for at most
# SECONDS.
wait_for() {
    local seconds=$1
    shift
    local deadline=$((SECONDS + seconds))
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}
alive() { kill -0 "$1" 2>/dev/null; }
listening() { alive "$PROXY_PID" && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }
node_serves() { alive "$NODE_PID" && grep -q 'serves mission demo' "$WORK/node.log"; }

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT

"${QEMU[@]}" "$BIN/wtd-proxy" --listen "127.0.0.1:$PORT" --data "$WORK/proxy" \
    >"$WORK/proxy.log" 2>&1 &
PROXY_PID=$!
PIDS+=("$PROXY_PID")
wait_for 60 listening ||
    fail "the aarch64 proxy did not listen on $URL within 60 s:$(printf '\n%s' "$(cat "$WORK/proxy.log")")"
say "aarch64 wtd-proxy (under qemu) listens on $URL"

# Alice's node serves mission demo and mints a key for Bob (see examples/node.rs).
"${QEMU[@]}" "$BIN/examples/node" --name alice --proxy "$URL" --home "$WORK/alice" \
    --email alice@example.org --grant bob --out "$WORK/bob.wtdkey" >"$WORK/node.log" 2>&1 &
NODE_PID=$!
PIDS+=("$NODE_PID")
wait_for 60 node_serves ||
    fail "the aarch64 node did not start within 60 s:$(printf '\n%s' "$(cat "$WORK/node.log")")"
say "aarch64 node alice (under qemu) serves mission demo"

# Bob, with the aarch64 `wtd` command: the steps of docs/TUTORIAL.md §1.
wtd() { timeout 60 "${QEMU[@]}" "$BIN/wtd" --home "$WORK/bob" "$@"; }
wtd init >/dev/null
wtd register --proxy "$URL" --name bob --email bob@example.org >/dev/null
wtd key add "$WORK/bob.wtdkey" >/dev/null
# Alice's grant reaches the proxy's directory with her next ping; try for 30 s.
ANSWER=
call_answers() { ANSWER=$(wtd call alice demo/add '[2, 3]' 2>"$WORK/call.err"); }
wait_for 30 call_answers ||
    fail "wtd call alice demo/add '[2, 3]' failed for 30 s:$(printf '\n%s' "$(cat "$WORK/call.err")")"
[[ $ANSWER == 5 ]] || fail "wtd call alice demo/add '[2, 3]' answered '$ANSWER', not 5"
say "aarch64 wtd call alice demo/add '[2, 3]' = $ANSWER"
if ((ARMV7_OK == 1)); then
    timeout 60 qemu-arm -L /usr/arm-linux-gnueabihf "target/$ARMV7/pi/wtd-proxy" --version >/dev/null ||
        fail "the armv7 wtd-proxy does not start under qemu-arm"
    say "armv7 wtd-proxy (under qemu) starts"
fi

# --- Sizes -------------------------------------------------------------------------------

echo
echo "Binary sizes, --profile pi (stripped):"
for target in "$AARCH64" "$ARMV7"; do
    [[ -d target/$target/pi ]] || continue
    [[ $target != "$ARMV7" ]] || ((ARMV7_OK == 1)) || continue
    for binary in wtd-proxy wtd examples/node; do
        bytes=$(stat -c %s "target/$target/pi/$binary")
        printf '  %-32s %-15s %9d bytes  %5.2f MB\n' "$target" "$binary" "$bytes" \
            "$(echo "$bytes" | awk '{ print $1 / 1000000 }')"
    done
done
echo "pi-check: ok"
