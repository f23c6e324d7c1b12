#!/bin/bash
# Run test suites and add up their results.
#
#   tests/run-all.sh                 unit, integration, conformance, sanitize, fuzz, e2e, realguest
#   tests/run-all.sh unit e2e        only those
#
# Every suite is an executable that prints its own closing line "N passed, N failed";
# this runner prints each suite's output, then one total line in the same form.
# Exit status: 0 only when every suite ran and nothing failed.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(unit integration conformance sanitize fuzz e2e realguest)

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

# The sanitize tier: integration tests that exercise bin/relink and bin/relinkd without VMs and finish in
# seconds (the slow, timing-bound ones -- concurrency, locking, conn-lifetime which has its own ASan
# relinkd -- and the manifest/man/version checks stay with the plain build).
SAN_INTEGRATION=(t-bridge-dualstack t-hardening t-identity t-kubelet-discovery t-list-031 t-malformed
	t-multus-net1 t-ptp-tuning-mac t-status t-status-gc)

# Sanitizer reports go to files (log_path), so a report fails the suite even when the test around it
# expected the binary to fail; san_check NAME counts each report as one failure and shows it.
san_check() {
	local name=$1 f n=0
	for f in "$san_dir"/reports/*; do
		[ -e "$f" ] || continue
		echo "not ok - $name: sanitizer report $(basename "$f"):"
		sed 's/^/#   /' "$f" | head -40
		rm -f "$f"
		n=$((n + 1))
	done
	if [ $n -gt 0 ]; then
		total_fail=$((total_fail + n))
		status=1
	fi
}

# san_wrappers — $san_dir with wrappers relink/relinkd around the ASan+UBSan build that carry the options
# (the harnesses run binaries under `env -i`); reports go to $san_dir/reports. 1 when there is no build.
san_wrappers() {
	local b asan ubsan
	san=$ROOT/build/asan
	[ -x "$san/bin/relink" ] && [ -x "$san/bin/relinkd" ] || return 1
	san_dir=$(mktemp -d /tmp/relink-san-$$-XXXXXX)
	mkdir "$san_dir/reports"
	asan="detect_leaks=1:log_path=$san_dir/reports/asan"
	ubsan="halt_on_error=1:print_stacktrace=1:log_path=$san_dir/reports/ubsan"
	for b in relink relinkd; do
		printf '#!/bin/sh\nASAN_OPTIONS="%s" UBSAN_OPTIONS="%s" exec "%s" "$@"\n' "$asan" "$ubsan" "$san/bin/$b" \
			>"$san_dir/$b"
		chmod +x "$san_dir/$b"
	done
}

san_suite() { # name command...
	local name=$1
	run_suite "$@"
	san_check "$name"
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
	sanitize)
		# make check builds these (make SANITIZE=address,undefined BUILD=build/asan BIN=build/asan/bin test-bins).
		if ! san_wrappers; then
			none sanitize "no build/asan/bin/relink{,d}: make check builds them"
			continue
		fi
		# The unit test binaries themselves are ASan builds: the same options, for this process tree.
		export ASAN_OPTIONS="detect_leaks=1:log_path=$san_dir/reports/asan"
		export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$san_dir/reports/ubsan"
		for t in "$san"/tests/test_*; do
			[ -x "$t" ] || continue
			san_suite "sanitize/unit/$(basename "$t")" tests/unit/cmocka-wrap.sh "$t"
			n=$((n + 1))
		done
		san_suite sanitize/conformance env RELINK="$san_dir/relink" bash conformance/run.sh
		for t in "${SAN_INTEGRATION[@]}"; do
			san_suite "sanitize/integration/$t" env RELINK="$san_dir/relink" RELINKD="$san_dir/relinkd" \
				bash "tests/integration/$t.sh"
		done
		unset ASAN_OPTIONS UBSAN_OPTIONS
		rm -rf "$san_dir"
		[ $n -gt 0 ] || none sanitize "no $san/tests/test_* binaries"
		;;
	fuzz)
		# Every libFuzzer target (build/fuzz, make fuzz-build) for a short bounded time: CI time matters;
		# `make fuzz` runs them FUZZ_SECONDS=60 each.
		run_suite fuzz env FUZZ_SECONDS="${FUZZ_SECONDS:-10}" bash tests/fuzz/run.sh
		;;
	e2e)
		# relinkd in the cluster-in-a-box is the ASan+UBSan build when there is one (make check builds
		# it): a use-after-free or leak under a drain or a fault fails the suite that caused it.
		e2e_relinkd=()
		if san_wrappers; then
			e2e_relinkd=(env RL_RELINKD="$san_dir/relinkd")
			echo "# e2e: relinkd is the ASan+UBSan build ($san/bin/relinkd)"
		fi
		for t in tests/e2e/t-*.sh; do
			[ -e "$t" ] || continue
			run_suite "e2e/$(basename "$t" .sh)" "${e2e_relinkd[@]}" bash "$t"
			[ ${#e2e_relinkd[@]} -eq 0 ] || san_check "e2e/$(basename "$t" .sh)"
			n=$((n + 1))
		done
		[ ${#e2e_relinkd[@]} -eq 0 ] || rm -rf "$san_dir"
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
