#!/bin/bash
# Negative control: without relinkd a migrated bridge-bound VM stays cut off.
#
#   node 1 (10.244.1.0/24)                          node 2 (10.244.2.0/24)
#   ┌──────────────────────────────┐   routed      ┌──────────────────────────────┐
#   │ server VM  10.244.1.10       │═══════════════│ client VMs after migration:  │
#   │ client, pinned 10.244.1.x ─ ─│─ ─ migrate ─ ▶│ still 10.244.1.x (stale)      │
#   └──────────────────────────────┘               └──────────────────────────────┘
#   No relinkd anywhere. Each client's new pod has a node-2 address; the guest keeps its node-1 lease and
#   ARPs for node-1 addresses on node 2's bridge: no reply. This proves the other e2e tests test something.
#   client: MAC from the pod (changes); pinned: MAC pinned by the VM spec (tuning), same on both pods.
. "$(dirname "$0")/lib.sh"
export E2E_NEEDS_RELINKD=0
e2e_init
e2e_world

scenario "no relinkd: boot and migrate both clients"
client_boot client 1 -- --stack networkd --ping "$SERVER_IP" || exit 1
client_boot pinned 1 --mac "$(rl_mac)" -- --stack networkd --ping "$SERVER_IP" || exit 1
OLD_C=$(vm_lease_ip client) OLD_P=$(vm_lease_ip pinned)
# "still holds its node-1 address" below compares with these: they must be real node-1 leases.
check_re "client booted with a node-1 lease" "$OLD_C" '^10\.244\.1\.[0-9]+/24$'
check_re "pinned booted with a node-1 lease" "$OLD_P" '^10\.244\.1\.[0-9]+/24$'
client_migrate client 2 || exit 1
MARK_C=$MARK T_C=$(rl_ms)
check_re "client's target pod got a node-2 address" "$(pod_addr "$MIG_POD" eth0)" '^10\.244\.2\.[0-9]+/24$'
client_migrate pinned 2 || exit 1
MARK_P=$MARK T_P=$(rl_ms)

scenario "no relinkd: nobody gets the network back"
# 20 s after each migration, in parallel.
rl_wait $((20 - ($(rl_ms) - T_C) / 1000)) false
MARK=$MARK_C
check_eq "client: no ping reply within 20 s of the migration" "$(since client | grep -c ' ping-ok ')" 0
check_eq "client: guest still holds its node-1 address" "$(vm_lease_ip client)" "$OLD_C"
check_re "client: guest lost the server (ping-lost logged)" "$(since client | grep ' ping-lost ' | head -1)" 'ping-lost target='
check_eq "client: guest saw no NIC, carrier or lease event" \
	"$(since client | grep -cE ' (nic-del|nic-add|carrier|lease|dhcp-start) ')" 0
rl_wait $((20 - ($(rl_ms) - T_P) / 1000)) false
MARK=$MARK_P
check_eq "pinned: no ping reply within 20 s of the migration" "$(since pinned | grep -c ' ping-ok ')" 0
check_eq "pinned: guest still holds its node-1 address" "$(vm_lease_ip pinned)" "$OLD_P"
