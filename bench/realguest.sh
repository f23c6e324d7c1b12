#!/bin/bash
# bench/realguest.sh — relinkd on real Debian 12 guests (guest/debian/): per stack × path, the time from the
# target's RESUMED_MIGRATED event to relinkd's verified renewal, to the guest's lease of the target pod's
# address and to the first ping reply; and the plain-virsh re-plug floor on the same guests.
#
#   bench/realguest.sh                         REPS=5 migrations per stack × path, FLOOR=3 re-plugs per guest
#   REPS=5 STACKS="nm" PATHS="flap" bench/realguest.sh
#   NO_DOC=1 bench/realguest.sh                do not touch BENCHMARKS.md
#   DG_DIR=/var/tmp/debian bench/realguest.sh  images elsewhere than .cache/debian
#
# One world: two nodes, relinkd on both (the real-guest tier's options, tests/realguest/lib.sh), one Debian
# VM (384 MiB, qcow2 overlay) per stack × path, a stack's two booted together, each migrated REPS times back
# and forth, then destroyed.
# Clocks (all host clocks, µs): RESUMED_MIGRATED = when `virsh event` on the target printed it; verified =
# relinkd's renewal_ms (its own event → verified DHCP exchange); lease = when the guest's `lease … ip=<target
# pod's address>` console line reached the console file; first ping = the first reply (`ping -D`, every
# 100 ms from the target node, started before the migration).
# Floor, per guest after its migrations, with relinkd running but not involved (no migration): `virsh
# detach-device` of the live <interface> → the DEVICE_REMOVED event; `virsh attach-device` of the same
# element (same MAC, same PCI slot) → the guest's lease line.
# A guest kernel oops after a migration (TCG platform fault, guest/debian/README.md) is counted and the
# sample dropped; the VM is replaced once per stack × path.
#
# Raw rows are appended to bench/results/realguest.tsv (kind=migrate|floor); the summary replaces the
# "real guests" block of BENCHMARKS.md.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=cluster/lib.sh
. "$ROOT/cluster/lib.sh"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
# shellcheck source=cluster/guest-debian.sh
. "$ROOT/cluster/guest-debian.sh"
RL_SAY_PREFIX="# "
RL_QUIET=${RL_QUIET:-1}
REPS=${REPS:-5}
FLOOR=${FLOOR:-3}
STACKS=${STACKS:-networkd nm ifupdown}
PATHS=${PATHS:-reattach flap}
RESULTS=${RESULTS:-$ROOT/bench/results/realguest.tsv}
DOC=$ROOT/BENCHMARKS.md
RELINKD_OPTS=${RG_RELINKD_OPTS-}

die() { echo "bench/realguest: $*" >&2; exit 1; }
[ -x "$RL_RELINKD" ] || die "missing $RL_RELINKD (make)"
cluster_init || die "cluster_init"
# shellcheck disable=SC2086
dg_images $STACKS || die "images"
cluster_check || die "prerequisites missing"

STAMP=$(date -u '+%Y-%m-%d %H:%M UTC')
REV=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
T0=$(rl_ms)
ROWS=$RUN/rows.tsv
: >"$ROWS"
OOPSES=0 MIGRATIONS=0
mkdir -p "$(dirname "$RESULTS")"
[ -s "$RESULTS" ] || printf 'date\trev\tkind\tstack\tpath\trep\tfrom\tto\tmigrate_ms\tdecision\tescalated\tverified_ms\tlease_ms\tping_ms\tdetach_removed_ms\tattach_lease_ms\tresult\n' >"$RESULTS"

cluster_up || die "nodes"
# shellcheck disable=SC2086
relinkd_start 1 $RELINKD_OPTS
# shellcheck disable=SC2086
relinkd_start 2 $RELINKD_OPTS

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2" | head -1; }
row() { printf '%s\t%s\t' "$STAMP" "$REV"; local IFS=$'\t'; echo "$*"; }
ip_re() { echo "${1//./\\.}"; }

declare -A VMI GEN
# boot NAME... (NAME = stack/path) — create every VM, then wait for each first lease.
boot() {
	local name stack path vmi opts ip
	for name; do
		stack=${name%/*} path=${name#*/}
		GEN[$name]=$((${GEN[$name]:-0} + 1))
		vmi=${stack:0:4}-$path-${GEN[$name]}
		VMI[$name]=$vmi
		opts=()
		[ "$path" = flap ] && opts=(--mac "$(rl_mac)")
		dg_vm_create 1 "$vmi" "${opts[@]}" -- --stack "$stack" || die "$vmi: VM"
	done
	for name; do
		vmi=${VMI[$name]}
		ip=$(pod_ip "$(vm_pod "$vmi")" eth0)
		dg_wait_lease "$vmi" 0 "$ip" 420 >/dev/null || die "$vmi: no lease of $ip"
	done
}

# sample NAME REP FROM TO — one migration; prints a row; returns 2 on a guest kernel oops.
sample() {
	local name=$1 rep=$2 from=$3 to=$4 vmi=${VMI[$1]} stack=${1%/*} path=${1#*/} mark rmark ip pinger pl \
		done dec esc lease_us ping_us ver
	mark=$(vm_log_mark "$vmi")
	rmark=$(relinkd_mark "$to")
	migrate_prepare "$vmi" "$to" || die "$vmi: target pod"
	ip=$(pod_ip "$MIG_POD" eth0)
	pl=$RUN/ping-$vmi-$rep.out
	# -c, not -w: with a deadline ping exits at the first "Destination Host Unreachable" (ARP for the new
	# address fails until the guest has it).
	ip netns exec "$(node_ns "$to")" ping -n -D -i 0.1 -W 1 -c 600 "$ip" >"$pl" 2>&1 &
	pinger=$!
	migrate_run "$vmi" || { kill "$pinger" 2>/dev/null; die "$vmi: migration failed"; }
	MIGRATIONS=$((MIGRATIONS + 1))
	done=$(relinkd_wait "$to" "domain=$(vm_domain "$vmi") .*( verified | FAILED )" 60 "$rmark")
	dg_wait_lease "$vmi" "$mark" "$ip" 30 >/dev/null
	rl_wait 20 grep -q 'bytes from' "$pl"
	kill "$pinger" 2>/dev/null
	wait "$pinger" 2>/dev/null
	if vm_oops "$vmi" "$mark" >/dev/null; then
		OOPSES=$((OOPSES + 1))
		row migrate "$stack" "$path" "$rep" "n$from" "n$to" "$MIG_MS" "" "" "" "" "" "" "" oops | tee -a "$ROWS"
		return 2
	fi
	dec=$(tail -n +$((rmark + 1)) "$RUN/n$to/relinkd.log" | grep -F "domain=$(vm_domain "$vmi") " | grep -m1 'decision=')
	esc=$(tail -n +$((rmark + 1)) "$RUN/n$to/relinkd.log" | grep -F "domain=$(vm_domain "$vmi") " | grep -c ' escalate ')
	ver=""
	[[ $done == *" verified "* ]] && ver=$(field renewal_ms "$done")
	lease_us=$(vm_console_us "$vmi" "$mark" " lease dev=[^ ]+ mac=[^ ]+ ip=$(ip_re "$ip")/") || lease_us=""
	ping_us=$(sed -n 's/^\[\([0-9]*\)\.\([0-9]*\)\].*bytes from.*/\1\2/p' "$pl" | head -1)
	row migrate "$stack" "$path" "$rep" "n$from" "n$to" "$MIG_MS" "$(field decision "$dec")" "$esc" "$ver" \
		"${lease_us:+$(((lease_us - MIG_RESUMED_US) / 1000))}" "${ping_us:+$(((ping_us - MIG_RESUMED_US) / 1000))}" \
		"" "" "$([[ $done == *" verified "* ]] && echo verified || echo "${done:+FAILED}${done:-none}")" | tee -a "$ROWS"
}

# floor NAME REP — plain virsh re-plug of the guest's NIC where it runs now.
floor() {
	local name=$1 rep=$2 vmi=${VMI[$1]} stack=${1%/*} path=${1#*/} pod dom x ev mark t0 t1 tr lease_us ip
	pod=$(vm_pod "$vmi")
	dom=$(vm_domain "$vmi")
	ip=$(pod_ip "$pod" eth0)
	x=$RUN/floor-$vmi.xml
	pod_virsh "$pod" dumpxml "$dom" | sed -n '/<interface /,/<\/interface>/p' | grep -v '<alias ' >"$x"
	ev=$(grep -c '' "$(pod_dir "$pod")/events.log")
	mark=$(vm_log_mark "$vmi")
	t0=${EPOCHREALTIME/./}
	pod_virsh "$pod" detach-device "$dom" "$x" --live >/dev/null || die "$vmi: detach-device"
	rl_wait 30 pod_event_after "$pod" "$ev" "device-removed.*'$dom'" ||
		die "$vmi: no DEVICE_REMOVED within 30 s"
	tr=$(tail -n +$((ev + 1)) "$(pod_dir "$pod")/events.log" | grep "device-removed.*'$dom'" | head -1 | cut -d' ' -f1)
	t1=${EPOCHREALTIME/./}
	pod_virsh "$pod" attach-device "$dom" "$x" --live >/dev/null || die "$vmi: attach-device"
	dg_wait_lease "$vmi" "$mark" "$ip" 60 >/dev/null || die "$vmi: no lease within 60 s after the attach"
	lease_us=$(vm_console_us "$vmi" "$mark" " lease dev=[^ ]+ mac=[^ ]+ ip=$(ip_re "$ip")/")
	row floor "$stack" "$path" "$rep" "" "" "" "" "" "" "" "" $(((tr - t0) / 1000)) $(((lease_us - t1) / 1000)) ok | tee -a "$ROWS"
}

# One stack at a time (its guests boot together): idle TCG guests of other stacks would share the 2 cores.
for stack in $STACKS; do
	NAMES=()
	for path in $PATHS; do NAMES+=("$stack/$path"); done
	t=$(rl_ms)
	boot "${NAMES[@]}"
	echo "# $stack: ${#NAMES[@]} guests up in $((($(rl_ms) - t) / 1000)) s"
	for name in "${NAMES[@]}"; do
		from=1 to=2 replaced=0 rep=1
		while [ "$rep" -le "$REPS" ]; do
			sample "$name" "$rep" "$from" "$to"
			if [ $? = 2 ]; then
				[ "$replaced" = 1 ] && break
				replaced=1
				vm_destroy "${VMI[$name]}"
				pod_delete "$(vm_pod "${VMI[$name]}")"
				boot "$name"
				from=1 to=2
				continue
			fi
			from=$to to=$((3 - to)) rep=$((rep + 1))
		done
		for rep in $(seq 1 "$FLOOR"); do floor "$name" "$rep"; done
		vm_destroy "${VMI[$name]}"
		pod_delete "$(vm_pod "${VMI[$name]}")"
	done
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
cat "$ROWS" >>"$RESULTS"

# stats KIND STACK PATH COLUMN — "median (max)" of the column over rows with a value; "–" when none.
stats() {
	local m lo hi
	read -r m lo hi < <(awk -F'\t' -v k="$1" -v s="$2" -v p="$3" -v c="$4" '$3 == k && $4 == s && $5 == p && $c != "" { print $c }' "$ROWS" | nstats)
	if [ -n "$m" ]; then printf '%d (%d)' "$m" "$hi"; else printf '–'; fi
}
median() { stats "$@" | cut -d' ' -f1; }
count() { awk -F'\t' -v s="$1" -v p="$2" '$3 == "migrate" && $4 == s && $5 == p && $17 != "oops"' "$ROWS" | wc -l; }
verdicts() { awk -F'\t' -v s="$1" -v p="$2" '$3 == "migrate" && $4 == s && $5 == p { d[$10 ($11 > 0 ? "→reattach" : "") " " $17]++ }
	END { for (k in d) printf "%s%s×%d", (n++ ? ", " : ""), k, d[k] }' "$ROWS"; }

TABLE=$RUN/table.md
{
	echo "| stack | path | n | relinkd | RESUMED_MIGRATED → verified (ms) | → guest has the new address (ms) | → first ping reply (ms) | floor: detach → DEVICE_REMOVED (ms) | floor: attach → guest lease (ms) | re-plug overhead over the floor (ms) |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	for stack in $STACKS; do
		for path in $PATHS; do
			over="–"
			if [ "$path" = reattach ]; then
				l=$(median migrate "$stack" "$path" 13) d=$(median floor "$stack" "$path" 15) a=$(median floor "$stack" "$path" 16)
				[ "$l" != "–" ] && [ "$d" != "–" ] && [ "$a" != "–" ] && over=$((l - d - a))
			fi
			printf '| %s | %s | %s | %s | **%s** | %s | %s | %s | %s | %s |\n' "$stack" \
				"$([ "$path" = flap ] && echo "MAC unchanged" || echo "MAC changed")" "$(count "$stack" "$path")" \
				"$(verdicts "$stack" "$path")" "$(stats migrate "$stack" "$path" 12)" "$(stats migrate "$stack" "$path" 13)" \
				"$(stats migrate "$stack" "$path" 14)" "$(stats floor "$stack" "$path" 15)" "$(stats floor "$stack" "$path" 16)" "$over"
		done
	done
} >"$TABLE"
echo
cat "$TABLE"
echo "# guest kernel oopses: $OOPSES in $MIGRATIONS migrations; wall time $((($(rl_ms) - T0) / 1000)) s"

[ "${NO_DOC:-0}" = 1 ] && exit 0
BLOCK=$RUN/block.md
{
	echo "<!-- bench/realguest.sh: begin (generated; edit the script, not this block) -->"
	echo "### Real Debian 12 guests: RESUMED_MIGRATED → verified / lease / first ping, and the re-plug floor (\`bench/realguest.sh\`)"
	echo
	echo '```sh'
	echo "make test-bins && sudo bench/realguest.sh      # REPS=$REPS FLOOR=$FLOOR STACKS=\"networkd nm ifupdown\" PATHS=\"reattach flap\""
	echo '```'
	echo
	echo "Guests of \`guest/debian/\` (systemd-networkd 252, NetworkManager 1.42, ifupdown 0.8 + dhclient 4.4; cloud kernel;"
	echo "384 MiB, qcow2 overlay, TCG) on the cluster-in-a-box, one VM per stack × path, each migrated $REPS times back and"
	echo "forth; relinkd on both nodes with ${RELINKD_OPTS:+\`$RELINKD_OPTS\` on top of }its defaults (hold 1000 ms, flap window"
	echo "3000 ms, re-plug window 20000 ms for a silent guest, 3000 ms for the server to answer a guest that asked). Median (max) in ms from the target's \`RESUMED_MIGRATED\` event: *verified* is"
	echo "relinkd's own renewal_ms; *new address*: the guest's \`lease\` console line with the target pod's address; *first"
	echo "ping*: first reply to \`ping -i 0.1\` from the target node. *Floor*: plain \`virsh detach-device\` → \`DEVICE_REMOVED\`"
	echo "and \`virsh attach-device\` → the guest's lease line, $FLOOR times per guest, no migration. *Overhead* (MAC changed"
	echo "only): median new-address time minus the two floor medians. Raw rows: \`bench/results/realguest.tsv\`."
	echo
	echo "Results — $STAMP, rev $REV, $(nproc) vCPUs, load average $LOAD0 before, $LOAD1 after; guest kernel oopses"
	echo "(platform fault, sample dropped): $OOPSES of $MIGRATIONS migrations."
	echo
	cat "$TABLE"
	echo "<!-- bench/realguest.sh: end -->"
} >"$BLOCK"
doc_splice bench/realguest.sh "$BLOCK" "$DOC"
echo "bench/realguest: results appended to $RESULTS, summary written to $DOC"
