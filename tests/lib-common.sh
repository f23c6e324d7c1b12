# shellcheck shell=bash
# tests/lib-common.sh — TAP-style assertions shared by tests/integration/lib.sh and tests/e2e/lib.sh
# (sourced, never run). Every result goes through ok/not_ok, so it reaches "N passed, N failed";
# never call them from a subshell (the count would be lost).
#
#   ok NAME · not_ok NAME [diagnostic lines...] · check NAME CMD... · expect_eq NAME GOT WANT

passed=0 failed=0

ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { # NAME [diagnostic lines...]
	local name=$1 line
	shift
	failed=$((failed + 1))
	echo "not ok - $name"
	for line in "$@"; do
		printf '%s\n' "$line" | sed 's/^/#   /'   # every line a comment, whatever it holds
	done
}

# check NAME CMD...: ok when CMD exits 0
check() { local n=$1; shift; if "$@"; then ok "$n"; else not_ok "$n" "command failed: $*"; fi; }

# expect_eq NAME GOT WANT
expect_eq() { if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1" "got:  $2" "want: $3"; fi; }
