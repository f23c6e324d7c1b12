#!/bin/bash
# Man pages relink(8) and relinkd(8): render without a groff warning, carry the VERSION file's
# version, relinkd(8)'s OPTIONS are exactly the options of `relinkd --help` (same set, same argument
# names), relink(8) names every verb and every CNI error code the plugin can return, and
# `make install` puts both under MANDIR/man8.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib-common.sh
. "$ROOT/tests/lib-common.sh"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$ROOT" || exit 2

if ! make --no-print-directory -s man >"$T/make" 2>&1; then
	not_ok "make man" "$(cat "$T/make")"
	echo "$passed passed, $failed failed"
	exit 1
fi
ok "make man"
version=$(cat VERSION)
for p in relink relinkd; do
	f=build/man/$p.8
	w=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$f" 2>&1)
	expect_eq "$p(8) renders without groff warnings" "$w" ""
	expect_eq "$p(8) names version $version" "$(grep -c "^\.TH .* \"relink $version\"" "$f")" 1
	w=$(MANWIDTH=80 man -l "$f" 2>&1 >/dev/null)
	expect_eq "$p(8) formats through man(1) without messages" "$w" ""
done

# Options of --help: the lines of its Options block that start with "  --" (name and argument).
bin/relinkd --help | awk '/^Options:$/ {on = 1; next} on && /^$/ {exit} on && /^  --/ {print $1, ($2 ~ /^[A-Z:]+$/ ? $2 : "")}' |
	sed 's/ $//' | sort >"$T/help"
# Options of the man page: the tag line after each .TP in the OPTIONS section.
awk '/^\.SH OPTIONS/ {on = 1; next} on && /^\.SH/ {exit} on && prev == ".TP" {print} {prev = $0}' build/man/relinkd.8 |
	sed -e 's/^\.BI "//' -e 's/^\.B //' -e 's/ " / /' -e 's/\\-/-/g' | sort >"$T/man"
n=$(wc -l <"$T/help")
if [ "$n" -ge 19 ] && diff -u "$T/help" "$T/man" >"$T/diff"; then
	ok "relinkd(8) OPTIONS = relinkd --help options ($n, with argument names)"
else
	not_ok "relinkd(8) OPTIONS = relinkd --help options" "help: $n options" "$(cat "$T/diff")"
fi
for o in --version --help --metrics-file --metrics-listen --kubevirt; do
	check "relinkd(8) documents $o" grep -q "^\.B[I]* \"*$(sed 's/-/\\\\-/g' <<<"$o")" build/man/relinkd.8
done
for s in SIGNALS METRICS FILES "EXIT STATUS" EXAMPLES "DECISION TABLE"; do
	check "relinkd(8) has a $s section" grep -qx "\.SH $s" build/man/relinkd.8
done
# Every metric relinkd renders is described.
missing=""
for m in $(grep -o 'relinkd_[a-z_]*' trigger/metrics.c | grep -v '^relinkd_metrics$' | sort -u); do
	grep -q "${m//_/\\_}\|$m" build/man/relinkd.8 || missing="$missing $m"
done
expect_eq "relinkd(8) describes every metric in trigger/metrics.c" "$missing" ""

# relink(8): verbs and CNI error codes.
missing=""
for v in ADD DEL CHECK STATUS GC VERSION; do
	grep -qx "\.B $v" build/man/relink.8 || missing="$missing $v"
done
expect_eq "relink(8) describes every verb" "$missing" ""
# The codes: every "NAME = N" of plugin/plugin.h whose NAME a plugin/*.c file uses; the man page's
# tags in EXIT STATUS (".B 7", ".BR 100 ", " 101 ...").
awk '/^\.SH EXIT STATUS/ {on = 1; next} on && /^\.SH/ {exit} on && prev == ".TP" {print} {prev = $0}' build/man/relink.8 |
	grep -o '[0-9]\+' | sort -n >"$T/codes-man"
sed -n 's/^ *\([A-Z_]*\) = \([0-9]*\),.*/\1 \2/p' plugin/plugin.h | while read -r name code; do
	grep -qw "$name" plugin/*.c && echo "$code"
done | sort -n >"$T/codes-used"
n=$(wc -l <"$T/codes-used")
if [ "$n" -ge 8 ] && diff -u "$T/codes-used" "$T/codes-man" >"$T/diff"; then
	ok "relink(8) EXIT STATUS lists exactly the CNI error codes the plugin returns ($n)"
else
	not_ok "relink(8) EXIT STATUS lists exactly the CNI error codes the plugin returns" "used: $n" "$(cat "$T/diff")"
fi
for k in stateDir logFile logLevel args.cni.vm relinkPolicy relinkObserve args.cni.relinkPolicy; do
	check "relink(8) documents config key $k" grep -q "^\.B[R]* $k\b" build/man/relink.8
done

make --no-print-directory -s install DESTDIR="$T/root" PREFIX=/usr BINDIR=/usr/sbin CNI_BIN_DIR=/usr/lib/cni >"$T/make" 2>&1
got=$(cd "$T/root" && find . -type f | sort | tr '\n' ' ')
expect_eq "make install: binaries and both man pages" "$got" \
	"./usr/lib/cni/relink ./usr/sbin/relinkd ./usr/share/man/man8/relink.8 ./usr/share/man/man8/relinkd.8 "
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
