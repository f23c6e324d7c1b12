#!/bin/bash
# A migration never leaves a guest cut off (issue 14): for every NIC relinkd unplugs, the running
# domain ends with a NIC at that PCI slot, and "verified" means the target's DHCP server ACKed the guest.
#
#   node 1                                   node 2 (relinkd --reattach-verify-ms 5000 --detach-timeout-ms 5000)
#   ┌────────────────────────────┐  routed  ┌───────────────────────────────────────────────────────┐
#   │ server VM 10.244.1.x       │══════════│ each client migrates in with a new pod MAC → re-plug:  │
#   │ clients (MAC from the pod) │─migrate─▶│  p8/p30/p70  guest paused at the unplug 8/30/70 s      │
#   └────────────────────────────┘          │  restart     paused 10 s, relinkd killed + restarted   │
#                                           │  tapback     target tap deleted at the unplug, back    │
#                                           │              after the first failed attach            │
#                                           │  tapgone     target tap deleted for good               │
#                                           │  oldmac      after the decision, the target's DHCP     │
#                                           │              serves only the VM's old MAC              │
#                                           │  silent      after the decision, it answers nobody     │
#                                           └───────────────────────────────────────────────────────┘
# Every scenario also checks the rule itself: the same PCI slots after as before, relinkd_nics_missing 0.
. "$(dirname "$0")/lib.sh"
e2e_init

scenario "world: two nodes, relinkd, server, clients"
cluster_up || { not_ok "world: nodes"; exit 1; }
relinkd_start 1
relinkd_start 2 --reattach-verify-ms 5000 --detach-timeout-ms 5000
vm_create 1 server -- --stack networkd || { not_ok "world: server VM"; exit 1; }
SERVER_IP=$(pod_ip "$(vm_pod server)" eth0)
CLIENTS="p8 p30 p70 restart tapback tapgone oldmac silent"
for c in $CLIENTS; do
	vm_create 1 "$c" -- --stack networkd --ping "$SERVER_IP" || { not_ok "$c: boots" "$(diag_vm "$c")"; exit 1; }
done
for c in $CLIENTS; do
	vm_wait_log "$c" 0 ' ping-ok ' 120 >/dev/null || { not_ok "$c: pings the server before the migration" "$(diag_vm "$c")"; exit 1; }
done
ok "world: server and $(echo $CLIENTS | wc -w) clients up"

# metric NAME — relinkd's value on node 2 (0 when absent).
metric() { awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }' "$RUN/n2/relinkd.prom" 2>/dev/null; }
metric_is() { [ "$(metric "$1")" = "$2" ]; }
# pod_nic_env POD IFNAME KEY — a value the launcher recorded for the pod's NIC (TAP, BRIDGE, MTU, …).
pod_nic_env() { sed -n "s/^$3=//p" "$(pod_dir "$1")/nic-$2.env"; }
tap_del() { ip -n "$(pod_get "$1" netns)" link del "$(pod_nic_env "$1" eth0 TAP)"; }
tap_add() {
	local pns tap own=()
	pns=$(pod_get "$1" netns)
	tap=$(pod_nic_env "$1" eth0 TAP)
	[ "$(pod_get "$1" launcher)" = session ] && own=(user "$RL_QEMU_USER" group "$RL_QEMU_USER")
	ip -n "$pns" tuntap add dev "$tap" mode tap "${own[@]}" &&
		ip -n "$pns" link set "$tap" mtu "$(pod_nic_env "$1" eth0 MTU)" master "$(pod_nic_env "$1" eth0 BRIDGE)" up
}

# on_relinkd VMI ERE TIMEOUT_S CMD… — in the background: when node 2's relinkd logs a line about VMI
# (after RMARK) matching ERE, run CMD at once. Sets WATCHER.
on_relinkd() {
	local vmi=$1 re=$2 t=$3 dom
	shift 3
	dom=$(vm_domain "$vmi")
	(
		local tailpid rc
		# grep returns at the first match (a pipeline would wait for tail's next line)
		exec 3< <(exec timeout "$t" tail -n +$((RMARK + 1)) -F "$RUN/n2/relinkd.log" 2>/dev/null)
		tailpid=$!
		grep -m1 -E "domain=$dom .*$re" <&3 >/dev/null
		rc=$?
		kill "$tailpid" 2>/dev/null
		exec 3<&-
		[ "$rc" = 0 ] && "$@"
	) &
	WATCHER=$!
}

# pause_for VMI SECONDS — suspend the guest's vCPUs now, note whether its NIC was still there, resume later.
pause_for() {
	local dom
	dom=$(vm_domain "$1")
	pod_virsh "$MIG_POD" suspend "$dom" >/dev/null || return 1
	pod_virsh "$MIG_POD" domiflist "$dom" | grep -c . >"$RUN/vms/$1/paused-nics"
	sleep "$2"        # the scenario itself: the guest stays paused this long
	pod_virsh "$MIG_POD" resume "$dom" >/dev/null
}

# begin VMI — before the migration: slots, MAC and marks.
begin() {
	OLD_SLOTS=$(nic_slots "$1")
	OLD_MAC=$(vm_log_since "$1" 0 | grep ' nic-add dev=eth0 ' | tail -1 | sed 's/.* mac=//')
	MARK=$(vm_log_mark "$1")
	RMARK=$(relinkd_mark 2)
	migrate_prepare "$1" 2 || { not_ok "$1: target pod" ; return 1; }
}
# the rule, after relinkd is done with VMI
check_rule() {
	check "$1: the domain has a NIC at every slot it had (live XML)" test -n "$OLD_SLOTS"
	check_eq "$1: same PCI slots as before the migration" "$(nic_slots "$1")" "$OLD_SLOTS"
	rl_wait 5 metric_is relinkd_nics_missing 0
	check_eq "$1: relinkd_nics_missing is 0 at rest" "$(metric relinkd_nics_missing)" 0
}
final() { rlines "$1" 2 | grep -E ' (verified|FAILED|aborted) ' | tail -1; }

# ---------------------------------------------------------------- paused guests
paused_scenario() {
	local vmi=$1 secs=$2 line late
	scenario "guest paused at the unplug for $secs s ($vmi)"
	begin "$vmi" || return
	on_relinkd "$vmi" ' detach alias=' 60 pause_for "$vmi" "$secs"
	migrate_run "$vmi" || { not_ok "$vmi: live migration"; kill "$WATCHER"; return; }
	wait "$WATCHER"
	NEW_MAC=$(pod_mac "$MIG_POD" eth0)
	check_eq "$vmi: paused while it still had its NIC (harness timing)" "$(cat "$RUN/vms/$vmi/paused-nics" 2>/dev/null)" 1
	relinkd_wait 2 "domain=$(vm_domain "$vmi") .* (verified|FAILED kind=reattach first=reattach reason=\"DHCP)" 30 "$RMARK" >/dev/null
	check_re "$vmi: FAILED reported at the deadline, with the NIC's state" \
		"$(rlines "$vmi" 2 | grep -m1 ' FAILED ')" \
		"reason=\"guest has not released the NIC after 5 s; NIC still present with MAC $OLD_MAC\" nic_state=present nic_mac=$OLD_MAC"
	line=$(rlines "$vmi" 2 | grep -m1 ' released how=')
	check_re "$vmi: the late release is logged with late_ms" "$line" 'released how=(device-removed|live-xml) removed_ms=[0-9]+ late_ms=[0-9]+'
	late=$(sed -n 's/.* late_ms=\([0-9]*\).*/\1/p' <<<"$line")
	check "$vmi: late_ms ($late) is the pause minus the 5 s deadline, give or take" \
		test "${late:-0}" -ge $(((secs - 5) * 1000 - 1000)) -a "${late:-0}" -le $(((secs - 5) * 1000 + 6000))
	check_re "$vmi: the new NIC is attached on release" "$(rlines "$vmi" 2 | grep -m1 ' attached ')" "attached plug=new mac=$NEW_MAC"
	check_re "$vmi: verified, present with the new MAC" "$(final "$vmi")" "verified kind=reattach .*nic_state=present nic_mac=$NEW_MAC"
	check_re "$vmi: the FAILED status is cleared" "$(rlines "$vmi" 2 | grep -m1 'recovered-late')" 'recovered-late kind=reattach'
	check_ping_back "$vmi: ping comes back" "$vmi" 2 30
	check_lease "$vmi: guest lease is the target pod's address" "$(pod_addr "$MIG_POD" eth0)" "$vmi" eth0
	check_rule "$vmi"
}
paused_scenario p8 8
paused_scenario p30 30
REASKS=$(metric relinkd_unplug_reasks_total)
check "unplug re-asked while the guest was paused ($REASKS times, ≥ 4 in 38 s)" test "$REASKS" -ge 4
# past every window: the unplug deadline, the 30 s re-ask ceiling, the 60 s reconnect window
paused_scenario p70 70
check_eq "late releases counted" "$(metric relinkd_late_releases_total)" 3
check_eq "recovered-late counted" "$(metric relinkd_recovered_late_total)" 3

# relinkd killed and restarted while the unplug is outstanding (the guest paused, so it cannot release
# meanwhile): the new relinkd finds the unplug in the domain's metadata once the domain runs again.
pause_restart() { # VMI SECONDS
	local dom
	dom=$(vm_domain "$1")
	pod_virsh "$MIG_POD" suspend "$dom" >/dev/null || return 1
	pod_virsh "$MIG_POD" domiflist "$dom" | grep -c . >"$RUN/vms/$1/paused-nics"
	relinkd_stop 2 KILL
	relinkd_start 2 --reattach-verify-ms 5000 --detach-timeout-ms 5000
	sleep "$2"        # the scenario: the guest stays paused this long
	pod_virsh "$MIG_POD" resume "$dom" >/dev/null
}
scenario "relinkd restarted with an unplug outstanding (restart)"
begin restart || exit 1
on_relinkd restart ' detach alias=' 60 pause_restart restart 10
migrate_run restart || { not_ok "restart: live migration"; exit 1; }
wait "$WATCHER"
NEW_MAC=$(pod_mac "$MIG_POD" eth0)
check_eq "restart: paused while it still had its NIC (harness timing)" "$(cat "$RUN/vms/restart/paused-nics" 2>/dev/null)" 1
relinkd_wait 2 "domain=$(vm_domain restart) .* (verified|FAILED kind=reattach first=reattach reason=\"DHCP)" 30 "$RMARK" >/dev/null
check_re "restart: the new relinkd resumes the outstanding unplug" \
	"$(rlines restart 2 | grep -m1 'resuming an outstanding unplug')" 'resuming an outstanding unplug: (the guest still holds the NIC|the guest released the NIC)'
check_re "restart: the new NIC is attached on release" "$(rlines restart 2 | grep -m1 ' attached ')" "attached plug=new mac=$NEW_MAC"
check_re "restart: verified" "$(final restart)" "verified kind=reattach .*nic_state=present nic_mac=$NEW_MAC"
check_ping_back "restart: ping comes back" restart 2 30
check_rule restart

# ---------------------------------------------------------------- attach failures
scenario "target tap removed at the unplug, restored after the first failed attach (tapback)"
begin tapback || exit 1
on_relinkd tapback ' detach alias=' 60 tap_del "$MIG_POD"
W1=$WATCHER
on_relinkd tapback ' attach failed plug=new ' 60 tap_add "$MIG_POD"
W2=$WATCHER
migrate_run tapback || { not_ok "tapback: live migration"; exit 1; }
wait "$W1" "$W2"
NEW_MAC=$(pod_mac "$MIG_POD" eth0)
relinkd_wait 2 "domain=$(vm_domain tapback) .* (verified|FAILED) " 30 "$RMARK" >/dev/null
check_re "tapback: the attach failed while the tap was gone" "$(rlines tapback 2 | grep -m1 'attach failed')" 'attach failed plug=new error=.*next plug=new in [0-9]+ ms'
check_re "tapback: retried and attached" "$(rlines tapback 2 | grep -m1 ' attached ')" "attached plug=new mac=$NEW_MAC .*tries=[2-4]"
check_re "tapback: verified" "$(final tapback)" "verified kind=reattach .*nic_state=present nic_mac=$NEW_MAC"
check_ping_back "tapback: ping comes back" tapback 2 30
check_rule tapback

scenario "target tap removed for good (tapgone)"
begin tapgone || exit 1
on_relinkd tapgone ' detach alias=' 60 tap_del "$MIG_POD"
migrate_run tapgone || { not_ok "tapgone: live migration"; exit 1; }
wait "$WATCHER"
relinkd_wait 2 "domain=$(vm_domain tapgone) .* FAILED kind=reattach first=reattach reason=\"the new" 40 "$RMARK" >/dev/null
check_re "tapgone: FAILED, the guest's own NIC is back at the slot" "$(final tapgone)" \
	"FAILED kind=reattach .*not the pod's network\" nic_state=present nic_mac=$OLD_MAC"
check_eq "tapgone: never verified" "$(rlines tapgone 2 | grep -c ' verified ')" 0
check_re "tapgone: the guest sees its NIC again" "$(vm_wait_log tapgone "$MARK" " nic-add dev=eth0 mac=$OLD_MAC" 15)" \
	"nic-add dev=eth0 mac=$OLD_MAC"
check_rule tapgone

# ---------------------------------------------------------------- DHCP
# The target's server serves only the VM's previous MAC while the record says the pod's new one. relinkd's
# served-MAC probe would see that at decision time, so the server switches right after the decision: the
# net under the probe (DHCP from the plugged MAC goes unanswered → the other candidate) is what is tested.
serve_only() { launcher_dhcp_serve "$1" eth0 "$2"; }   # POD MAC
scenario "target DHCP serves only the VM's old MAC (oldmac)"
begin oldmac || exit 1
on_relinkd oldmac ' decision=' 60 serve_only "$MIG_POD" "$OLD_MAC"
migrate_run oldmac || { not_ok "oldmac: live migration"; exit 1; }
wait "$WATCHER"
NEW_MAC=$(pod_mac "$MIG_POD" eth0)
relinkd_wait 2 "domain=$(vm_domain oldmac) .* (verified|FAILED) " 40 "$RMARK" >/dev/null
check_re "oldmac: relinkd decided to plug the record's MAC" "$(rlines oldmac 2 | grep -m1 'decision=')" "decision=reattach .*mac_new=$NEW_MAC"
check_re "oldmac: the new MAC went unanswered, then the old one was plugged" \
	"$(rlines oldmac 2 | grep -m1 ' escalate ')" "escalate from=reattach to=reattach mac=$OLD_MAC reason=\"DHCP unanswered for MAC $NEW_MAC\""
check_re "oldmac: relinkd ends verified with the MAC that gets an answer" "$(final oldmac)" \
	"verified kind=reattach .*nic_state=present nic_mac=$OLD_MAC"
check_re "oldmac: verified by the server's ACK" "$(rlines oldmac 2 | grep -m1 'dhcp-ack ip=')" "dhcp-ack ip=$(pod_ip "$MIG_POD" eth0) "
check_lease "oldmac: guest lease is the target pod's address" "$(pod_addr "$MIG_POD" eth0)" oldmac eth0
check_ping_back "oldmac: ping comes back" oldmac 2 30
check_rule oldmac

scenario "target DHCP answers nobody (silent)"
begin silent || exit 1
silence() { launcher_dhcp_stop "$1" eth0; }
on_relinkd silent ' decision=' 60 silence "$MIG_POD"      # after the probe, like oldmac
migrate_run silent || { not_ok "silent: live migration"; exit 1; }
wait "$WATCHER"
NEW_MAC=$(pod_mac "$MIG_POD" eth0)
relinkd_wait 2 "domain=$(vm_domain silent) .* (verified|FAILED) " 40 "$RMARK" >/dev/null
check_re "silent: FAILED, DHCP unanswered for both candidate MACs" "$(final silent)" \
	"FAILED kind=reattach .*reason=\"DHCP unanswered for MAC $NEW_MAC \\(and $OLD_MAC\\)\" nic_state=present nic_mac=$OLD_MAC"
check_eq "silent: never verified" "$(rlines silent 2 | grep -c ' verified ')" 0
check_rule silent
