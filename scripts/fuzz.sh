#!/usr/bin/env bash
# Fuzzes every decoder of WTD for a bounded time, one target after another, and prints a
# Markdown table: target | seconds | executions | execs/s | crashes.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]      (default 60)
#
# Environment:
#   FUZZ_TARGETS     space-separated targets to run (default: all, from `cargo fuzz list`)
#   FUZZ_SANITIZER   address | none | ... (default: address on nightly, none on stable)
#   FUZZ_TOOLCHAIN   force a rustup toolchain, e.g. nightly or stable
#
# Toolchain: `cargo +nightly fuzz` when a nightly toolchain is installed (AddressSanitizer
# needs `-Zsanitizer`, a nightly flag). Otherwise the default (stable) toolchain with
# `--sanitizer none`, which needs no unstable flag: libFuzzer still gets coverage
# (`-Cpasses=sancov-module` and `-Cllvm-args` are stable) and still catches panics,
# overflow (debug assertions are on), hangs and runaway memory.
#
# Network: only to install cargo-fuzz if it is missing and to fetch the fuzz crate's
# dependencies once; the build and the runs are offline.
#
# Crashes are kept in fuzz/artifacts/<target>/; the script exits 1 if any target crashed.
set -euo pipefail

seconds=${1:-60}
case $seconds in
'' | *[!0-9]*)
    echo "usage: $0 [SECONDS_PER_TARGET]" >&2
    exit 2
    ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

toolchain=()
if [[ -n ${FUZZ_TOOLCHAIN:-} ]]; then
    toolchain=("+$FUZZ_TOOLCHAIN")
elif command -v rustup >/dev/null && rustup toolchain list | grep -q '^nightly'; then
    toolchain=(+nightly)
fi
if [[ ${toolchain[*]-} == +nightly* ]]; then
    sanitizer=${FUZZ_SANITIZER:-address}
else
    sanitizer=${FUZZ_SANITIZER:-none}
fi
rustc_version=$(rustc "${toolchain[@]}" --version)
echo "== toolchain: ${toolchain[*]:-default} ($rustc_version), sanitizer: $sanitizer" >&2

# Fetch once (the only step that may need the network), then stay offline.
cargo "${toolchain[@]}" fetch --manifest-path Cargo.toml >&2
export CARGO_NET_OFFLINE=true

flags=(--sanitizer "$sanitizer" --debug-assertions)
echo "== building every target" >&2
cargo "${toolchain[@]}" fuzz build "${flags[@]}" >&2

read -r -a targets <<<"${FUZZ_TARGETS:-$(cargo "${toolchain[@]}" fuzz list | tr '\n' ' ')}"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/wtd-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
logs="$root/fuzz/target/fuzz-logs"
mkdir -p "$logs"

rows=()
any_crash=0
for target in "${targets[@]}"; do
    corpus="corpus/$target"
    artifacts="artifacts/$target"
    mkdir -p "$corpus" "$artifacts"
    before=$(find "$artifacts" -type f | wc -l)
    log="$logs/$target.log"
    echo "== $target: ${seconds}s (log: $log)" >&2
    start=$(date +%s)
    status=0
    # The outer timeout is a safety net in case libFuzzer itself wedges.
    WTD_FUZZ_SEED_DIR="$root/fuzz/$corpus" WTD_FUZZ_TMP="$scratch" \
        timeout --kill-after=30 $((seconds + 300)) \
        cargo "${toolchain[@]}" fuzz run "${flags[@]}" "$target" "$corpus" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=30 \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    elapsed=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    if [[ -z $execs ]]; then
        # A crash before the final stats: the last status line has the count.
        execs=$(grep -oE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#' || true)
    fi
    execs=${execs:-0}
    crashes=$(($(find "$artifacts" -type f | wc -l) - before))
    if [[ $status -ne 0 && $crashes -eq 0 ]]; then
        crashes=1 # died without leaving an artifact (e.g. killed by the outer timeout)
    fi
    if [[ $crashes -gt 0 ]]; then
        any_crash=1
        echo "   CRASH in $target (exit $status): see $log and $artifacts/" >&2
    fi
    rate=$((elapsed > 0 ? execs / elapsed : execs))
    rows+=("| $target | $elapsed | $execs | $rate | $crashes |")
done

echo
echo "Fuzzed on $(date -u +%Y-%m-%d) with \`scripts/fuzz.sh $seconds\` ($rustc_version, sanitizer $sanitizer, $(nproc) cores)."
echo
echo "| target | seconds | executions | execs/s | crashes |"
echo "| --- | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
exit "$any_crash"
