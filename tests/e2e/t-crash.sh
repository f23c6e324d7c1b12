#!/bin/bash
# relinkd crash safety and libvirtd restarts.
#
#   node 1 (pods 10.244.1.0/24)                    node 2 (pods 10.244.2.0/24)
#   ┌──────────────────────────────┐   routed     ┌──────────────────────────────────────┐
#   │ relinkd, server VM           │══════════════│ relinkd (SIGKILLed / restarted)       │
#   │ missed, held, torn, survivor │─ migrate ─ ─▶│ launcher libvirtd (restarted)         │
#   └──────────────────────────────┘              └──────────────────────────────────────┘
#   missed:   node 2's relinkd is SIGKILLed before the migration completes, restarted after it:
#             its start-up reconcile fixes the guest (trigger=reconcile).
#   held:     pinned MAC → flap; relinkd SIGKILLed while the link is held down, restarted: the guest
#             still ends up with the link up and the new lease.
#   torn:     MAC changed → re-attach; relinkd SIGKILLed after the detach, before the attach: the restarted
#             relinkd must give the domain its NIC back (with the pod's MAC).
#   survivor: the target launcher's libvirtd restarts under relinkd before the migration; relinkd
#             reconnects and acts on the migration. Then a libvirtd restart under an already fixed
#             VM: relinkd reconnects, reconciles and does nothing (no second action, no guest event).
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_world --relinkd

scenario "boot the clients"
client_boot missed 1 -- --stack networkd --ping "$SERVER_IP" || exit 1
client_boot held 1 --mac "$(rl_mac)" -- --stack networkd --ping "$SERVER_IP" || exit 1
client_boot survivor 1 -- --stack networkd --ping "$SERVER_IP" || exit 1
client_boot torn 1 -- --stack networkd --ping "$SERVER_IP" || exit 1

scenario "relinkd SIGKILLed across the migration, restarted (missed)"
relinkd_stop 2 KILL
check "node 2's relinkd is gone" relinkd_gone 2
client_migrate missed 2 || exit 1
check "no ping reply while relinkd is down (3 s)" vm_log_quiet missed "$MARK" " ping-ok " 3
RMARK=$(relinkd_mark 2)
relinkd_start 2
check_ping_back "missed: ping comes back after the restart" missed 2
check_re "missed: restarted relinkd decided reattach on reconcile" "$(rlines missed 2 | grep -m1 'decision=')" \
	'decision=reattach .*trigger=reconcile'
check_lease "missed: guest lease is the target pod's address" "$(pod_addr "$MIG_POD" eth0)" missed eth0

scenario "relinkd SIGKILLed while the link is held down, restarted (held)"
# Kill it the moment it reports the link down (the hold is 1 s).
migrate_killing held 2 ' link-down ' || exit 1
check_re "held: relinkd took the link down before dying" "$(rlines held 2 | grep -m1 ' link-down ')" 'link-down'
check_eq "held: relinkd died before bringing it up" "$(rlines held 2 | grep -c ' link-up ')" 0
check "held: no ping reply while the link is held down (2 s)" vm_log_quiet held "$MARK" " ping-ok " 2
relinkd_start 2
check_ping_back "held: ping comes back after the restart" held 2
check_re "held: guest carrier is up again" "$(since held | grep 'carrier dev=eth0' | tail -1)" 'state=up'
check_lease "held: guest lease is the target pod's address" "$(pod_addr "$MIG_POD" eth0)" held eth0

scenario "relinkd SIGKILLed between detach and re-attach, restarted (torn)"
migrate_killing torn 2 ' detach ' || exit 1
check_re "torn: relinkd started the detach before dying" "$(rlines torn 2 | grep -m1 ' detach ')" 'detach alias='
check_eq "torn: relinkd died before the re-attach" "$(rlines torn 2 | grep -c ' attached ')" 0
rl_wait 5 vm_log_has torn "$MARK" " nic-del "
echo "# torn: NICs in the live domain while relinkd is down: $(pod_virsh "$MIG_POD" domiflist default_torn | grep -c ethernet)"
relinkd_start 2
check_ping_back "torn: ping comes back after the restart" torn 2
check_eq "torn: the domain has its NIC again" "$(pod_virsh "$MIG_POD" domiflist default_torn | grep -c ethernet)" 1
check_lease "torn: guest lease is the target pod's address" "$(pod_addr "$MIG_POD" eth0)" torn eth0

scenario "libvirtd restarted under relinkd before the migration (survivor)"
MARK=$(vm_log_mark survivor)
RMARK=$(relinkd_mark 2)
migrate_prepare survivor 2 || exit 1
TGT=$MIG_POD
C=$(conn_label "$TGT")
check "relinkd connected to the target launcher" relinkd_saw 2 "conn=$C connected" 10 "$RMARK"
libvirtd_restart "$TGT" || exit 1
# Either the open connection reports the close, or the --watch rescan finds the socket gone first.
check "relinkd saw the connection drop" \
	relinkd_saw 2 "conn=$C (connection closed|daemon gone|pod=.* socket .* is gone)" 10 "$RMARK"
rl_wait 15 relinkd_log_count_ge 2 "conn=$C connected" 2 "$RMARK"
check_eq "relinkd reconnected to the restarted libvirtd" "$(relinkd_log_count 2 "conn=$C connected" "$RMARK")" 2
migrate_run survivor || exit 1
check_ping_back "survivor: ping comes back" survivor 2
check_re "survivor: relinkd decided reattach on the migration event" "$(rlines survivor 2 | grep -m1 'decision=')" \
	'decision=reattach .*trigger=migrated'
check_lease "survivor: guest lease is the target pod's address" "$(pod_addr "$MIG_POD" eth0)" survivor eth0

scenario "libvirtd restarted under a fixed VM: nothing happens (survivor)"
rl_wait 10 rlines_has survivor 2 " verified "
MARK=$(vm_log_mark survivor)
RMARK=$(relinkd_mark 2)
libvirtd_restart "$(vm_pod survivor)" || exit 1
check "relinkd reconnected" relinkd_saw 2 "conn=$(conn_label "$(vm_pod survivor)") connected" 15 "$RMARK"
check "survivor: still pinging 3 s after the restart" vm_log_quiet survivor "$MARK" " ping-lost " 3
check_eq "survivor: no second action" "$(rlines survivor 2 | grep -c 'decision=')" 0
check_eq "survivor: guest saw nothing" "$(since survivor | grep -cE ' (nic-del|nic-add|carrier|lease-drop) ')" 0
check "survivor: the domain still runs under the restarted libvirtd" \
	pod_domain_running "$(vm_pod survivor)" default_survivor
