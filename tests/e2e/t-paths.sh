#!/bin/bash
# relinkd's three decisions on real migrations: re-attach (MAC changed), flap (MAC unchanged),
# nothing (network unchanged), for the default network and a multus-style net1.
#
#   node 1 (pods 10.244.1.0/24)                        node 2 (pods 10.244.2.0/24)
#   ┌───────────────────────────────────┐  routed     ┌───────────────────────────────────┐
#   │ relinkd                           │═════════════│ relinkd                           │
#   │ server VM  eth0 10.244.1.10       │             │                                   │
#   │            eth1 10.245.0.10 (net1)│── br1 ══ br1│                                   │
#   │ mover/pinned/dual/steady ─ ─ ─ ─ ─│─ migrate ─ ▶│ same VMs, new launcher pods        │
#   └───────────────────────────────────┘             └───────────────────────────────────┘
#   mover:  eth0, MAC from the pod          → reattach: nic-del/nic-add, eth0 again, node-2 lease
#   pinned: eth0, MAC pinned (tuning)       → flap: carrier down/up, new lease, no re-plug
#   dual:   eth0 + net1, MACs from the pods → both NICs re-attached, both new leases
#   steady: eth0 pinned + net1 with pinned MAC and the same static IP, pinging the server over net1
#           → eth0 flapped, net1 decision=none: no carrier event, no outage on net1
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_world --relinkd

# Boot every client first (their boots overlap), then migrate them one by one.
scenario "boot the clients"
client_boot mover 1 -- --stack networkd --ping "$SERVER_IP" || exit 1
client_boot pinned 1 --mac "$(rl_mac)" -- --stack networkd --ping "$SERVER_IP" || exit 1
client_boot dual 1 --net1 -- --stack networkd --ping "$SERVER_IP" || exit 1
client_boot steady 1 --mac "$(rl_mac)" --net1-ip 10.245.0.99 --net1-mac "$(rl_mac)" -- \
	--stack networkd --ping "$SERVER_NET1_IP" || exit 1

scenario "MAC changed → re-attach (mover)"
OLD_MAC=$(vm_log_since mover 0 | grep ' nic-add dev=eth0 ' | tail -1 | sed 's/.* mac=//')
OLD_SLOTS=$(nic_slots mover)
client_migrate mover 2 || exit 1
NEW_MAC=$(pod_mac "$MIG_POD" eth0)
check_ping_back "mover: ping comes back" mover 2
check_lt "mover: RESUMED_MIGRATED → first ping reply (ms)" "$(first_ping_ms mover)" 3000
check_re "mover: relinkd decided reattach" "$(rlines mover 2 | grep -m1 'decision=')" \
	"nic=0000:00:0[0-9a-f].0 mac=$OLD_MAC .*decision=reattach"
check_re "mover: relinkd verified the re-attach" "$(rlines mover 2 | grep -m1 ' verified ')" 'verified kind=reattach'
check_re "mover: guest logged nic-del eth0" "$(since mover | grep -m1 ' nic-del ')" 'nic-del dev=eth0$'
check_re "mover: guest logged nic-add eth0 with the target pod's MAC" "$(since mover | grep -m1 ' nic-add ')" \
	"nic-add dev=eth0 mac=$NEW_MAC\$"
check_lease "mover: guest lease is the target pod's address" "$(pod_addr "$MIG_POD" eth0)" mover eth0
check_eq "mover: no flap (no carrier down)" "$(since mover | grep -c 'carrier dev=eth0 state=down')" 0
check "mover: the source domain has a PCI-addressed NIC" test -n "$OLD_SLOTS"
check_eq "mover: PCI slot kept (live domain XML on the target)" "$(nic_slots mover)" "$OLD_SLOTS"

scenario "MAC unchanged → flap (pinned)"
client_migrate pinned 2 || exit 1
check_ping_back "pinned: ping comes back" pinned 2
check_lt "pinned: RESUMED_MIGRATED → first ping reply (ms)" "$(first_ping_ms pinned)" 3000
check_re "pinned: relinkd decided flap" "$(rlines pinned 2 | grep -m1 'decision=')" 'decision=flap'
check_re "pinned: relinkd verified the flap" "$(rlines pinned 2 | grep -m1 ' verified ')" 'verified kind=flap'
check_re "pinned: guest saw carrier down then up" "$(since pinned | grep -o 'carrier dev=eth0 state=[a-z]*' | tr '\n' ' ')" \
	'state=down carrier dev=eth0 state=up'
check_lease "pinned: guest lease is the target pod's address" "$(pod_addr "$MIG_POD" eth0)" pinned eth0
check_eq "pinned: no re-plug" "$(since pinned | grep -cE ' nic-(del|add) ')" 0

scenario "default + net1 both handled (dual)"
client_migrate dual 2 || exit 1
check_ping_back "dual: ping comes back" dual 2
rl_wait 15 rlines_count_ge dual 2 " verified " 2
check_eq "dual: relinkd acted on two NICs" "$(rlines dual 2 | grep 'decision=reattach' | grep -o 'record=[a-z0-9]*/' | sort | tr '\n' ' ')" \
	"record=net1/ record=podnet/ "
check_eq "dual: both actions verified" "$(rlines dual 2 | grep -c ' verified ')" 2
rl_wait 10 vm_lease_is dual eth1 "$(pod_addr "$MIG_POD" net1)"
check_lease "dual: eth0 lease is the target pod's address" "$(pod_addr "$MIG_POD" eth0)" dual eth0
check_lease "dual: eth1 lease is the target pod's net1 address" "$(pod_addr "$MIG_POD" net1)" dual eth1
check_eq "dual: both NICs keep their names" "$(since dual | grep ' nic-add ' | grep -o 'dev=eth[0-9]' | sort | tr '\n' ' ')" \
	"dev=eth0 dev=eth1 "

# last_ping_answered VMI — the guest's latest ping line (since MARK) is a reply, not a loss.
last_ping_answered() { ! since "$1" | grep -E " ping-(ok|lost) " | tail -1 | grep " ping-lost " >/dev/null; }

scenario "unchanged network → nothing (steady, net1 same IP and MAC)"
client_migrate steady 2 || exit 1
relinkd_wait 2 "domain=default_steady .*record=net1/.*decision=" 10 "$RMARK" >/dev/null
check_re "steady: relinkd decided none for net1" "$(rlines steady 2 | grep 'record=net1/' | grep -m1 'decision=')" 'decision=none'
check_re "steady: relinkd flapped eth0 (new IP, same MAC)" "$(rlines steady 2 | grep 'record=podnet/' | grep -m1 'decision=')" 'decision=flap'
rl_wait 10 rlines_has steady 2 "verified kind=flap"
check_eq "steady: no carrier, re-plug or lease-drop on eth1" "$(since steady | grep -cE ' (carrier|nic-del|nic-add|lease-drop) dev=eth1')" 0
check_eq "steady: eth1 keeps its address" "$(vm_lease_ip steady eth1)" "10.245.0.99/24"
# The outage check below passes on "no ping-ok line"; make sure that means "never lost", not "lost for good".
check "steady: net1 pings answered (no ping-lost without a later ping-ok)" \
	rl_wait 5 last_ping_answered steady
OUT=$(since steady | sed -n 's/.* ping-ok .*outage_ms=\([0-9]*\).*/\1/p' | sort -n | tail -1)
check_lt "steady: net1 ping outage (ms; none or the migration pause only)" "${OUT:-0}" 1000
