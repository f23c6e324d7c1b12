#!/bin/bash
# bench/e2e.sh — relinkd end to end on real VMs (cluster-in-a-box, KubeVirt-faithful non-root launchers): per
# DHCP profile (kubevirt-1.8: the target serves the new pod's MAC; kubevirt-1.9: the MAC the VM has; spec-mac:
# a fixed spec MAC) and guest network stack (networkd, nm, ifupdown), the time from the target's
# RESUMED_MIGRATED event to relinkd's verified DHCP renewal and to the client's first ping reply.
#
#   bench/e2e.sh                       3 migrations per profile × stack (≈ 8 min on 2 cores)
#   REPS=5 STACKS="networkd" PROFILES="kubevirt-1.9" bench/e2e.sh
#   NO_DOC=1 bench/e2e.sh              do not touch BENCHMARKS.md
#   RL_LAUNCHER=root bench/e2e.sh      root (system-mode) launchers instead
#
# One world: two nodes, relinkd on both (--kubevirt), a server VM on node 1. One client VM per profile × stack,
# all booted together on node 1; then each is live-migrated REPS times, back and forth between the nodes, one
# migration at a time (each waits for the ping reply and relinkd's verdict); every migration is one sample.
# Clocks: the RESUMED_MIGRATED time is when `virsh event` on the target printed it, the reply time is when
# the guest's `ping-ok` line reached its serial-console file (the guest pings every 100 ms); both host
# clocks. → verified: relinkd's own renewal_ms (its RESUMED_MIGRATED event → the DHCPACK it saw on the tap).
# Also recorded: relinkd's event → first libvirt call, the guest's own outage count (first lost probe →
# first reply, including the migration pause).
#
# Raw rows are appended to bench/results/relinkd-e2e-kubevirt.tsv; the summary (medians, min–max) replaces the
# "relinkd end to end" block at the end of BENCHMARKS.md.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=cluster/lib.sh
. "$ROOT/cluster/lib.sh"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
RL_SAY_PREFIX="# "
RL_QUIET=${RL_QUIET:-1}
REPS=${REPS:-3}
STACKS=${STACKS:-networkd nm ifupdown}
PROFILES=${PROFILES:-kubevirt-1.8 kubevirt-1.9 spec-mac}
RESULTS=${RESULTS:-$ROOT/bench/results/relinkd-e2e-kubevirt.tsv}
DOC=$ROOT/BENCHMARKS.md

die() { echo "bench/e2e: $*" >&2; exit 1; }
[ -x "$RL_RELINKD" ] || die "missing $RL_RELINKD (make)"
cluster_init || die "cluster_init"
cluster_check || die "prerequisites missing"

STAMP=$(date -u '+%Y-%m-%d %H:%M UTC')
# The binaries measured may not be HEAD's: mark a tree with uncommitted changes.
REV=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
ROWS=$RUN/rows.tsv
: >"$ROWS"
mkdir -p "$(dirname "$RESULTS")"
[ -s "$RESULTS" ] || printf 'date\trev\tlauncher\tprofile\tstack\trep\tfrom\tto\tmigrate_ms\tresumed_to_verified_ms\tresumed_to_ping_ms\tguest_outage_ms\tdecision\tescalated\tmac_kept\tfirst_call_ms\tverdict\n' >"$RESULTS"

cluster_up || die "nodes"
relinkd_start 1
relinkd_start 2
vm_create 1 server -- --stack networkd || die "server VM"
SIP=$(pod_ip "$(vm_pod server)" eth0)

# field NAME LINE — value of NAME=… in a log line
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2" | head -1; }
rlog() { tail -n +$(($2 + 1)) "$RUN/n$3/relinkd.log" | grep -F "domain=$(vm_domain "$1") "; }

sample() { # profile stack rep vmi from to
	local profile=$1 stack=$2 rep=$3 vmi=$4 from=$5 to=$6 mark rmark ok us dec ver esc mac0 mac1 verdict
	mark=$(vm_log_mark "$vmi")
	rmark=$(relinkd_mark "$to")
	mac0=$(vm_nic_mac "$vmi" eth0)
	migrate "$vmi" "$to" || { echo "# $vmi: migration failed" >&2; return 1; }
	ok=$(vm_wait_log "$vmi" "$mark" ' ping-ok ' 60) || { echo "# $vmi rep $rep: no ping within 60 s" >&2; return 1; }
	us=$(vm_console_us "$vmi" "$mark" ' ping-ok ')
	relinkd_wait "$to" "domain=$(vm_domain "$vmi") .*( verified |FAILED)" 30 "$rmark" >/dev/null
	dec=$(rlog "$vmi" "$rmark" "$to" | grep -m1 'decision=')
	ver=$(rlog "$vmi" "$rmark" "$to" | grep -E ' verified | FAILED ' | tail -1)
	esc=$(rlog "$vmi" "$rmark" "$to" | grep -c ' escalate ')
	verdict=$(grep -o -E ' (verified|FAILED) ' <<<"$ver" | tr -d ' ')
	mac1=$(vm_nic_mac "$vmi" eth0)
	printf '%s\t%s\t%s\t%s\t%s\t%s\tn%s\tn%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$STAMP" "$REV" "$RL_LAUNCHER" \
		"$profile" "$stack" "$rep" "$from" "$to" "$MIG_MS" "$(field renewal_ms "$ver")" $(((us - MIG_RESUMED_US) / 1000)) \
		"${ok##*outage_ms=}" "$(field decision "$dec")" "$esc" "$([ "$mac0" = "$mac1" ] && echo yes || echo no)" \
		"$(field first_call_ms "$dec")" "${verdict:-none}" | tee -a "$ROWS"
}

short() { case $1 in kubevirt-1.8) echo k18 ;; kubevirt-1.9) echo k19 ;; spec-mac) echo spec ;; esac; }
for profile in $PROFILES; do
	for stack in $STACKS; do
		vm_create 1 "$(short "$profile")-$stack" --profile "$profile" -- --stack "$stack" --ping "$SIP" ||
			die "$profile/$stack VM"
	done
done
for profile in $PROFILES; do
	for stack in $STACKS; do
		vm_wait_log "$(short "$profile")-$stack" 0 ' ping-ok ' 180 >/dev/null || die "$profile/$stack cannot ping the server"
	done
done
for profile in $PROFILES; do
	for stack in $STACKS; do
		vmi=$(short "$profile")-$stack
		from=1 to=2
		for rep in $(seq 1 "$REPS"); do
			sample "$profile" "$stack" "$rep" "$vmi" "$from" "$to"
			from=$to to=$((3 - to))
		done
		vm_destroy "$vmi"
		pod_delete "$(vm_pod "$vmi")"
	done
done

# relinkd's own footprint after the run
FOOT=""
for n in 1 2; do
	pid=$(cat "$RUN/n$n/relinkd.pidt")
	hwm=$(sed -n 's/^VmHWM:[[:space:]]*//p' "/proc/$pid/status" 2>/dev/null)
	cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$pid/stat" 2>/dev/null)
	FOOT+="node $n: peak RSS ${hwm:-?}, CPU ${cpu:-?} s; "
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
cat "$ROWS" >>"$RESULTS"

# median/min/max of column C for profile P, stack S
stats() {
	local m lo hi
	read -r m lo hi < <(awk -F'\t' -v p="$1" -v s="$2" -v c="$3" '$4 == p && $5 == s && $c != "" { print $c }' "$ROWS" | nstats)
	if [ -n "$m" ]; then printf '%d (%d–%d)' "$m" "$lo" "$hi"; else printf '–'; fi
}
count() { awk -F'\t' -v p="$1" -v s="$2" '$4 == p && $5 == s' "$ROWS" | wc -l; }
# decisions: first decision (→reattach when escalated), how many kept the MAC, verdicts
decisions() { awk -F'\t' -v p="$1" -v s="$2" '$4 == p && $5 == s { d[$13 ($14 > 0 ? "→reattach" : "")]++ } END { for (k in d) printf "%s%s×%d", (n++ ? ", " : ""), k, d[k] }' "$ROWS"; }
kept() { awk -F'\t' -v p="$1" -v s="$2" '$4 == p && $5 == s && $15 == "yes"' "$ROWS" | wc -l; }
verified() { awk -F'\t' -v p="$1" -v s="$2" '$4 == p && $5 == s && $17 == "verified"' "$ROWS" | wc -l; }

TABLE=$RUN/table.md
{
	echo "| profile | stack | n | relinkd decision | MAC kept | verified | RESUMED_MIGRATED → verified (ms) | RESUMED_MIGRATED → first ping reply (ms) | guest outage (ms) | virsh migrate (ms) |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	for profile in $PROFILES; do
		for stack in $STACKS; do
			printf '| %s | %s | %s | %s | %s | %s | %s | **%s** | %s | %s |\n' "$profile" "$stack" "$(count "$profile" "$stack")" \
				"$(decisions "$profile" "$stack")" "$(kept "$profile" "$stack")" "$(verified "$profile" "$stack")" \
				"$(stats "$profile" "$stack" 10)" "$(stats "$profile" "$stack" 11)" "$(stats "$profile" "$stack" 12)" \
				"$(stats "$profile" "$stack" 9)"
		done
	done
} >"$TABLE"
echo
cat "$TABLE"
echo "relinkd: $FOOT"

[ "${NO_DOC:-0}" = 1 ] && exit 0
BLOCK=$RUN/block.md
{
	echo "<!-- bench/e2e.sh: begin (generated; edit the script, not this block) -->"
	echo "### relinkd end to end per KubeVirt profile × guest stack (\`bench/e2e.sh\`)"
	echo
	echo '```sh'
	echo "make test-bins && sudo bench/e2e.sh            # REPS=3 PROFILES=\"kubevirt-1.8 kubevirt-1.9 spec-mac\" STACKS=\"networkd nm ifupdown\""
	echo '```'
	echo
	echo "Real migrations on the cluster-in-a-box (\`cluster/lib.sh\`): QEMU TCG guests (128 MiB, test guest of"
	echo "\`guest/\`), $RL_LAUNCHER launchers (one libvirtd per launcher pod; session = KubeVirt's non-root launcher),"
	echo "\`virsh migrate --live\` over UNIX sockets, relinkd --kubevirt with its defaults on both nodes; each client"
	echo "VM is migrated back and forth $REPS times, one migration at a time. Profiles: *kubevirt-1.8* the target's"
	echo "DHCP server serves the new pod's MAC (re-attach expected); *kubevirt-1.9* it serves the MAC the VM has;"
	echo "*spec-mac* it serves the VM spec's fixed MAC (both: keep the MAC — flap, re-plugged with the same MAC"
	echo "when the stack ignores a flap). Times are median (min–max). *→ verified*: relinkd's renewal_ms (its"
	echo "RESUMED_MIGRATED event → the DHCPACK it saw). *→ first ping reply*: host time of the guest's first"
	echo "\`ping-ok\` console line minus host time of the target's \`RESUMED_MIGRATED\` event (the guest pings every"
	echo "100 ms). *Guest outage*: the guest's own count from the first unanswered probe, including the migration's"
	echo "pause. Raw rows: \`bench/results/relinkd-e2e-kubevirt.tsv\`."
	echo
	echo "Results — $STAMP, rev $REV, $(nproc) vCPUs, load average $LOAD0 before, $LOAD1 after the run."
	echo
	cat "$TABLE"
	echo
	echo "relinkd footprint after the run — $FOOT"
	echo "<!-- bench/e2e.sh: end -->"
} >"$BLOCK"
doc_splice bench/e2e.sh "$BLOCK" "$DOC"
echo "bench/e2e: results appended to $RESULTS, summary written to $DOC"
