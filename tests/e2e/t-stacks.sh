#!/bin/bash
# Every guest network stack ends up on the target pod's address without a human.
#
#   node 1 (pods 10.244.1.0/24)                    node 2 (pods 10.244.2.0/24)
#   ┌──────────────────────────────┐   routed     ┌──────────────────────────────┐
#   │ relinkd, server VM           │══════════════│ relinkd                      │
#   │ nm-pin, ifup-pin, nm, ifup ─ │─ migrate ─ ─▶│ same VMs, new launcher pods  │
#   └──────────────────────────────┘              └──────────────────────────────┘
#   nm-pin / ifup-pin: MAC pinned; NetworkManager ignores a 1 s flap (carrier-wait-timeout 6 s) and ifupdown
#   ignores carrier, and relinkd knows their DHCP clients from their boot packets → the same-MAC re-plug at
#   once (no futile flap) → hot-plug → lease. (The unknown-client ladder: tests/e2e/t-fingerprint.sh.)
#   nm / ifup: MAC from the pod → re-attach directly.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_world --relinkd

scenario "boot the clients"
client_boot nm-pin 1 --mac "$(rl_mac)" -- --stack nm --ping "$SERVER_IP" || exit 1
client_boot ifup-pin 1 --mac "$(rl_mac)" -- --stack ifupdown --ping "$SERVER_IP" || exit 1
client_boot nm 1 -- --stack nm --ping "$SERVER_IP" || exit 1
client_boot ifup 1 -- --stack ifupdown --ping "$SERVER_IP" || exit 1

# pinned VMI STACK CLIENT — pinned MAC, client known to ignore a flap: same-MAC re-plug at once, verified.
pinned() {
	local vmi=$1
	scenario "$2, MAC unchanged → same-MAC re-plug, no flap ($vmi)"
	client_migrate "$vmi" 2 || return 1
	check_ping_back "$vmi: ping comes back" "$vmi" 2 30
	check_lt "$vmi: RESUMED_MIGRATED → first ping reply (ms)" "$(first_ping_ms "$vmi")" 15000
	check_re "$vmi: relinkd knew the client and skipped the flap" "$(rlines "$vmi" 2 | grep -m1 'decision=')" \
		"decision=flap .* client=$3 \\(boot\\) first=reattach "
	check_eq "$vmi: no escalation" "$(rlines "$vmi" 2 | grep -c ' escalate ')" 0
	check_re "$vmi: relinkd verified the re-attach" "$(rlines "$vmi" 2 | grep -m1 ' verified ')" 'verified kind=reattach'
	check_eq "$vmi: guest re-plugged eth0, no carrier loss" \
		"$(since "$vmi" | grep -oE 'nic-(del|add) dev=eth0|carrier dev=eth0 state=down' | tr '\n' ' ')" \
		"nic-del dev=eth0 nic-add dev=eth0 "
	check_lease "$vmi: guest lease is the target pod's address" "$(pod_addr "$MIG_POD" eth0)" "$vmi" eth0
}

# direct VMI STACK — MAC changed: reattach, verified.
direct() {
	local vmi=$1
	scenario "$2, MAC changed → re-attach ($vmi)"
	client_migrate "$vmi" 2 || return 1
	check_ping_back "$vmi: ping comes back" "$vmi" 2
	check_lt "$vmi: RESUMED_MIGRATED → first ping reply (ms)" "$(first_ping_ms "$vmi")" 8000
	check_re "$vmi: relinkd decided reattach" "$(rlines "$vmi" 2 | grep -m1 'decision=')" 'decision=reattach'
	check_re "$vmi: relinkd verified the re-attach" "$(rlines "$vmi" 2 | grep -m1 ' verified ')" 'verified kind=reattach'
	check_lease "$vmi: guest lease is the target pod's address" "$(pod_addr "$MIG_POD" eth0)" "$vmi" eth0
}

pinned nm-pin nm nm
check_eq "nm-pin: no nm-timeout" "$(since nm-pin | grep -c 'reason=nm-timeout')" 0
pinned ifup-pin ifupdown dhclient
direct nm nm
direct ifup ifupdown
