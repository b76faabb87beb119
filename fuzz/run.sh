#!/usr/bin/env bash
# Runs every fuzz target for N seconds (default 10), one after another, and fails if any finds
# a crash. `fuzz/run.sh 5` is the CI smoke run; `fuzz/run.sh 600` a real one.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Environment:
#   FUZZ_SANITIZER  cargo fuzz --sanitizer (default: address)
#   FUZZ_CORPUS     where the working corpora live (default: fuzz/corpus, which git ignores);
#                   each starts as a copy of fuzz/seeds/<target> and keeps what runs add
set -uo pipefail

secs="${1:-10}"
shift || true
case "$secs" in
    '' | *[!0-9]*)
        echo "usage: fuzz/run.sh [SECONDS] [TARGET...]" >&2
        exit 2
        ;;
esac

fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$fuzz_dir"

# cargo-fuzz passes -Z flags (sanitizers, coverage) to rustc; the stable compiler accepts them
# with RUSTC_BOOTSTRAP=1.
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked || exit 1
fi

sanitizer="${FUZZ_SANITIZER:-address}"
corpus_root="${FUZZ_CORPUS:-$fuzz_dir/corpus}"
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

echo "== building ${#targets[@]} targets (sanitizer: $sanitizer)"
build_start=$(date +%s)
if ! cargo fuzz build --sanitizer "$sanitizer"; then
    echo "build failed" >&2
    exit 1
fi
echo "== built in $(($(date +%s) - build_start))s"

log_dir="$(mktemp -d)"
trap 'rm -rf "$log_dir"' EXIT
failed=()
summary=()
for t in "${targets[@]}"; do
    corpus="$corpus_root/$t"
    mkdir -p "$corpus"
    if [ -d "seeds/$t" ]; then
        cp -n seeds/"$t"/* "$corpus"/ 2>/dev/null || true
    fi
    # In-process (no -jobs): the statistics go to this target's own log, so two runs of this
    # script side by side do not write to one shared fuzz-0.log.
    args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048
        -print_final_stats=1)
    case "$t" in
        config) args+=(-max_len=32768) ;;
        *) args+=(-max_len=8192) ;;
    esac
    if [ -f "dict/$t.dict" ]; then
        args+=(-dict="dict/$t.dict")
    fi
    log="$log_dir/$t.log"
    start=$(date +%s)
    cargo fuzz run --sanitizer "$sanitizer" "$t" "$corpus" -- "${args[@]}" >"$log" 2>&1
    rc=$?
    elapsed=$(($(date +%s) - start))
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
    entries=$(find "$corpus" -type f | wc -l)
    if [ "$rc" -eq 0 ]; then
        result=ok
    else
        result="FAILED (exit $rc)"
        failed+=("$t")
        echo "---- $t: last lines of the log"
        tail -n 60 "$log"
        echo "---- artifacts: $(ls -1 "artifacts/$t" 2>/dev/null | tr '\n' ' ')"
    fi
    line=$(printf '%-18s %6ss %12s execs %6s corpus  %s' "$t" "$elapsed" "${execs:-?}" "$entries" "$result")
    echo "$line"
    summary+=("$line")
done

echo
echo "== summary (${secs}s per target)"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "crashes in: ${failed[*]} (inputs under fuzz/artifacts/<target>/)"
    exit 1
fi
echo "no crashes"
