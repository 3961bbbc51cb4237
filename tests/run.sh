#!/usr/bin/env bash
# Runs every unit-test binary and every reference cross-check, then prints the
# suite's closing line "N passed, N failed". Each part prints its own
# "N passed, N failed" as its last line; a part that crashes or prints no such
# line counts as one failure.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export TS_TEST_TMP=$(mktemp -d /tmp/tessera-test.XXXXXX)
export TESSERA=$PWD/$BUILD/tessera
trap 'rm -rf "$TS_TEST_TMP"' EXIT
passed=0 failed=0
# ONLY=REGEX runs just the parts whose name matches (e.g. ONLY='pack|test_mix').
run_part() { # name, command...
    local name=$1; shift
    if [ -n "${ONLY:-}" ] && ! [[ "$name" =~ $ONLY ]]; then return; fi
    local log="$TS_TEST_TMP/$(basename "$name").log"
    local start=$SECONDS
    "$@" >"$log" 2>&1
    local rc=$?
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "FAIL $name (exit $rc, no result line)"; tail -n 30 "$log" | sed 's/^/    /'
        failed=$((failed + 1)); return
    fi
    local p f
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$f" -ne 0 ]; then
        echo "FAIL $name: $line (exit $rc)"; grep -E 'FAIL|failed|error|ERROR' "$log" | head -n 40 | sed 's/^/    /'
    else
        echo "ok   $name: $line ($((SECONDS - start))s)"
    fi
}
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    run_part "$(basename "$t")" "$t"
done
for t in tests/reference/check_*.sh; do
    [ -f "$t" ] || continue
    run_part "$(basename "$t" .sh)" bash "$t"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
