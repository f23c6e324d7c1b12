# shellcheck shell=bash
# tests/e2e/lib.sh — helpers for the end-to-end tests (real VMs on cluster/lib.sh's cluster-in-a-box).
#
#   . "$(dirname "$0")/lib.sh"
#   e2e_init                       # cluster_init + prerequisites; on missing ones: "not ok", exit
#   e2e_world [--relinkd]          # two nodes, (relinkd on both), server VM on node 1 (eth0 + net1)
#   scenario "name"; …checks…      # prints a duration line for the previous scenario
#   ok/not_ok/check/expect_eq (tests/lib-common.sh), check_eq/check_re/check_lt; the EXIT trap cleans up and prints "N passed, N failed".
#
# After EVERY migration (migrate_run's rl_post_migrate hook) the harness checks two invariants, once
# relinkd had its time (before the next migration, at the next scenario and at the end; see
# e2e_invariants): the domain has as many NICs as before, and relinkd's verdict agrees with the guest.
#
# Tests assert on what the guest logs on its serial console (RELINK lines), on relinkd's log and on ping.

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=cluster/lib.sh
. "$E2E_ROOT/cluster/lib.sh"
RL_SAY_PREFIX="# "

# shellcheck source=tests/lib-common.sh
. "$E2E_ROOT/tests/lib-common.sh"   # passed/failed, ok, not_ok, check, expect_eq
E2E_T0=$(rl_ms)
check_eq() { expect_eq "$@"; }
check_re() { if [[ $2 =~ $3 ]]; then ok "$1"; else not_ok "$1" "got:  $2" "want: =~ $3"; fi; }
# check_lt NAME GOT LIMIT — numeric GOT < LIMIT
check_lt() { if [ -n "$2" ] && [ "$2" -lt "$3" ] 2>/dev/null; then ok "$1 ($2 < $3)"; else not_ok "$1" "got:  ${2:-nothing}" "want: < $3"; fi; }

e2e_finish() {
	local rc=$?
	e2e_invariants
	scenario_end
	[ "$E2E_MIGRATIONS" -eq 0 ] || echo "# platform faults: $E2E_OOPSES guest(s) crashed or hung in $E2E_MIGRATIONS migrations"
	cluster_cleanup
	echo "# total $((($(rl_ms) - E2E_T0) / 1000)) s"
	echo "$passed passed, $failed failed"
	# An EXIT trap's last status is not the script's: exit explicitly.
	[ "$failed" -eq 0 ] && [ "$rc" -eq 0 ]
	exit $?
}

e2e_init() {
	cluster_init || { not_ok "cluster_init"; echo "$passed passed, $failed failed"; exit 1; }
	trap 'e2e_finish' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	if ! cluster_check 2>"$RUN/check.err"; then
		not_ok "prerequisites" "$(cat "$RUN/check.err")"
		exit 1
	fi
	if [ "${E2E_NEEDS_RELINKD:-1}" = 1 ] && [ ! -x "$RL_RELINKD" ]; then
		not_ok "prerequisites" "missing $RL_RELINKD (make)"
		exit 1
	fi
}

# e2e_world [--relinkd] — nodes, optionally relinkd on both, a networkd server VM on node 1 with eth0
# and net1 (SERVER_IP, SERVER_NET1_IP).
e2e_world() {
	local t0
	t0=$(rl_ms)
	cluster_up || { not_ok "world: nodes"; exit 1; }
	if [ "${1:-}" = --relinkd ]; then
		relinkd_start 1
		relinkd_start 2
	fi
	vm_create 1 server --net1 -- --stack networkd || { not_ok "world: server VM"; exit 1; }
	SERVER_IP=$(pod_ip "$(vm_pod server)" eth0)
	SERVER_NET1_IP=$(pod_ip "$(vm_pod server)" net1)
	vm_wait_log server 0 ' lease dev=eth0 ' 60 >/dev/null || { not_ok "world: server got its lease" "$(diag_vm server)"; exit 1; }
	echo "# world up in $((($(rl_ms) - t0) / 1000)) s (server $SERVER_IP, net1 $SERVER_NET1_IP)"
}

E2E_SCENARIO="" E2E_SCENARIO_T0=0
scenario_end() {
	e2e_invariants
	[ -n "$E2E_SCENARIO" ] && echo "# scenario '$E2E_SCENARIO' took $((($(rl_ms) - E2E_SCENARIO_T0) / 1000)) s"
	E2E_SCENARIO=""
}
scenario() {
	scenario_end
	E2E_SCENARIO=$1
	E2E_SCENARIO_T0=$(rl_ms)
	echo "# --- $1"
}

# client_boot VMI NODE [pod_create options] [-- vm_start options] — VM that pings the server; waits for
# its first reply. Returns non-zero (after a not ok line) when it does not come up.
client_boot() {
	local vmi=$1 node=$2 t0
	shift 2
	t0=$(rl_ms)
	if ! vm_create "$node" "$vmi" "$@"; then
		not_ok "$vmi: boots" "$(diag_vm "$vmi")"
		return 1
	fi
	if ! vm_wait_log "$vmi" 0 ' ping-ok ' 60 >/dev/null; then
		not_ok "$vmi: pings the server before the migration" "$(diag_vm "$vmi")"
		return 1
	fi
	echo "# $vmi: boot to first ping reply $((($(rl_ms) - t0) / 1000)) s"
}

# client_migrate VMI NODE — migrate, set MARK (console line) and RMARK (relinkd log line of NODE) first.
client_migrate() {
	MARK=$(vm_log_mark "$1")
	RMARK=$(relinkd_mark "$2")
	if ! migrate "$1" "$2"; then
		not_ok "$1: live migration to node $2" "$(tail -3 "$RUN/vms/$1/migrate.out")"
		return 1
	fi
	echo "# $1: virsh migrate took $MIG_MS ms"
}

# nic_slots VMI — the PCI address of every <interface> of the VM's live domain (where it runs now).
nic_slots() {
	pod_virsh "$(vm_pod "$1")" dumpxml "$(vm_domain "$1")" |
		sed -n '/<interface /,/<\/interface>/{s/.*<address type=.pci. \(.*\)\/>.*/\1/p}'
}

# check_ping_back NAME VMI NODE [TIMEOUT_S] — ok when VMI logs a ping reply after MARK within TIMEOUT_S
# (default 20), else not ok with the guest's and NODE's relinkd lines.
# check_lease NAME WANT VMI [DEV] — the guest's latest lease on DEV (default eth0) is WANT; the guest logs it
# a moment after the server's ACK that relinkd verifies by, so wait up to 10 s for it first.
check_lease() {
	rl_wait 10 vm_lease_is "$3" "${4:-eth0}" "$2"
	check_eq "$1" "$(vm_lease_ip "$3" "${4:-eth0}")" "$2"
}

check_ping_back() {
	if vm_wait_log "$2" "$MARK" ' ping-ok ' "${4:-20}" >/dev/null; then
		ok "$1"
	else
		not_ok "$1" "$(diag "$2" "$3")"
	fi
}

# migrate_killing VMI NODE ERE — migrate VMI to NODE and SIGKILL NODE's relinkd the moment its log shows
# a line about VMI matching ERE (bounded poll, 30 s). Sets MARK and RMARK like client_migrate.
migrate_killing() {
	local vmi=$1 node=$2 re=$3 killer
	MARK=$(vm_log_mark "$vmi")
	RMARK=$(relinkd_mark "$node")
	migrate_prepare "$vmi" "$node" || return 1
	(
		rl_wait 30 rlines_has "$vmi" "$node" "$re" && relinkd_stop "$node" KILL
	) &
	killer=$!
	migrate_run "$vmi" || { kill "$killer" 2>/dev/null; wait "$killer"; return 1; }
	wait "$killer"
}

# conn_label POD — how relinkd names its connection to the pod's launcher in its log ("conn=…"): the pod
# UID when it found the launcher under the kubelet root (--kubevirt).
conn_label() { pod_uid "$1"; }

# Console lines of VMI after MARK; relinkd lines of NODE about VMI's domain after RMARK.
since() { vm_log_since "$1" "$MARK"; }
rlines() { tail -n +$((RMARK + 1)) "$RUN/n$2/relinkd.log" 2>/dev/null | grep -F "domain=$(vm_domain "$1") "; }
rlines_has() { rlines "$1" "$2" | grep -E -- "$3" >/dev/null; }
# rlines_count_ge VMI NODE ERE N — at least N of VMI's relinkd lines (since RMARK) match.
rlines_count_ge() { [ "$(rlines "$1" "$2" | grep -cE -- "$3")" -ge "$4" ]; }
# first_ping_ms VMI — ms from the target's RESUMED_MIGRATED event to the first ping reply (host clocks).
first_ping_ms() {
	local us
	us=$(vm_console_us "$1" "$MARK" ' ping-ok ') || return 1
	echo $(((us - MIG_RESUMED_US) / 1000))
}

diag_vm() {
	echo "console ($1), last RELINK lines:"
	vm_log_since "$1" 0 | tail -8
}
# diag VMI NODE — diagnostics for a failed check: guest + relinkd lines.
diag() {
	printf '%s\n' "guest after migration:" "$(since "$1" | tail -12)" "relinkd node $2 (this domain, warnings, errors):" \
		"$(tail -n +$((RMARK + 1)) "$RUN/n$2/relinkd.log" 2>/dev/null | grep -v ' debug ' |
			grep -E "domain=$(vm_domain "$1") | warn | error " | tail -10)"
}

# ---------------------------------------------------------------- invariants after every migration

# rl_post_migrate VMI (called by migrate_run) — queue the invariant checks of this migration.
# rl_pre_migrate VMI (called by migrate_prepare) — check what is queued for VMI before it moves again.
E2E_PENDING=()
rl_post_migrate() { E2E_PENDING+=("$1 $MIG_POD $MIG_NICS_BEFORE $MIG_RMARK $MIG_MARK"); }
rl_pre_migrate() { e2e_invariants "$1"; }

# verdicts VMI NODE RMARK — per relink record relinkd acted on for VMI's domain since RMARK, its latest state:
# "pending" (a decision other than none, no outcome yet), "verified", "FAILED", "aborted", "none",
# "denied" (the operator's policy forbids the action: nothing done) or "observed" (observe-only: logged).
# Printed as "RECORD STATE" lines. A restarted relinkd may decide again for the same record: the latest wins.
verdicts() {
	tail -n +$(($3 + 1)) "$RUN/n$2/relinkd.log" 2>/dev/null | grep -F "domain=$(vm_domain "$1") " |
		awk '{ rec = ""; for (i = 1; i <= NF; i++) if ($i ~ /^record=/) rec = substr($i, 8)
			if (rec == "") next
			if ($0 ~ / decision=none /) st[rec] = "none"
			else if ($0 ~ / decision=/) st[rec] = "pending"
			else if ($0 ~ / verified kind=/) st[rec] = "verified"
			else if ($0 ~ / FAILED kind=.* waiting=yes/) st[rec] = "pending"   # a status: the action goes on
			else if ($0 ~ / FAILED kind=/) st[rec] = "FAILED"
			else if ($0 ~ / aborted kind=/) st[rec] = "aborted"
			else if ($0 ~ / policy-denied kind=/) st[rec] = "denied"      # the policy forbids it: final
			else if ($0 ~ / observed( observe=[a-z]+)?: would /) st[rec] = "observed" }   # observe-only: final
			END { for (r in st) print r, st[r] }' | sort
}
relinkd_running() { rl_alive "$(cat "$RUN/n$1/relinkd.pidt" 2>/dev/null)"; }
# verdict_final VMI NODE RMARK — an action of VMI's reached its last word (verified, FAILED, aborted).
verdict_final() { verdicts "$1" "$2" "$3" | grep -E " (verified|FAILED|aborted)$" >/dev/null; }
# verdicts_settled VMI NODE RMARK — no action of VMI's is pending any more (or relinkd does not run).
verdicts_settled() { ! relinkd_running "$2" || ! verdicts "$1" "$2" "$3" | grep " pending$" >/dev/null; }

# e2e_invariants — check every queued migration:
#  1. the domain (in the pod it migrated to) has as many NICs as before the migration;
#  2. relinkd's verdict agrees with the guest: for every record relinkd verified, the guest's latest lease
#     on that NIC is the target pod's address; a FAILED verdict must not be contradicted by such a lease;
#     an action still without an outcome after 30 s is a failure; no decision at all is reported (a
#     comment when relinkd does not run on that node, a failure when it does).
# A guest whose kernel crashed after the migration (vm_oops), or that hung without a word (vm_hung: a
# pinging guest silent since the migration, its action still pending after 90 s) — TCG platform faults —
# never answers a hot-unplug or a DHCP exchange again: 1 holds for it all the same (relinkd never takes a
# NIC away), 2 is skipped and the fault counted (E2E_OOPSES of E2E_MIGRATIONS, printed at the end).
# E2E_PENDING entries: "VMI POD NICS_BEFORE RELINKD_MARK CONSOLE_MARK".
# e2e_invariants [VMI] — only VMI's queued migrations, or all.
E2E_OOPSES=0 E2E_MIGRATIONS=0
e2e_invariants() {
	local e vmi pod nics rmark cmark node dom v rec st ifname idx dev want got n oops keep=()
	[ ${#E2E_PENDING[@]} -gt 0 ] || return 0
	for e in "${E2E_PENDING[@]}"; do
		read -r vmi pod nics rmark cmark <<<"$e"
		if [ -n "${1:-}" ] && [ "$vmi" != "$1" ]; then
			keep+=("$e")
			continue
		fi
		node=$(pod_get "$pod" node)
		dom=$(vm_domain "$vmi")
		if [ -e "$(pod_dir "$pod")/deleted" ]; then
			echo "# invariants for $vmi → $pod skipped: the pod is gone"
			continue
		fi
		E2E_MIGRATIONS=$((E2E_MIGRATIONS + 1))
		if oops=$(vm_oops "$vmi" "${cmark:?e2e: queued migration of $vmi without its console mark}"); then
			E2E_OOPSES=$((E2E_OOPSES + 1))
			echo "# platform fault: $vmi's kernel crashed after the migration to $pod ($oops)"
		else
			# Let relinkd finish what it started (bounded), unless it does not run.
			rl_wait 90 verdicts_settled "$vmi" "$node" "$rmark"
		fi
		v=$(verdicts "$vmi" "$node" "$rmark")
		# every <interface>, whatever its type; a failing virsh is not "0 NICs"
		if n=$(pod_virsh "$pod" domiflist "$dom" 2>&1); then
			check_eq "invariant: $vmi has as many NICs after the migration to $pod as before" "$(grep -c . <<<"$n")" "$nics"
		else
			not_ok "invariant: $vmi has as many NICs after the migration to $pod as before" "virsh domiflist failed: $n"
		fi
		if [ -n "$oops" ]; then
			ok "invariant: $vmi: relinkd's verdict vs the guest's lease # SKIP platform fault: guest kernel crashed after the TCG migration"
			continue
		fi
		if [ -z "$v" ]; then
			if relinkd_running "$node"; then
				not_ok "invariant: relinkd on node $node decided about $vmi after its migration" \
					"no decision line for $dom in $RUN/n$node/relinkd.log after line $rmark"
			else
				echo "# invariant: no relinkd verdict for $vmi (relinkd does not run on node $node)"
			fi
			continue
		fi
		while read -r rec st; do
			ifname=${rec##*@}
			idx=$(awk -v i="$ifname" '$2 == i { print NR - 1; exit }' "$(pod_dir "$pod")/nets")
			dev=eth${idx:-?}
			want=$(pod_addr "$pod" "$ifname")
			case $st in
			verified)
				rl_wait 5 vm_lease_is "$vmi" "$dev" "$want"
				check_eq "invariant: $vmi $dev: relinkd verified $rec, the guest's lease is the target pod's address" \
					"$(vm_lease_ip "$vmi" "$dev")" "$want"
				;;
			FAILED)
				got=$(vm_lease_ip "$vmi" "$dev")
				echo "# invariant: relinkd reported FAILED for $vmi $rec (guest lease on $dev: ${got:-none})"
				if [ "$got" = "$want" ]; then
					not_ok "invariant: $vmi $dev: relinkd's FAILED agrees with the guest" "the guest has the target lease $got"
				else
					ok "invariant: $vmi $dev: relinkd's FAILED agrees with the guest (no lease on $want)"
				fi
				;;
			pending)
				if relinkd_running "$node" && oops=$(vm_hung "$vmi" "$cmark"); then
					# relinkd acted and the guest's network is still not back 90 s on: a live
					# pinging guest would have said ping-lost by now
					E2E_OOPSES=$((E2E_OOPSES + 1))
					echo "# platform fault: $vmi hung after the migration to $pod ($oops); domain state:" \
						"$(pod_virsh "$pod" domstate --reason "$dom" 2>&1 | tr -s ' \n' ' ')"
					ok "invariant: $vmi $dev: relinkd's verdict vs the guest's lease # SKIP platform fault: guest hung after the TCG migration"
				elif relinkd_running "$node"; then
					not_ok "invariant: $vmi $dev: relinkd reached a verdict on $rec within 90 s" \
						"relinkd node $node on $dom since the migration:" \
						"$(tail -n +$((rmark + 1)) "$RUN/n$node/relinkd.log" | grep -F "domain=$dom " |
							grep -v ' debug ' | cut -c1-400 | tail -14)" \
						"live NICs: $(pod_virsh "$pod" domiflist "$dom" 2>&1 | tr -s ' \n' ' ')" \
						"domain state: $(pod_virsh "$pod" domstate --reason "$dom" 2>&1 | tr -s ' \n' ' ')" \
						"$(diag_vm "$vmi")"
				else
					echo "# invariant: $vmi $rec: no verdict, relinkd on node $node is not running"
				fi
				;;
			aborted | none | denied | observed) echo "# invariant: $vmi $rec: relinkd's last word is '$st'" ;;
			esac
		done <<<"$v"
	done
	E2E_PENDING=("${keep[@]}")
}
