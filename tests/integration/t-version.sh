#!/bin/bash
# One version source: relinkd --version, the plugin's banner (CNI_COMMAND unset, as the reference
# plugins print it) and the plugin's debug log all carry the VERSION file's line, exactly.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib-common.sh
. "$ROOT/tests/lib-common.sh"
RELINK=${RELINK:-$ROOT/bin/relink}
RELINKD=${RELINKD:-$ROOT/bin/relinkd}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

want=$(cat "$ROOT/VERSION")
check "VERSION holds one non-empty line" test "$(wc -l <"$ROOT/VERSION")" -eq 1 -a -n "$want"
expect_eq "relinkd --version prints the VERSION file" "$("$RELINKD" --version 2>&1; echo "rc=$?")" \
	"relinkd $want"$'\n'"rc=0"
env -u CNI_COMMAND "$RELINK" </dev/null >"$T/out" 2>"$T/err"
rc=$?
expect_eq "relink without CNI_COMMAND: banner first on stderr" "$(head -1 "$T/err")" "CNI relink plugin $want"
expect_eq "relink without CNI_COMMAND: still a CNI error (code 4, exit 1)" "$(jq -c .code "$T/out") rc=$rc" "4 rc=1"
CNI_COMMAND=VERSION "$RELINK" </dev/null >"$T/out" 2>"$T/err"
expect_eq "relink VERSION stays the spec's document (no extra keys)" "$(jq -c 'keys' "$T/out")" \
	'["cniVersion","supportedVersions"]'
# The debug log line of a verb names the version (a DEL of nothing: no netns needed).
printf '{"cniVersion":"1.0.0","name":"v","type":"relink","stateDir":"%s/state","logFile":"%s/log","logLevel":"debug"}' \
	"$T" "$T" >"$T/conf"
CNI_COMMAND=DEL CNI_CONTAINERID=c1 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni "$RELINK" <"$T/conf" >"$T/out" 2>"$T/err"
rc=$?
if grep -q "relink $want: DEL network=v " "$T/log" 2>/dev/null && [ $rc -eq 0 ]; then
	ok "relink's debug log names its version"
else
	not_ok "relink's debug log names its version" "rc=$rc" "$(cat "$T/log" "$T/out" "$T/err" 2>/dev/null)"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
