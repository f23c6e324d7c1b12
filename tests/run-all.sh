#!/bin/bash
# Run test suites and add up their results.
#
#   tests/run-all.sh                 unit, integration, conformance, fuzz, e2e, realguest
#   tests/run-all.sh unit e2e        only those
#
# Every suite is an executable that prints its own closing line "N passed, N failed";
# this runner prints each suite's output, then one total line in the same form.
# Exit status: 0 only when every suite ran and nothing failed.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(unit integration conformance fuzz e2e realguest)

total_pass=0 total_fail=0 status=0
run_suite() { # name command...
	local name=$1 out rc line p f
	shift
	echo "=== $name"
	out=$(mktemp)
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
	rm -f "$out"
	if [ -z "$line" ]; then
		echo "--- $name: no result line (exit $rc): counted as 1 failure"
		total_fail=$((total_fail + 1))
		status=1
		return
	fi
	p=${line%% passed*}
	f=${line#*, }
	f=${f%% failed*}
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	if [ "$f" -ne 0 ] || [ "$rc" -ne 0 ]; then
		status=1
		[ "$f" -eq 0 ] && { total_fail=$((total_fail + 1)); echo "--- $name: exit $rc"; }
	fi
}

# none SUITE: a requested suite that has nothing to run is a failure, not a silent pass.
none() {
	echo "--- $1: nothing to run ($2): counted as 1 failure"
	total_fail=$((total_fail + 1))
	status=1
}

for s in "${suites[@]}"; do
	n=0
	case $s in
	unit)
		for t in build/tests/test_*; do
			[ -x "$t" ] || continue
			run_suite "unit/$(basename "$t")" tests/unit/cmocka-wrap.sh "$t"
			n=$((n + 1))
		done
		[ $n -gt 0 ] || none unit "no build/tests/test_* binaries: make unit"
		;;
	integration)
		for t in tests/integration/t-*.sh; do
			[ -e "$t" ] || continue
			run_suite "integration/$(basename "$t" .sh)" bash "$t"
			n=$((n + 1))
		done
		[ $n -gt 0 ] || none integration "no tests/integration/t-*.sh"
		;;
	conformance)
		run_suite conformance env RELINK="$ROOT/bin/relink" bash conformance/run.sh
		;;
	fuzz)
		# Every libFuzzer target (build/fuzz, make fuzz-build) for a short bounded time: CI time matters;
		# `make fuzz` runs them FUZZ_SECONDS=60 each.
		run_suite fuzz env FUZZ_SECONDS="${FUZZ_SECONDS:-10}" bash tests/fuzz/run.sh
		;;
	e2e)
		for t in tests/e2e/t-*.sh; do
			[ -e "$t" ] || continue
			run_suite "e2e/$(basename "$t" .sh)" bash "$t"
			n=$((n + 1))
		done
		[ $n -gt 0 ] || none e2e "no tests/e2e/t-*.sh"
		;;
	realguest)
		# Real Debian 12 guests (images built and cached by guest/debian/build.sh on first use).
		for t in tests/realguest/t-*.sh; do
			[ -e "$t" ] || continue
			run_suite "realguest/$(basename "$t" .sh)" bash "$t"
			n=$((n + 1))
		done
		[ $n -gt 0 ] || none realguest "no tests/realguest/t-*.sh"
		;;
	*)
		echo "run-all: unknown suite '$s'" >&2
		exit 2
		;;
	esac
done

echo
echo "$total_pass passed, $total_fail failed"
exit $status
