#!/bin/bash
# Faults during an action (issue 11): relinkd killed at exact points, the launcher's daemon restarted
# mid-action, the relink record changed under an action. One world, every client booted at once; each
# scenario is one migration from node 1 to node 2.
#
#   node 1 (pods 10.244.1.0/24)                    node 2 (pods 10.244.2.0/24)
#   ┌──────────────────────────────┐   routed     ┌──────────────────────────────────────┐
#   │ relinkd, server VM, clients  │══════════════│ relinkd (killed at a breakpoint)      │
#   │                              │─ migrate ─ ─▶│ target launchers (libvirtd restarted)  │
#   └──────────────────────────────┘              └──────────────────────────────────────┘
#   decided:   pinned MAC → flap. relinkd SIGKILLed at action_start() (the decision is logged, no libvirt
#              action made yet); restarted: it decides again (trigger=reconcile) and flaps once.
#   verifying: pinned MAC → flap. relinkd SIGKILLed in the verification (link up, start_verify() returned:
#              the action marked applied in the domain, the window armed, no verdict yet);
#              restarted: no second flap — the guest saw one carrier drop.
#   reverify:  MAC changes → re-attach. relinkd SIGKILLed the same way (new NIC attached); restarted: no
#              second unplug or flap — the guest saw one nic-del and one nic-add.
#   lflap:     pinned MAC → flap; the target launcher's libvirtd restarted during the 1 s hold.
#   lreplug:   MAC changes → re-attach; the target launcher's libvirtd restarted between detach and attach.
#   recmod:    pinned MAC → flap; the record rewritten (other MAC and IP) during the hold.
#   recdel:    MAC changes → re-attach; the record deleted between detach and attach.
# relinkd is killed with gdb (a breakpoint, then kill): at a function, not "when the log shows it" —
# a poll of the log is 10–100 ms late, and the flap's first libvirt call is 5–10 ms after the decision.
# Counts are over both relinkd runs and the guest's console since the migration; every guest must end on
# its target pod's address with as many NICs as before (and the harness-wide invariants hold).
. "$(dirname "$0")/lib.sh"
e2e_init
command -v gdb >/dev/null || { not_ok "prerequisites" "gdb missing (scripts/setup.sh)"; exit 1; }
e2e_world --relinkd

scenario "boot the clients (all at once)"
FLAP=(decided verifying lflap recmod)
REPLUG=(reverify lreplug recdel)
for vmi in "${FLAP[@]}"; do
	vm_create 1 "$vmi" --mac "$(rl_mac)" -- --stack networkd --ping "$SERVER_IP" || { not_ok "$vmi: created" "$(diag_vm "$vmi")"; exit 1; }
done
for vmi in "${REPLUG[@]}"; do
	vm_create 1 "$vmi" -- --stack networkd --ping "$SERVER_IP" || { not_ok "$vmi: created" "$(diag_vm "$vmi")"; exit 1; }
done
for vmi in "${FLAP[@]}" "${REPLUG[@]}"; do
	vm_wait_log "$vmi" 0 ' ping-ok ' 300 >/dev/null || { not_ok "$vmi: pings the server" "$(diag_vm "$vmi")"; exit 1; }
done

# kill_at NODE FUNCTION [return] — arm: NODE's relinkd is SIGKILLed (by gdb) when it enters FUNCTION, or
# with "return" when that call has returned. Returns once gdb has the breakpoint set and relinkd runs
# again; KILLER is gdb's PID. (A static helper may exist only as an .isra/.part clone that a breakpoint on
# its name never sees: hence the entry or return of a function known to be hit.)
kill_at() {
	local pid log=$RUN/gdb-$2.$RANDOM.log ret=()
	[ "${3:-}" = return ] && ret=(-ex finish)
	pid=$(cat "$RUN/n$1/relinkd.pidt")
	# signals pass through unseen: under ptrace even ignored ones (SIGPIPE) would stop relinkd and end
	# gdb's `continue` early
	gdb -p "$pid" -batch -nx -q -ex 'set pagination off' -ex 'handle all nostop noprint pass' -ex "break $2" \
		-ex continue "${ret[@]}" -ex kill </dev/null >"$log" 2>&1 &
	KILLER=$! KILLER_LOG=$log
	rl_track "$KILLER" gdb
	# armed: the breakpoint is set and gdb let relinkd run on (no longer in a tracing stop)
	rl_wait 30 gdb_armed "$log" "$pid" ||
		{ not_ok "gdb attached to relinkd $pid" "$(cat "$log")"; return 1; }
}
# gdb_armed LOG PID — the breakpoint is set and gdb let PID run on (it is not in a tracing stop).
gdb_armed() { grep -q "^Breakpoint 1 at" "$1" && ! grep -q "^State:.*tracing stop" "/proc/$2/status"; }
# killed NODE — wait (30 s) for the armed kill; ok when relinkd is gone.
killed() {
	local pid
	pid=$(cat "$RUN/n$1/relinkd.pidt")
	rl_wait 30 rl_gone "$KILLER"
	rl_wait 5 rl_gone "$pid"
	! kill -0 "$pid" 2>/dev/null && grep -q "^Thread .* hit Breakpoint 1, \|^Breakpoint 1, " "$KILLER_LOG"
}
# migrate_at VMI NODE ERE — migrate VMI to NODE, run the command ON_LINE (an array; in the background) the
# moment NODE's relinkd logs a line about VMI matching ERE. Sets MARK, RMARK, TGT.
ON_LINE=(:)
migrate_at() {
	local vmi=$1 node=$2 re=$3 hook
	MARK=$(vm_log_mark "$vmi")
	RMARK=$(relinkd_mark "$node")
	migrate_prepare "$vmi" "$node" || return 1
	TGT=$MIG_POD
	(rl_wait 30 rlines_has "$vmi" "$node" "$re" && "${ON_LINE[@]}") &
	hook=$!
	migrate_run "$vmi" || { not_ok "$vmi: live migration to node $node"; kill "$hook" 2>/dev/null; wait "$hook"; return 1; }
	wait "$hook" || { not_ok "$vmi: relinkd logged '$re' within 30 s" "$(diag "$vmi" "$node")"; return 1; }
}
nics() { pod_virsh "$1" domiflist "$(vm_domain "$2")" 2>/dev/null | grep -c .; }
# Over both runs since RMARK: relinkd lines about VMI matching ERE; guest console lines matching ERE.
rcount() { rlines "$1" 2 | grep -cE "$2"; }
rcount_ge() { [ "$(rcount "$1" "$2")" -ge "$3" ]; }   # VMI ERE N
done_at_least_once() { rcount_ge "$1" " (verified|FAILED|aborted) " 1; }   # VMI: the action's last word
# relinkd_said_after NODE FROM DOMAIN — relinkd logged a line about DOMAIN after line FROM.
relinkd_said_after() { tail -n +$(($2 + 1)) "$RUN/n$1/relinkd.log" | grep -F "domain=$3 " >/dev/null; }
# The ON_LINE hooks: the target launcher's daemon restarted; the target's relink record rewritten / deleted.
restart_target() { libvirtd_restart "$TGT" >"$RUN/$1-restart.out" 2>&1; }
target_record() { ls "$RUN"/n2/state/*/"$(pod_cid "$TGT")"@*.json | head -1; }
rewrite_record() { # NAME
	local f
	f=$(target_record)
	cp "$f" "$RUN/$1.orig"
	jq -c '.mac = "02:00:00:00:00:99" | .ips[0].address = "10.244.2.250"' "$RUN/$1.orig" >"$f.new" && mv "$f.new" "$f"
}
delete_record() { local f; f=$(target_record); cp "$f" "$RUN/$1.orig"; rm -f "$f"; }
gcount() { since "$1" | grep -cE "$2"; }
# ends_well VMI — ping back, the target pod's address, the NIC count of before the migration.
ends_well() {
	check_ping_back "$1: ping comes back" "$1" 2 30
	check_lease "$1: guest lease is the target pod's address" "$(pod_addr "$TGT" eth0)" "$1" eth0
	check_eq "$1: NICs in the domain as before" "$(nics "$TGT" "$1")" "$NICS"
	check_re "$1: guest carrier is up" "$(since "$1" | grep 'carrier dev=eth0' | tail -1)" '^$|state=up'
}

scenario "relinkd SIGKILLed after the decision, before any action (decided)"
NICS=$(nics "$(vm_pod decided)" decided)
kill_at 2 action_start || exit 1
migrate_at decided 2 'decision=' || exit 1
check "decided: relinkd died at action_start" killed 2
check_eq "decided: it logged the decision, no action" "$(rcount decided ' (link-down|detach) ')" 0
relinkd_start 2
rl_wait 30 rcount_ge decided " verified " 1
check_re "decided: the restarted relinkd decided again on reconcile" "$(rlines decided 2 | grep 'decision=' | tail -1)" \
	'decision=flap .*trigger=reconcile'
check_eq "decided: one flap over both runs (link-down lines)" "$(rcount decided ' link-down ')" 1
check_eq "decided: verified once" "$(rcount decided ' verified ')" 1
check_eq "decided: the guest saw one carrier drop" "$(gcount decided 'carrier dev=eth0 state=down')" 1
ends_well decided

scenario "relinkd SIGKILLed during the flap's verification (verifying)"
NICS=$(nics "$(vm_pod verifying)" verifying)
kill_at 2 start_verify return || exit 1
migrate_at verifying 2 'decision=' || exit 1
check "verifying: relinkd died in the verification (start_verify returned)" killed 2
check_eq "verifying: after the link came up" "$(rcount verifying ' link-up ')" 1
RM2=$(relinkd_mark 2)
relinkd_start 2
relinkd_wait 2 "conn=$(conn_label "$TGT") connected" 20 "$RM2" >/dev/null
rl_wait 10 relinkd_said_after 2 "$RM2" "$(vm_domain verifying)"
sleep 2    # give a (wrong) second action the time to show
check_eq "verifying: one flap over both runs (link-down lines)" "$(rcount verifying ' link-down ')" 1
check_eq "verifying: the guest saw one carrier drop" "$(gcount verifying 'carrier dev=eth0 state=down')" 1
check_re "verifying: the restarted relinkd says it did not repeat the flap" \
	"$(tail -n +$((RM2 + 1)) "$RUN/n2/relinkd.log" | grep -F "domain=$(vm_domain verifying) " | grep 'decision=')" \
	'decision=none .*applied=flap'
ends_well verifying

scenario "relinkd SIGKILLed during the re-attach's verification (reverify)"
NICS=$(nics "$(vm_pod reverify)" reverify)
kill_at 2 start_verify return || exit 1
migrate_at reverify 2 'decision=' || exit 1
check "reverify: relinkd died in the verification (start_verify returned)" killed 2
check_eq "reverify: after the new NIC was attached" "$(rcount reverify ' attached ')" 1
RM2=$(relinkd_mark 2)
relinkd_start 2
relinkd_wait 2 "conn=$(conn_label "$TGT") connected" 20 "$RM2" >/dev/null
rl_wait 10 relinkd_said_after 2 "$RM2" "$(vm_domain reverify)"
sleep 2
check_eq "reverify: one unplug over both runs (detach lines)" "$(rcount reverify ' detach ')" 1
check_eq "reverify: no flap after it" "$(rcount reverify ' link-down ')" 0
check_eq "reverify: the guest saw one nic-del" "$(gcount reverify ' nic-del ')" 1
check_eq "reverify: ... and one nic-add" "$(gcount reverify ' nic-add ')" 1
check_eq "reverify: with the target pod's MAC" "$(vm_nic_mac reverify eth0)" "$(pod_mac "$TGT" eth0)"
ends_well reverify

scenario "the launcher's libvirtd restarted during the flap's hold (lflap)"
NICS=$(nics "$(vm_pod lflap)" lflap)
ON_LINE=(restart_target lflap)
migrate_at lflap 2 ' link-down ' || exit 1
check "lflap: relinkd saw the connection drop" \
	relinkd_saw 2 "conn=$(conn_label "$TGT") (connection closed|daemon gone|.*is gone)" 10 "$RMARK"
rl_wait 30 done_at_least_once lflap
check_eq "lflap: verified" "$(rcount lflap ' verified ')" 1
mac=$(pod_virsh "$TGT" domiflist "$(vm_domain lflap)" | awk 'NR == 1 { print $NF }')
check_re "lflap: the link is up in the live domain" "$(pod_virsh "$TGT" domif-getlink "$(vm_domain lflap)" "$mac")" 'up$'
ON_LINE=(:)
ends_well lflap

scenario "the launcher's libvirtd restarted between detach and attach (lreplug)"
NICS=$(nics "$(vm_pod lreplug)" lreplug)
ON_LINE=(restart_target lreplug)
migrate_at lreplug 2 ' detach ' || exit 1
rl_wait 60 done_at_least_once lreplug
check_eq "lreplug: verified" "$(rcount lreplug ' verified ')" 1
check_eq "lreplug: with the target pod's MAC" "$(vm_nic_mac lreplug eth0)" "$(pod_mac "$TGT" eth0)"
ends_well lreplug

scenario "the record rewritten during the flap's hold (recmod)"
NICS=$(nics "$(vm_pod recmod)" recmod)
ON_LINE=(rewrite_record recmod)
migrate_at recmod 2 ' link-down ' || exit 1
rl_wait 30 done_at_least_once recmod
check "recmod: relinkd still running" relinkd_running 2
check_eq "recmod: the action it started is verified (on the record it read)" "$(rcount recmod ' verified ')" 1
check_eq "recmod: one flap" "$(rcount recmod ' link-down ')" 1
ON_LINE=(:)
ends_well recmod
cp "$RUN/recmod.orig" "$(target_record)"

scenario "the record deleted between detach and attach (recdel)"
NICS=$(nics "$(vm_pod recdel)" recdel)
ON_LINE=(delete_record recdel)
migrate_at recdel 2 ' detach ' || exit 1
rl_wait 60 done_at_least_once recdel
check "recdel: relinkd still running" relinkd_running 2
check_eq "recdel: one unplug" "$(rcount recdel ' detach ')" 1
check_eq "recdel: the NIC is back (attached)" "$(rcount recdel ' attached ')" 1
check_eq "recdel: verified" "$(rcount recdel ' verified ')" 1
ends_well recdel
f=$RUN/recdel.orig
cp "$f" "$RUN/n2/state/$(jq -r .network "$f")/$(jq -r .containerID "$f")@$(jq -r .ifname "$f").json"

scenario "relinkd answers SIGTERM after all this"
t0=$(rl_ms)
relinkd_stop 2
check_lt "relinkd on node 2 stopped within 2 s" "$(($(rl_ms) - t0))" 2000
