#!/bin/bash
# Run every libFuzzer target (build/fuzz/fuzz_*, built by `make fuzz`) for FUZZ_SECONDS each on a copy of
# its seed corpus tests/fuzz/corpus/<target>/; a target fails on any crash, leak, UBSan report or timeout.
#
#   FUZZ_SECONDS=60 tests/fuzz/run.sh             every target
#   tests/fuzz/run.sh record dhcp                 only those
#   FUZZ_KEEP=dir                                 keep the grown corpora and logs in dir
#
# Runs under nice -n 19 (the machine's VM tests are timing-sensitive). Prints per target the runs and
# libFuzzer's final coverage figures (cov: edges, ft: features, corp: corpus entries/size).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${FUZZ_BUILD:-$ROOT/build/fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-60}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for d in "$ROOT"/tests/fuzz/corpus/*/; do
		targets+=("$(basename "$d")")
	done
fi

work=${FUZZ_KEEP:-$(mktemp -d /tmp/relink-fuzz-$$-XXXXXX)}
mkdir -p "$work"
cleanup() { [ -n "${FUZZ_KEEP:-}" ] || rm -rf "$work"; }
trap cleanup EXIT

pass=0 fail=0
for t in "${targets[@]}"; do
	bin=$BUILD/fuzz_$t
	if [ ! -x "$bin" ]; then
		echo "not ok - fuzz $t: no $bin (make fuzz)"
		fail=$((fail + 1))
		continue
	fi
	corpus=$work/$t
	mkdir -p "$corpus" "$work/artifacts-$t"
	cp "$ROOT/tests/fuzz/corpus/$t/"* "$corpus/"
	log=$work/$t.log
	# -timeout: one input taking 10 s is a hang; -rss_limit_mb: a blow-up (e.g. entity expansion) is a finding.
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		nice -n 19 "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$work/artifacts-$t/" "$corpus" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	covline=$(grep -E '^#[0-9]+' "$log" | grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*/[0-9]*[a-zA-Z]*' | tail -1)
	if [ $rc -eq 0 ] && ! grep -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log" >/dev/null; then
		echo "ok - fuzz $t: ${runs:-?} runs in ${SECONDS_EACH}s, $covline"
		pass=$((pass + 1))
	else
		echo "not ok - fuzz $t (exit $rc): ${runs:-?} runs, $covline"
		grep -E -A25 'ERROR:|runtime error:' "$log" | head -60 | sed 's/^/#   /'
		for a in "$work/artifacts-$t"/*; do
			[ -e "$a" ] || continue
			echo "#   reproducer ($(basename "$a")): $(head -c 400 "$a" | od -An -c | head -5 | tr -s ' ')"
			cp "$a" "$ROOT/build/fuzz/" 2>/dev/null && echo "#   copied to build/fuzz/$(basename "$a")"
		done
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
