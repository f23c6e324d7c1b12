#!/bin/bash
# bench/e2e.sh — relinkd end to end on real VMs (cluster-in-a-box): time from the target's RESUMED_MIGRATED
# event to the client's first ping reply, per path (MAC changed → reattach, MAC unchanged → flap) and
# guest network stack (networkd, nm, ifupdown).
#
#   bench/e2e.sh                       5 migrations per stack × path (≈ 4 min on 2 cores)
#   REPS=10 STACKS="networkd" PATHS="flap" bench/e2e.sh
#   NO_DOC=1 bench/e2e.sh              do not touch BENCHMARKS.md
#
# One world: two nodes, relinkd on both, a server VM on node 1. Per stack × path one client VM boots on
# node 1 and is live-migrated REPS times, back and forth between the nodes; every migration is one sample.
# Clocks: the RESUMED_MIGRATED time is when `virsh event` on the target printed it, the reply time is when
# the guest's `ping-ok` line reached its serial-console file (the guest pings every 100 ms); both host
# clocks. Also recorded: relinkd's event → first libvirt call and event → verified DHCP renewal (its log),
# the guest's own outage count (first lost probe → first reply, including the migration pause).
#
# Raw rows are appended to bench/results/relinkd-e2e.tsv; the summary (medians, min–max) replaces the
# "relinkd end to end" block at the end of BENCHMARKS.md.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=cluster/lib.sh
. "$ROOT/cluster/lib.sh"
RL_SAY_PREFIX="# "
RL_QUIET=${RL_QUIET:-1}
REPS=${REPS:-5}
STACKS=${STACKS:-networkd nm ifupdown}
PATHS=${PATHS:-reattach flap}
RESULTS=${RESULTS:-$ROOT/bench/results/relinkd-e2e.tsv}
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
[ -s "$RESULTS" ] || printf 'date\trev\tstack\tpath\trep\tfrom\tto\tmigrate_ms\tresumed_to_ping_ms\tguest_outage_ms\tdecision\tescalated\tfirst_call_ms\trenewal_ms\n' >"$RESULTS"

cluster_up || die "nodes"
relinkd_start 1
relinkd_start 2
vm_create 1 server -- --stack networkd || die "server VM"
SIP=$(pod_ip "$(vm_pod server)" eth0)
vm_wait_log server 0 ' lease dev=eth0 ' 60 >/dev/null || die "server got no lease"

# field NAME LINE — value of NAME=… in a log line
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2" | head -1; }

sample() { # stack path rep vmi from to
	local stack=$1 path=$2 rep=$3 vmi=$4 from=$5 to=$6 mark rmark ok us dec ver esc
	mark=$(vm_log_mark "$vmi")
	rmark=$(relinkd_mark "$to")
	migrate "$vmi" "$to" || { echo "# $vmi: migration failed" >&2; return 1; }
	ok=$(vm_wait_log "$vmi" "$mark" ' ping-ok ' 30) || { echo "# $vmi rep $rep: no ping within 30 s" >&2; return 1; }
	us=$(vm_console_us "$vmi" "$mark" ' ping-ok ')
	relinkd_wait "$to" "domain=$(vm_domain "$vmi") .*( verified |FAILED)" 15 "$rmark" >/dev/null
	dec=$(tail -n +$((rmark + 1)) "$RUN/n$to/relinkd.log" | grep -F "domain=$(vm_domain "$vmi") " | grep -m1 'decision=')
	ver=$(tail -n +$((rmark + 1)) "$RUN/n$to/relinkd.log" | grep -F "domain=$(vm_domain "$vmi") " | grep -m1 ' verified ')
	esc=$(tail -n +$((rmark + 1)) "$RUN/n$to/relinkd.log" | grep -F "domain=$(vm_domain "$vmi") " | grep -c ' escalate ')
	printf '%s\t%s\t%s\t%s\t%s\tn%s\tn%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$STAMP" "$REV" "$stack" "$path" "$rep" "$from" "$to" \
		"$MIG_MS" $(((us - MIG_RESUMED_US) / 1000)) "${ok##*outage_ms=}" "$(field decision "$dec")" "$esc" \
		"$(field first_call_ms "$dec")" "$(field renewal_ms "$ver")" | tee -a "$ROWS"
}

for stack in $STACKS; do
	for path in $PATHS; do
		vmi=c-$stack-$path
		opts=()
		[ "$path" = flap ] && opts=(--mac "$(rl_mac)")
		vm_create 1 "$vmi" "${opts[@]}" -- --stack "$stack" --ping "$SIP" || die "$vmi VM"
		vm_wait_log "$vmi" 0 ' ping-ok ' 60 >/dev/null || die "$vmi cannot ping the server"
		from=1 to=2
		for rep in $(seq 1 "$REPS"); do
			sample "$stack" "$path" "$rep" "$vmi" "$from" "$to"
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

# median/min/max of column C for stack S, path P
stats() {
	awk -F'\t' -v s="$1" -v p="$2" -v c="$3" '$3 == s && $4 == p && $c != "" { print $c }' "$ROWS" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR == 0) { print "–"; exit } m = (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2); printf "%d (%d–%d)", m, v[1], v[NR] }'
}
count() { awk -F'\t' -v s="$1" -v p="$2" '$3 == s && $4 == p' "$ROWS" | wc -l; }
decisions() { awk -F'\t' -v s="$1" -v p="$2" '$3 == s && $4 == p { d[$11 ($12 > 0 ? "→reattach" : "")]++ } END { for (k in d) printf "%s%s×%d", (n++ ? ", " : ""), k, d[k] }' "$ROWS"; }

TABLE=$RUN/table.md
{
	echo "| stack | path | n | relinkd decision | RESUMED_MIGRATED → first ping reply (ms) | event → first libvirt call (ms) | event → verified renewal (ms) | guest outage (ms) | virsh migrate (ms) |"
	echo "|---|---|---|---|---|---|---|---|---|"
	for stack in $STACKS; do
		for path in $PATHS; do
			printf '| %s | %s | %s | %s | **%s** | %s | %s | %s | %s |\n' "$stack" \
				"$([ "$path" = flap ] && echo "MAC unchanged" || echo "MAC changed")" "$(count "$stack" "$path")" \
				"$(decisions "$stack" "$path")" "$(stats "$stack" "$path" 9)" "$(stats "$stack" "$path" 13)" \
				"$(stats "$stack" "$path" 14)" "$(stats "$stack" "$path" 10)" "$(stats "$stack" "$path" 8)"
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
	echo "### relinkd end to end: RESUMED_MIGRATED → first ping reply (\`bench/e2e.sh\`)"
	echo
	echo '```sh'
	echo "make && sudo bench/e2e.sh            # REPS=5 STACKS=\"networkd nm ifupdown\" PATHS=\"reattach flap\""
	echo '```'
	echo
	echo "Real migrations on the cluster-in-a-box (\`cluster/lib.sh\`): QEMU TCG guests (128 MiB, test guest of"
	echo "\`guest/\`), one libvirtd per launcher pod, \`virsh migrate --live\` over UNIX sockets, relinkd with its"
	echo "defaults (hold 1000 ms, then verify 3000 ms) on both nodes; each client VM is migrated back and forth $REPS times."
	echo "Times are median (min–max). *first ping reply*: host time of the guest's first \`ping-ok\` console line"
	echo "minus host time of the target's \`RESUMED_MIGRATED\` event (the guest pings every 100 ms). *Guest outage*:"
	echo "the guest's own count from the first unanswered probe, including the migration's pause. Raw rows:"
	echo "\`bench/results/relinkd-e2e.tsv\`."
	echo
	echo "Results — $STAMP, rev $REV, $(nproc) vCPUs, load average $LOAD0 before, $LOAD1 after the run."
	echo
	cat "$TABLE"
	echo
	echo "relinkd footprint after the run — $FOOT"
	echo "<!-- bench/e2e.sh: end -->"
} >"$BLOCK"
if grep -q '<!-- bench/e2e.sh: begin' "$DOC" 2>/dev/null; then
	awk -v f="$BLOCK" '/<!-- bench\/e2e.sh: begin/ { while ((getline l < f) > 0) print l; skip = 1; next }
		/<!-- bench\/e2e.sh: end -->/ { skip = 0; next } !skip' "$DOC" >"$DOC.tmp" && mv "$DOC.tmp" "$DOC"
else
	{ echo; cat "$BLOCK"; } >>"$DOC"
fi
echo "bench/e2e: results appended to $RESULTS, summary written to $DOC"
