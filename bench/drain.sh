#!/bin/bash
# bench/drain.sh — a node drain at scale: N VMs live-migrating into one node at once, with and without a
# SIGSTOPped target launcher among them, against one VM alone. Per VM, from the target relinkd's own log
# (t_ms on every line counts from its RESUMED_MIGRATED event): event → decision, decision → action done
# (the flap's link-up, the re-plug's attach), action done → verified, and event → verified (renewal_ms).
#
#   bench/drain.sh                     N=32 (≈ 25 min on 2 cores: the boot of 33 TCG guests dominates)
#   N=6 NO_DOC=1 bench/drain.sh        a quick run, BENCHMARKS.md untouched
#
# One world: two nodes, relinkd --kubevirt (defaults) on both, a server VM on node 1.
#   solo:    one VM (networkd, kubevirt-1.9 → flap) booted alone, migrated 1 → 2 before anything else runs;
#            then it is destroyed.
#   drain:   N clients on node 1 (half kubevirt-1.8 → re-attach, half kubevirt-1.9 → flap), N target pods
#            prepared on node 2, N `virsh migrate --live` started together.
#   stopped: the same N migrate back into node 1 at once, and one more VM (booted on node 2) gets a target
#            pod on node 1 whose libvirtd is SIGSTOPped after relinkd connected to it — a launcher that
#            hangs in the middle of the drain; its own migration (started with the others) hangs and is
#            abandoned after the others' verdicts. The others must be unaffected: all verified.
# At the end: both relinkds answer SIGTERM (time measured), the stopped daemon is continued and cleaned up.
# Raw rows are appended to bench/results/relinkd-drain.tsv; the summary replaces the "bench/drain.sh" block
# of BENCHMARKS.md ("Drain at scale").
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=cluster/lib.sh
. "$ROOT/cluster/lib.sh"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
RL_SAY_PREFIX="# "
RL_QUIET=${RL_QUIET:-1}
N=${N:-32}
RESULTS=${RESULTS:-$ROOT/bench/results/relinkd-drain.tsv}
DOC=$ROOT/BENCHMARKS.md

die() { echo "bench/drain: $*" >&2; exit 1; }
say() { echo "# $(date -u +%H:%M:%S) $*"; }
[ -x "$RL_RELINKD" ] || die "missing $RL_RELINKD (make)"
cluster_init || die "cluster_init"
cluster_check || die "prerequisites missing"

STAMP=$(date -u '+%Y-%m-%d %H:%M UTC')
REV=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
MEM0=$(awk '/MemAvailable/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
ROWS=$RUN/rows.tsv
: >"$ROWS"
mkdir -p "$(dirname "$RESULTS")"
[ -s "$RESULTS" ] || printf 'date\trev\trun\tn\tvmi\tprofile\tdecision\tescalated\tevent_to_decision_ms\tdecision_to_change_ms\tchange_to_verdict_ms\tevent_to_verdict_ms\tverdict\n' >"$RESULTS"

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2" | head -1; }
rlog() { tail -n +$(($2 + 1)) "$RUN/n$3/relinkd.log" | grep -F "domain=$(vm_domain "$1") "; }
MEM_MIN=$MEM0
mem_sample() {
	local m
	m=$(awk '/MemAvailable/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
	MEM_MIN=$(awk -v a="$MEM_MIN" -v b="$m" 'BEGIN { print (b < a) ? b : a }')
}

# row RUN N VMI NODE RMARK — one TSV row from NODE's relinkd log since RMARK. Phases: event → the decision
# line; decision → the action's first change (the flap's link-up, the re-plug's attach); first change →
# the verdict (verified, or FAILED/aborted when final; a FAILED with waiting=yes is a status, not the end).
# event → verdict: renewal_ms when verified, else the verdict line's t_ms.
row() {
	local run=$1 n=$2 vmi=$3 node=$4 rmark=$5 lines dec fin ver verdict td tdone tv esc
	lines=$(rlog "$vmi" "$rmark" "$node")
	dec=$(grep -m1 'decision=' <<<"$lines")
	ver=$(grep -E ' verified kind=| FAILED kind=| aborted kind=' <<<"$lines" | grep -v 'waiting=yes' | head -1)
	verdict=$(grep -o -E ' (verified|FAILED|aborted) kind=' <<<"$ver" | awk '{ print $1 }')
	fin=$(grep -m1 -E ' (link-up|attached) ' <<<"$lines")
	esc=$(grep -c ' escalate ' <<<"$lines")
	td=$(field t_ms "$dec")
	tdone=$(field t_ms "$fin")
	if [ "$verdict" = verified ]; then tv=$(field renewal_ms "$ver"); else tv=$(field t_ms "$ver"); fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$STAMP" "$REV" "$run" "$n" "$vmi" "$(vm_profile "$vmi")" \
		"$(field decision "$dec")" "$esc" "$td" "$([ -n "$td" ] && [ -n "$tdone" ] && echo $((tdone - td)))" \
		"$([ -n "$tdone" ] && [ -n "$tv" ] && echo $((tv - tdone)))" "$tv" "${verdict:-none}" | tee -a "$ROWS"
}

# drain RUN TO VMI... — prepare a target pod on node TO for each VMI, then migrate them all at once; wait
# (bounded) for relinkd's verdicts; one row per VMI. EXTRA_RUN: a command run after the preparation,
# before the migrations (the stopped launcher). Sets DRAIN_WALL_MS, DRAIN_FAILED.
drain() {
	local run=$1 to=$2 vmi rmark t0 p pids=() n
	shift 2
	n=$#
	declare -gA TGT
	for vmi in "$@"; do
		migrate_prepare "$vmi" "$to" || die "$vmi: target pod on node $to"
		TGT[$vmi]=$MIG_POD
	done
	[ -n "${EXTRA_RUN:-}" ] && eval "$EXTRA_RUN"
	rmark=$(relinkd_mark "$to")
	say "$run: $n migrations into node $to"
	t0=$(rl_ms)
	for vmi in "$@"; do
		(MIG_POD=${TGT[$vmi]}; migrate_run "$vmi" >"$RUN/vms/$vmi/drain-$run.out" 2>&1) &
		pids+=($!)
	done
	DRAIN_FAILED=0
	for p in "${pids[@]}"; do
		mem_sample
		wait "$p" || DRAIN_FAILED=$((DRAIN_FAILED + 1))
	done
	DRAIN_WALL_MS=$(($(rl_ms) - t0))
	say "$run: migrations done in $DRAIN_WALL_MS ms wall ($DRAIN_FAILED failed)"
	# every verdict, or 300 s for all together (a guest that never releases its NIC has none)
	local deadline=$(($(rl_ms) + 300000))
	for vmi in "$@"; do
		until rlog "$vmi" "$rmark" "$to" | grep -v "waiting=yes" | grep -qE " (verified|FAILED|aborted) kind="; do
			[ "$(rl_ms)" -lt "$deadline" ] || break
			mem_sample
			sleep 1
		done
	done
	for vmi in "$@"; do row "$run" "$n" "$vmi" "$to" "$rmark"; done
}

cluster_up || die "nodes"
relinkd_start 1
relinkd_start 2
vm_create 1 server -- --stack networkd || die "server VM"
SIP=$(pod_ip "$(vm_pod server)" eth0)
vm_wait_log server 0 ' lease dev=eth0 ' 120 >/dev/null || die "server lease"

# solo: one VM alone on the flap path.
vm_create 1 solo --profile kubevirt-1.9 -- --stack networkd --ping "$SIP" || die "solo VM"
vm_wait_log solo 0 ' ping-ok ' 180 >/dev/null || die "solo cannot ping the server"
drain solo 2 solo
vm_destroy solo
pod_delete "$(vm_pod solo)"

# drain: N clients booted together.
say "booting $N clients"
t0=$(rl_ms)
CLIENTS=()
for i in $(seq "$N"); do
	if [ $((i % 2)) = 1 ]; then prof=kubevirt-1.8; else prof=kubevirt-1.9; fi
	vm_create 1 "d$i" --profile "$prof" -- --stack networkd --ping "$SIP" || die "d$i VM"
	CLIENTS+=("d$i")
done
vm_create 2 hang --profile kubevirt-1.9 -- --stack networkd --ping "$SIP" || die "hang VM"
for vmi in "${CLIENTS[@]}" hang; do
	vm_wait_log "$vmi" 0 ' ping-ok ' 900 >/dev/null || die "$vmi cannot ping the server"
	mem_sample
done
BOOT_S=$((($(rl_ms) - t0) / 1000))
say "$N clients (+1) pinging after $BOOT_S s"

drain drain 2 "${CLIENTS[@]}"
WALL_DRAIN=$DRAIN_WALL_MS FAIL_DRAIN=$DRAIN_FAILED

# stopped: the hang VM's target launcher on node 1 is SIGSTOPped once relinkd follows it.
stop_hang() {
	local pod pid
	migrate_prepare hang 1 || die "hang: target pod"
	pod=$MIG_POD
	rl_wait 20 relinkd_log_has 1 "conn=$(pod_uid "$pod") connected" || die "relinkd 1 never connected to $pod"
	pid=$(libvirtd_pid "$pod")
	kill -STOP "$pid"
	HANG_PID=$pid
	say "stopped: libvirtd $pid of $pod (SIGSTOP)"
	# its migration, started just before the others' (it hangs: the target daemon does not answer)
	(pod_virsh "$(vm_pod hang)" migrate --live "$(vm_domain hang)" "$(pod_uri "$pod")" \
		--migrateuri "unix://$RUN/mig/hang.sock" >"$RUN/vms/hang/migrate.out" 2>&1) &
	HANG_MIG=$!
}
EXTRA_RUN=stop_hang drain stopped 1 "${CLIENTS[@]}"
WALL_STOPPED=$DRAIN_WALL_MS FAIL_STOPPED=$DRAIN_FAILED
HANG_STILL=$(kill -0 "$HANG_MIG" 2>/dev/null && echo "still hanging" || echo "ended: $(tail -1 "$RUN/vms/hang/migrate.out")")
say "the migration into the stopped launcher: $HANG_STILL"

# SIGTERM with the stopped launcher still stopped.
TERM_MS=()
for n in 1 2; do
	pid=$(cat "$RUN/n$n/relinkd.pidt")
	t0=$(rl_ms)
	kill -TERM "$pid"
	rl_wait 30 rl_gone "$pid"
	TERM_MS+=("$(($(rl_ms) - t0))")
done
say "SIGTERM → exit: node 1 ${TERM_MS[0]} ms (the stopped launcher still stopped), node 2 ${TERM_MS[1]} ms"
kill -CONT "$HANG_PID" 2>/dev/null
kill "$HANG_MIG" 2>/dev/null
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
cat "$ROWS" >>"$RESULTS"

# stats RUN COLUMN [VERDICT] → "median (min–max)" over the run's rows (of that verdict only, when given);
# pct RUN COLUMN P → the P-th percentile over its verified rows
stats() {
	local m lo hi
	read -r m lo hi < <(awk -F'\t' -v r="$1" -v c="$2" -v v="${3:-}" '$3 == r && (v == "" || $13 == v) && $c != "" { print $c }' "$ROWS" | nstats)
	if [ -n "$m" ]; then printf '%d (%d–%d)' "$m" "$lo" "$hi"; else printf '–'; fi
}
pct() {
	awk -F'\t' -v r="$1" -v c="$2" '$3 == r && $13 == "verified" && $c != "" { print $c }' "$ROWS" | sort -n |
		awk -v p="$3" '{ v[NR] = $1 } END { if (NR) { i = int((NR * p + 99) / 100); print v[i < 1 ? 1 : i] } else print "–" }'
}
verdicts() { awk -F'\t' -v r="$1" '$3 == r { v[$13]++ } END { for (k in v) printf "%s%s %d", (n++ ? ", " : ""), k, v[k] }' "$ROWS"; }
decisions() { awk -F'\t' -v r="$1" '$3 == r { d[$7 ($8 > 0 ? "→escalated" : "")]++ } END { for (k in d) printf "%s%s×%d", (n++ ? ", " : ""), k, d[k] }' "$ROWS"; }
line() { # RUN LABEL VMS WALL
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | **%s** | %s |\n' "$2" "$3" "$4" "$(decisions "$1")" "$(verdicts "$1")" \
		"$(stats "$1" 9)" "$(stats "$1" 10)" "$(stats "$1" 11)" "$(stats "$1" 12)" "$(stats "$1" 12 verified)" "$(pct "$1" 12 90)"
}
secs() { awk -v m="$1" 'BEGIN { printf "%.1f s", m / 1000 }'; }

TABLE=$RUN/table.md
{
	echo "| run | VMs migrating | migrations (wall) | decisions | verdicts | event → decision | decision → first change | first change → verdict | event → verdict | event → verified | p90 verified |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|"
	line solo "one VM alone" 1 –
	line drain "drain into node 2" "$N" "$(secs "$WALL_DRAIN")"
	line stopped "drain into node 1, one target launcher SIGSTOPped" "$N + 1" "$(secs "$WALL_STOPPED")"
} >"$TABLE"
echo
cat "$TABLE"
SUMMARY="Boot of the $N clients (+1) to their first ping: $BOOT_S s. Failed migrations: $FAIL_DRAIN (drain), $FAIL_STOPPED (stopped).
Memory available: $MEM0 GiB before, lowest seen $MEM_MIN GiB. The migration into the stopped launcher: $HANG_STILL.
SIGTERM → exit: relinkd on node 1 ${TERM_MS[0]} ms with the launcher still stopped, node 2 ${TERM_MS[1]} ms."
echo "$SUMMARY"

[ "${NO_DOC:-0}" = 1 ] && exit 0
BLOCK=$RUN/block.md
{
	echo "<!-- bench/drain.sh: begin (generated; edit the script, not this block) -->"
	echo "Results — $STAMP, rev $REV, N = $N, $(nproc) vCPUs, $(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo) GiB, load average $LOAD0 before, $LOAD1 after."
	echo
	cat "$TABLE"
	echo
	echo "$SUMMARY"
	echo "<!-- bench/drain.sh: end -->"
} >"$BLOCK"
doc_splice bench/drain.sh "$BLOCK" "$DOC"
echo "bench/drain: rows appended to $RESULTS, summary written to $DOC"
