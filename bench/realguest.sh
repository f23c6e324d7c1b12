#!/bin/bash
# bench/realguest.sh — relinkd on real Debian 12 guests (guest/debian/): per stack × path, the time from the
# target's RESUMED_MIGRATED event to relinkd's verified renewal, to the guest's lease of the target pod's
# address and to the first ping reply; and the plain-virsh re-plug floor on the same guests.
#
#   bench/realguest.sh                         REPS=5 migrations per stack × path, FLOOR=3 re-plugs per guest,
#                                              PMFLOOR=REPS post-migration plain-virsh re-plugs per stack
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
# Re-plug phases of relinkd (MAC changed), from its log (t_ms since its own receipt of the event): event →
# detach call returned (decision, XML reads, the pending-unplug metadata, the detach RPC), → DEVICE_REMOVED,
# → attach call returned, → the guest's first DHCP packet, → the ACK relinkd verifies by; attached → the
# guest's lease line (host clock: RESUMED_MIGRATED + t_ms); and the guest's own nic-del / nic-add lines.
# Post-migration floor (PMFLOOR migrations per stack, with PATHS containing reattach): one more guest of
# the stack whose pods say relinkObserve (relinkd decides and logs, never touches it), migrated back and
# forth; at RESUMED_MIGRATED on the target the bench does by hand what relinkd would, with plain virsh:
# `detach-device-alias` of the live <interface> → DEVICE_REMOVED → `attach-device` of the same element with
# the target pod's served MAC at the same PCI slot (prepared before the migration) → the guest's lease line.
# Idle floor, per guest after its migrations (no migration): `virsh detach-device-alias` of the live
# <interface> → the DEVICE_REMOVED event; `virsh attach-device` of the same element (same MAC, same PCI
# slot) → the guest's lease line.
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
PMFLOOR=${PMFLOOR:-$REPS}
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
# Columns 15/16: the re-plug's detach call returned → DEVICE_REMOVED and attach call returned → guest lease, for
# every kind (migrate rows with a re-plug too, since 18–30 were appended); 18: event → detach call returned;
# 19: DEVICE_REMOVED → attach call returned; 20: attached → first DHCP from the guest; 21: first DHCP → the
# ACK relinkd verifies by; 22: unplug re-asks; 23: relinkd's served-MAC probe_ms; 24: relinkd's
# pending-unplug metadata write before the detach; 25/26: the detach / attach call (relinkd: the libvirt RPC;
# plain virsh: the whole command); 27: detach returned → the guest's nic-del console line; 28: nic-del →
# DEVICE_REMOVED; 29: attach returned → the guest's nic-add line; 30: relinkd's decision t_ms.
HEADER='date\trev\tkind\tstack\tpath\trep\tfrom\tto\tmigrate_ms\tdecision\tescalated\tverified_ms\tlease_ms\tping_ms\tdetach_removed_ms\tattach_lease_ms\tresult\tevent_detach_ms\tremoved_attach_ms\tattach_dhcp_ms\tdhcp_ack_ms\treasks\tprobe_ms\tpending_ms\tdetach_call_ms\tattach_call_ms\tdetach_nicdel_ms\tnicdel_removed_ms\tattach_nicadd_ms\tdecision_ms\n'
if [ ! -s "$RESULTS" ]; then
	printf %b "$HEADER" >"$RESULTS"
elif [ "$(head -1 "$RESULTS" | awk -F'\t' '{ print NF }')" != 30 ]; then
	{ printf %b "$HEADER"; tail -n +2 "$RESULTS"; } >"$RESULTS.tmp" && mv "$RESULTS.tmp" "$RESULTS"   # older rows: new columns empty
fi

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
		[ "$path" = pmfloor ] && opts=(--relink-conf '{"relinkObserve":true}')   # relinkd never acts on it
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
		done dec esc lease_us ping_us ver lines
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
	lines=$(tail -n +$((rmark + 1)) "$RUN/n$to/relinkd.log" | grep -F "domain=$(vm_domain "$vmi") ")
	dec=$(grep -m1 'decision=' <<<"$lines")
	esc=$(grep -c ' escalate ' <<<"$lines")
	ver=""
	[[ $done == *" verified "* ]] && ver=$(field renewal_ms "$done")
	lease_us=$(vm_console_us "$vmi" "$mark" " lease dev=[^ ]+ mac=[^ ]+ ip=$(ip_re "$ip")/") || lease_us=""
	ping_us=$(sed -n 's/^\[\([0-9]*\)\.\([0-9]*\)\].*bytes from.*/\1\2/p' "$pl" | head -1)
	phases "$lines" "$lease_us"
	guest_phases "$vmi" "$mark" "$PH_DET_US" "$PH_REM_US" "$PH_ATT_US"
	row migrate "$stack" "$path" "$rep" "n$from" "n$to" "$MIG_MS" "$(field decision "$dec")" "$esc" "$ver" \
		"${lease_us:+$(((lease_us - MIG_RESUMED_US) / 1000))}" "${ping_us:+$(((ping_us - MIG_RESUMED_US) / 1000))}" \
		"$PH_REMOVED" "$PH_LEASE" "$([[ $done == *" verified "* ]] && echo verified || echo "${done:+FAILED}${done:-none}")" \
		"$PH_DETACH" "$PH_ATTACH" "$PH_DHCP" "$PH_ACK" "$PH_REASKS" "$(field probe_ms "$dec")" \
		"$PH_PENDING" "$PH_DCALL" "$PH_ACALL" "$G_DEL" "$G_DEL_REM" "$G_ADD" "$(field t_ms "$dec")" | tee -a "$ROWS"
}

# phases LINES LEASE_US — the last re-plug of relinkd's action (its lines about one domain after one
# migration): PH_DETACH (event → detach call returned), PH_REMOVED (→ released: DEVICE_REMOVED),
# PH_ATTACH (released → attach call returned), PH_DHCP (attached → first DHCP packet from the guest),
# PH_ACK (first DHCP → verified), PH_LEASE (attached → the guest's lease line, host clock), PH_REASKS,
# PH_PENDING / PH_DCALL / PH_ACALL (the pending-unplug metadata write, the detach and the attach RPC), and
# host times PH_DET_US / PH_REM_US / PH_ATT_US for guest_phases. Empty where the action had no re-plug (a
# flap that worked). t_ms counts from relinkd's receipt of the event; RESUMED_MIGRATED as `virsh event`
# printed it stands in for that on the host clock (both are clients of the same daemon).
phases() {
	local lines=$1 lease_us=$2 det rel att disc ver t_det t_rel t_att t_disc
	PH_DETACH="" PH_REMOVED="" PH_ATTACH="" PH_DHCP="" PH_ACK="" PH_LEASE="" PH_REASKS="" PH_PENDING="" PH_DCALL=""
	PH_ACALL="" PH_DET_US="" PH_REM_US="" PH_ATT_US=""
	det=$(grep ' detach alias=' <<<"$lines" | tail -1)
	rel=$(grep ' released how=' <<<"$lines" | tail -1)
	att=$(grep ' attached plug=' <<<"$lines" | tail -1)
	[ -n "$det" ] && [ -n "$rel" ] && [ -n "$att" ] || return 0
	t_det=$(field t_ms "$det") t_rel=$(field t_ms "$rel") t_att=$(field t_ms "$att")
	PH_DETACH=$t_det
	PH_REMOVED=$((t_rel - t_det))
	PH_ATTACH=$((t_att - t_rel))
	PH_REASKS=$(field reasks "$rel")
	PH_PENDING=$(field pending_ms "$det") PH_DCALL=$(field call_ms "$det") PH_ACALL=$(field call_ms "$att")
	PH_DET_US=$((MIG_RESUMED_US + t_det * 1000)) PH_REM_US=$((MIG_RESUMED_US + t_rel * 1000))
	PH_ATT_US=$((MIG_RESUMED_US + t_att * 1000))
	disc=$(grep -E ' dhcp-(discover|request) from guest ' <<<"$lines" | tail -1)
	ver=$(grep ' verified kind=' <<<"$lines" | tail -1)
	if [ -n "$disc" ]; then
		t_disc=$(field t_ms "$disc")
		PH_DHCP=$((t_disc - t_att))
		[ -n "$ver" ] && PH_ACK=$(($(field t_ms "$ver") - t_disc))
	fi
	[ -n "$lease_us" ] && PH_LEASE=$(((lease_us - MIG_RESUMED_US) / 1000 - t_att))
	return 0
}

# guest_phases VMI MARK DETACHED_US REMOVED_US ATTACHED_US — what the guest's console says (host clock of
# each line): G_DEL (detach returned → nic-del: the guest unregistered the NIC), G_DEL_REM (nic-del →
# DEVICE_REMOVED: the rest of the guest's eject), G_ADD (attach returned → nic-add). The last nic-del and
# nic-add after MARK (a replugged re-attach: its last round).
guest_phases() {
	local vmi=$1 mark=$2 det=$3 rem=$4 att=$5 del_us add_us
	G_DEL="" G_DEL_REM="" G_ADD=""
	[ -n "$det" ] || return 0
	del_us=$(vm_console_us "$vmi" "$mark" ' nic-del dev=') || del_us=""
	add_us=$(vm_console_us "$vmi" "$mark" ' nic-add dev=') || add_us=""
	[ -n "$del_us" ] && G_DEL=$(((del_us - det) / 1000)) G_DEL_REM=$(((rem - del_us) / 1000))
	[ -n "$add_us" ] && G_ADD=$(((add_us - att) / 1000))
	return 0
}

# ev_wait FILE FROM_LINE PATTERN TIMEOUT_S — the first line after FROM_LINE of the (growing) events.log
# FILE that contains PATTERN, as soon as it is written (polled every 5 ms: the reaction time is part of
# the floor, so it must stay small). 1 on timeout.
ev_wait() {
	local file=$1 pat=$3 deadline=$((${EPOCHREALTIME/./} + $4 * 1000000)) fd l buf="" n=0
	exec {fd}<"$file" || return 1
	while :; do
		if IFS= read -r -u "$fd" l; then
			l=$buf$l buf=""
			n=$((n + 1))
			if [ "$n" -gt "$2" ] && [[ $l == *"$pat"* ]]; then
				exec {fd}<&-
				echo "$l"
				return 0
			fi
			continue
		fi
		buf+=$l
		if [ "${EPOCHREALTIME/./}" -gt "$deadline" ]; then
			exec {fd}<&-
			return 1
		fi
		sleep 0.005
	done
}

# pm_replug POD DOM ALIAS XML OUT — in the background during the migration: at the target's
# RESUMED_MIGRATED, what relinkd would do, by hand. Writes "resumed asked detached removed attaching
# attached" (µs, host clock: the event lines' stamps, around each virsh call) to OUT, or an error.
pm_replug() {
	local pod=$1 dom=$2 alias=$3 x=$4 out=$5 ev l t_res t_ask t_det t_rem t_call t_att
	ev=$(pod_dir "$pod")/events.log
	l=$(ev_wait "$ev" 0 "'lifecycle' for domain '$dom': Resumed Migrated" 120) || { echo "no RESUMED_MIGRATED" >"$out"; return; }
	t_res=${l%% *}
	t_ask=${EPOCHREALTIME/./}
	pod_virsh "$pod" detach-device-alias "$dom" "$alias" --live >/dev/null 2>"$out.err" || { echo "detach: $(cat "$out.err")" >"$out"; return; }
	t_det=${EPOCHREALTIME/./}
	l=$(ev_wait "$ev" 0 "'device-removed' for domain '$dom': $alias" 60) || { echo "no DEVICE_REMOVED in 60 s" >"$out"; return; }
	t_rem=${l%% *}
	t_call=${EPOCHREALTIME/./}
	pod_virsh "$pod" attach-device "$dom" "$x" --live >/dev/null 2>"$out.err" || { echo "attach: $(cat "$out.err")" >"$out"; return; }
	t_att=${EPOCHREALTIME/./}
	echo "$t_res $t_ask $t_det $t_rem $t_call $t_att" >"$out"
}

# pmsample NAME REP FROM TO — one migration of the observed guest with the plain-virsh re-plug at
# RESUMED_MIGRATED; prints a row; returns 2 on a guest kernel oops.
pmsample() {
	local name=$1 rep=$2 from=$3 to=$4 vmi=${VMI[$1]} stack=${1%/*} mark rmark ip x alias dom src job out \
		t_res t_ask t_det t_rem t_call t_att lease_us dec res
	dom=$(vm_domain "$vmi")
	src=$(vm_pod "$vmi")
	mark=$(vm_log_mark "$vmi")
	rmark=$(relinkd_mark "$to")
	migrate_prepare "$vmi" "$to" || die "$vmi: target pod"
	ip=$(pod_ip "$MIG_POD" eth0)
	# The element relinkd would attach: the live one, the target pod's served MAC, no alias, same <address>.
	x=$RUN/pmfloor-$vmi-$rep.xml
	pod_virsh "$src" dumpxml "$dom" | awk '/<interface /, /<\/interface>/' >"$x.live"
	alias=$(sed -n "s/.*<alias name='\([^']*\)'.*/\1/p" "$x.live" | head -1)
	grep -v '<alias ' "$x.live" | sed "s/<mac address='[^']*'/<mac address='$(launcher_dhcp_served "$MIG_POD" eth0)'/" >"$x"
	[ -n "$alias" ] || die "$vmi: no alias on the live <interface>"
	out=$RUN/pmfloor-$vmi-$rep.out
	rm -f "$out"
	pm_replug "$MIG_POD" "$dom" "$alias" "$x" "$out" &
	job=$!
	migrate_run "$vmi" || { kill "$job" 2>/dev/null; die "$vmi: migration failed"; }
	MIGRATIONS=$((MIGRATIONS + 1))
	wait "$job"
	read -r t_res t_ask t_det t_rem t_call t_att <"$out"
	[[ $t_att =~ ^[0-9]+$ ]] || die "$vmi: plain-virsh re-plug after the migration: $(cat "$out")"
	dg_wait_lease "$vmi" "$mark" "$ip" 60 >/dev/null
	if vm_oops "$vmi" "$mark" >/dev/null; then
		OOPSES=$((OOPSES + 1))
		row pmfloor "$stack" reattach "$rep" "n$from" "n$to" "$MIG_MS" "" "" "" "" "" "" "" oops | tee -a "$ROWS"
		return 2
	fi
	lease_us=$(vm_console_us "$vmi" "$mark" " lease dev=[^ ]+ mac=[^ ]+ ip=$(ip_re "$ip")/") || lease_us=""
	res=ok
	[ -n "$lease_us" ] || res="no lease"
	# relinkd observed this one: its decision line says what it would have done (and its probe_ms).
	dec=$(tail -n +$((rmark + 1)) "$RUN/n$to/relinkd.log" | grep -F "domain=$dom " | grep -m1 'decision=')
	guest_phases "$vmi" "$mark" "$t_det" "$t_rem" "$t_att"
	row pmfloor "$stack" reattach "$rep" "n$from" "n$to" "$MIG_MS" "$(field decision "$dec")" "" "" \
		"${lease_us:+$(((lease_us - t_res) / 1000))}" "" "$(((t_rem - t_det) / 1000))" \
		"${lease_us:+$(((lease_us - t_att) / 1000))}" "$res" "$(((t_det - t_res) / 1000))" "$(((t_att - t_rem) / 1000))" \
		"" "" "" "$(field probe_ms "$dec")" "" "$(((t_det - t_ask) / 1000))" "$(((t_att - t_call) / 1000))" \
		"$G_DEL" "$G_DEL_REM" "$G_ADD" "" | tee -a "$ROWS"
}

# floor NAME REP — plain virsh re-plug of the guest's NIC where it runs now.
floor() {
	local name=$1 rep=$2 vmi=${VMI[$1]} stack=${1%/*} path=${1#*/} pod dom x ev mark t0 td tc t1 tr lease_us ip alias l
	pod=$(vm_pod "$vmi")
	dom=$(vm_domain "$vmi")
	ip=$(pod_ip "$pod" eth0)
	x=$RUN/floor-$vmi.xml
	pod_virsh "$pod" dumpxml "$dom" | awk '/<interface /, /<\/interface>/' >"$x.live"
	alias=$(sed -n "s/.*<alias name='\([^']*\)'.*/\1/p" "$x.live" | head -1)
	grep -v '<alias ' "$x.live" >"$x"
	ev=$(grep -c '' "$(pod_dir "$pod")/events.log")
	mark=$(vm_log_mark "$vmi")
	t0=${EPOCHREALTIME/./}
	# The call relinkd makes (asynchronous; `detach-device` would wait inside libvirtd for the guest).
	pod_virsh "$pod" detach-device-alias "$dom" "$alias" --live >/dev/null || die "$vmi: detach-device-alias"
	td=${EPOCHREALTIME/./}
	l=$(ev_wait "$(pod_dir "$pod")/events.log" "$ev" "'device-removed' for domain '$dom': $alias" 30) ||
		die "$vmi: no DEVICE_REMOVED within 30 s"
	tr=${l%% *}
	tc=${EPOCHREALTIME/./}
	pod_virsh "$pod" attach-device "$dom" "$x" --live >/dev/null || die "$vmi: attach-device"
	t1=${EPOCHREALTIME/./}
	dg_wait_lease "$vmi" "$mark" "$ip" 60 >/dev/null || die "$vmi: no lease within 60 s after the attach"
	lease_us=$(vm_console_us "$vmi" "$mark" " lease dev=[^ ]+ mac=[^ ]+ ip=$(ip_re "$ip")/")
	guest_phases "$vmi" "$mark" "$td" "$tr" "$t1"
	row floor "$stack" "$path" "$rep" "" "" "" "" "" "" "" "" $(((tr - td) / 1000)) $(((lease_us - t1) / 1000)) ok \
		"" $(((t1 - tr) / 1000)) "" "" "" "" "" $(((td - t0) / 1000)) $(((t1 - tc) / 1000)) \
		"$G_DEL" "$G_DEL_REM" "$G_ADD" "" | tee -a "$ROWS"
}

# One stack at a time (its guests boot together): idle TCG guests of other stacks would share the 2 cores.
# The post-migration floor's guest (stack/pmfloor) comes with the re-attach path.
for stack in $STACKS; do
	NAMES=()
	for path in $PATHS; do NAMES+=("$stack/$path"); done
	[[ " $PATHS " == *" reattach "* ]] && [ "$PMFLOOR" -gt 0 ] && NAMES+=("$stack/pmfloor")
	t=$(rl_ms)
	boot "${NAMES[@]}"
	echo "# $stack: ${#NAMES[@]} guests up in $((($(rl_ms) - t) / 1000)) s"
	for name in "${NAMES[@]}"; do
		from=1 to=2 replaced=0 rep=1 n=$REPS fn=sample
		[ "${name#*/}" = pmfloor ] && n=$PMFLOOR fn=pmsample
		while [ "$rep" -le "$n" ]; do
			"$fn" "$name" "$rep" "$from" "$to"
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
		if [ "$fn" = sample ]; then
			for rep in $(seq 1 "$FLOOR"); do floor "$name" "$rep"; done
		fi
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

# kstats KIND STACK COLUMN — stats over one kind's rows of a stack, any path (the phases are the re-attach's).
kstats() {
	local m hi
	read -r m _ hi < <(awk -F'\t' -v k="$1" -v s="$2" -v c="$3" '$3 == k && $4 == s && $5 == "reattach" && $17 != "oops" && $c != "" { print $c }' "$ROWS" | nstats)
	if [ -n "$m" ]; then printf '%d (%d)' "$m" "$hi"; else printf '–'; fi
}
kmedian() { kstats "$@" | cut -d' ' -f1; }
kcount() { awk -F'\t' -v k="$1" -v s="$2" '$3 == k && $4 == s && $5 == "reattach" && $17 != "oops"' "$ROWS" | wc -l; }
# diff A B — A − B, or – when either is missing.
diff_ms() { if [ "$1" != "–" ] && [ "$2" != "–" ]; then printf '%+d' $(($1 - $2)); else printf '–'; fi; }

TABLE=$RUN/table.md
{
	echo "| stack | path | n | relinkd | RESUMED_MIGRATED → verified (ms) | → guest has the new address (ms) | → first ping reply (ms) | idle floor: detach → DEVICE_REMOVED (ms) | idle floor: attach → guest lease (ms) | overhead over the idle floor (ms) | post-migration floor: → guest has the new address (ms) | overhead over the post-migration floor (ms) |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
	for stack in $STACKS; do
		for path in $PATHS; do
			over="–" pmf="–" pover="–"
			if [ "$path" = reattach ]; then
				l=$(median migrate "$stack" "$path" 13) d=$(median floor "$stack" "$path" 15) a=$(median floor "$stack" "$path" 16)
				[ "$l" != "–" ] && [ "$d" != "–" ] && [ "$a" != "–" ] && over=$((l - d - a))
				pmf=$(kstats pmfloor "$stack" 13)
				pover=$(diff_ms "$l" "$(kmedian pmfloor "$stack" 13)")
			fi
			printf '| %s | %s | %s | %s | **%s** | %s | %s | %s | %s | %s | %s | %s |\n' "$stack" \
				"$([ "$path" = flap ] && echo "MAC unchanged" || echo "MAC changed")" "$(count "$stack" "$path")" \
				"$(verdicts "$stack" "$path")" "$(stats migrate "$stack" "$path" 12)" "$(stats migrate "$stack" "$path" 13)" \
				"$(stats migrate "$stack" "$path" 14)" "$(stats floor "$stack" "$path" 15)" "$(stats floor "$stack" "$path" 16)" \
				"$over" "$pmf" "$pover"
		done
	done
} >"$TABLE"
PHASES=$RUN/phases.md
if [[ " $PATHS " == *" reattach "* ]]; then
	{
		echo "| stack | who | n | event → detach returned | detach → guest drops the NIC | guest drops it → DEVICE_REMOVED | detach → DEVICE_REMOVED | DEVICE_REMOVED → attach returned | attached → guest sees the NIC | attached → first DHCP | first DHCP → ACK | attached → guest lease | event → guest lease |"
		echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
		for stack in $STACKS; do
			for k in migrate pmfloor floor; do
				case $k in
				migrate) who=relinkd ;;
				pmfloor) who="post-migration floor (plain virsh)" ;;
				floor) who="idle floor (plain virsh, no migration)" ;;
				esac
				printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$stack" "$who" "$(kcount "$k" "$stack")" \
					"$(kstats "$k" "$stack" 18)" "$(kstats "$k" "$stack" 27)" "$(kstats "$k" "$stack" 28)" \
					"$(kstats "$k" "$stack" 15)" "$(kstats "$k" "$stack" 19)" "$(kstats "$k" "$stack" 29)" \
					"$(kstats "$k" "$stack" 20)" "$(kstats "$k" "$stack" 21)" "$(kstats "$k" "$stack" 16)" "$(kstats "$k" "$stack" 13)"
			done
			printf '| %s | **relinkd − post-migration floor** (medians) | | %s | %s | %s | %s | %s | %s | | | %s | **%s** |\n' "$stack" \
				"$(diff_ms "$(kmedian migrate "$stack" 18)" "$(kmedian pmfloor "$stack" 18)")" \
				"$(diff_ms "$(kmedian migrate "$stack" 27)" "$(kmedian pmfloor "$stack" 27)")" \
				"$(diff_ms "$(kmedian migrate "$stack" 28)" "$(kmedian pmfloor "$stack" 28)")" \
				"$(diff_ms "$(kmedian migrate "$stack" 15)" "$(kmedian pmfloor "$stack" 15)")" \
				"$(diff_ms "$(kmedian migrate "$stack" 19)" "$(kmedian pmfloor "$stack" 19)")" \
				"$(diff_ms "$(kmedian migrate "$stack" 29)" "$(kmedian pmfloor "$stack" 29)")" \
				"$(diff_ms "$(kmedian migrate "$stack" 16)" "$(kmedian pmfloor "$stack" 16)")" \
				"$(diff_ms "$(kmedian migrate "$stack" 13)" "$(kmedian pmfloor "$stack" 13)")"
		done
		echo
		echo "| stack | who | event → decision | pending-unplug metadata write | detach call | attach call | relinkd's own time on the re-plug path (event → detach returned + DEVICE_REMOVED → attach returned) |"
		echo "|---|---|---|---|---|---|---|"
		for stack in $STACKS; do
			own=$(awk -F'\t' -v s="$stack" '$3 == "migrate" && $4 == s && $5 == "reattach" && $17 != "oops" && $18 != "" && $19 != "" { print $18 + $19 }' "$ROWS" | nstats)
			printf '| %s | relinkd (libvirt RPCs) | %s | %s | %s | %s | **%s** |\n' "$stack" "$(kstats migrate "$stack" 30)" \
				"$(kstats migrate "$stack" 24)" "$(kstats migrate "$stack" 25)" "$(kstats migrate "$stack" 26)" \
				"$([ -n "$own" ] && printf '%d (%d)' "${own%% *}" "${own##* }" || printf '–')"
			printf '| %s | post-migration floor (virsh commands) | – | – | %s | %s | %s |\n' "$stack" "$(kstats pmfloor "$stack" 25)" \
				"$(kstats pmfloor "$stack" 26)" \
				"$(own=$(awk -F'\t' -v s="$stack" '$3 == "pmfloor" && $4 == s && $17 != "oops" && $18 != "" && $19 != "" { print $18 + $19 }' "$ROWS" | nstats); [ -n "$own" ] && printf '%d (%d)' "${own%% *}" "${own##* }" || printf '–')"
		done
	} >"$PHASES"
else
	: >"$PHASES"
fi
echo
cat "$TABLE"
echo
cat "$PHASES"
echo "# guest kernel oopses: $OOPSES in $MIGRATIONS migrations; wall time $((($(rl_ms) - T0) / 1000)) s"

[ "${NO_DOC:-0}" = 1 ] && exit 0
BLOCK=$RUN/block.md
{
	echo "<!-- bench/realguest.sh: begin (generated; edit the script, not this block) -->"
	echo "### Real Debian 12 guests: RESUMED_MIGRATED → verified / lease / first ping, and the re-plug floor (\`bench/realguest.sh\`)"
	echo
	echo '```sh'
	echo "make test-bins && sudo bench/realguest.sh      # REPS=$REPS FLOOR=$FLOOR PMFLOOR=$PMFLOOR STACKS=\"$STACKS\" PATHS=\"$PATHS\""
	echo '```'
	echo
	echo "Guests of \`guest/debian/\` (systemd-networkd 252, NetworkManager 1.42, ifupdown 0.8 + dhclient 4.4; cloud kernel;"
	echo "384 MiB, qcow2 overlay, TCG) on the cluster-in-a-box, one VM per stack × path, each migrated $REPS times back and"
	echo "forth; relinkd on both nodes with ${RELINKD_OPTS:+\`$RELINKD_OPTS\` on top of }its defaults (hold 1000 ms, flap window"
	echo "3000 ms, re-plug window 20000 ms for a silent guest, 3000 ms for the server to answer a guest that asked). Median"
	echo "(max) in ms from the target's \`RESUMED_MIGRATED\` event: *verified* is relinkd's own renewal_ms; *new address*: the"
	echo "guest's \`lease\` console line with the target pod's address; *first ping*: first reply to \`ping -i 0.1\` from the"
	echo "target node. *Idle floor*: plain \`virsh detach-device-alias\` → \`DEVICE_REMOVED\` and \`virsh attach-device\` → the"
	echo "guest's lease line, $FLOOR times per guest, no migration. *Post-migration floor*: one more guest per stack whose pods"
	echo "say \`relinkObserve\` (relinkd decides, never acts), migrated $PMFLOOR times; at \`RESUMED_MIGRATED\` the bench does by hand"
	echo "what relinkd would (\`virsh detach-device-alias\` → \`DEVICE_REMOVED\` → \`virsh attach-device\` of the element prepared"
	echo "before the migration: the target's served MAC, same PCI slot) and the guest's lease line ends it. *Overhead* (MAC"
	echo "changed only): median new-address time minus the two idle-floor medians, and minus the post-migration floor's."
	echo "Raw rows: \`bench/results/realguest.tsv\`."
	echo
	echo "Results — $STAMP, rev $REV, $(nproc) vCPUs, load average $LOAD0 before, $LOAD1 after; guest kernel oopses"
	echo "(platform fault, sample dropped): $OOPSES of $MIGRATIONS migrations."
	echo
	cat "$TABLE"
	if [ -s "$PHASES" ]; then
		echo
		echo "The re-attach, phase by phase (MAC changed; median (max), ms). relinkd's phases come from its log (t_ms since"
		echo "its receipt of the event; host clock = \`RESUMED_MIGRATED\` + t_ms), the floors' from the host clock around each"
		echo "\`virsh\` command and the \`virsh event\` stamps; *guest drops / sees the NIC*: the guest's \`nic-del\` / \`nic-add\`"
		echo "console lines (netlink in the guest; host time the line reached the console file). The floors' calls include"
		echo "starting \`virsh\` and connecting (≈ 30–80 ms each), relinkd's are RPCs on its open connection."
		echo
		cat "$PHASES"
	fi
	echo "<!-- bench/realguest.sh: end -->"
} >"$BLOCK"
doc_splice bench/realguest.sh "$BLOCK" "$DOC"
echo "bench/realguest: results appended to $RESULTS, summary written to $DOC"
