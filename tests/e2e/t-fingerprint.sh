#!/bin/bash
# relinkd knows the guest's DHCP client before the migration and skips the futile flap.
#
#   node 1 (pods 10.244.1.0/24)                       node 2 (pods 10.244.2.0/24)
#   ┌─────────────────────────────────────┐  routed  ┌─────────────────────────────────────┐
#   │ relinkd: standing DHCP watch on the │══════════│ relinkd                             │
#   │ taps → client=… in domain metadata  │          │                                     │
#   │ nm-fp ifup-fp nd-fp native-fp unk-fp│─migrate─▶│ same VMs, new launcher pods          │
#   └─────────────────────────────────────┘          └─────────────────────────────────────┘
#   every client's MAC is pinned (MAC unchanged → the flap path):
#   nm-fp / ifup-fp: NM-like / dhclient-like (guest/init's emulations send the real clients' options),
#                    seen at boot → client=nm / dhclient (boot) → the same-MAC re-plug at once, no flap
#   nd-fp:           networkd-like → client=networkd (boot) → the flap (it renews on carrier)
#   native-fp:       nm stack with udhcpc's own identity → client=udhcpc → today's ladder (flap, escalation,
#                    re-plug); the re-plug that verified is remembered (worked=replug), so migrating it back
#                    skips the flap
#   unk-fp:          nm-like, booted while node 1's relinkd was stopped, no renewal (999-day lease) → never
#                    seen → client=unknown → today's ladder
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_world --relinkd

META_URI=https://relink.dev/xmlns/relinkd/1
meta() { pod_virsh "$(vm_pod "$1")" metadata "$(vm_domain "$1")" "$META_URI" 2>&1; }
# meta_has VMI ERE — the domain's relink metadata matches ERE (a named waiter for rl_wait).
meta_has() { meta "$1" | grep -E -- "$2" >/dev/null; }
all_rlines() { grep -F "domain=$(vm_domain "$1") " "$RUN/n$2/relinkd.log"; }

scenario "boot the clients"
client_boot nm-fp 1 --mac "$(rl_mac)" -- --stack nm --ping "$SERVER_IP" || exit 1
client_boot ifup-fp 1 --mac "$(rl_mac)" -- --stack ifupdown --ping "$SERVER_IP" || exit 1
client_boot nd-fp 1 --mac "$(rl_mac)" -- --stack networkd --ping "$SERVER_IP" || exit 1
client_boot native-fp 1 --mac "$(rl_mac)" -- --stack nm --cmdline relink.dhcp_id=native --ping "$SERVER_IP" || exit 1
relinkd_stop 1
client_boot unk-fp 1 --mac "$(rl_mac)" -- --stack nm --ping "$SERVER_IP" || exit 1
# shellcheck disable=SC2034 # rlines reads it
RMARK=$(relinkd_mark 1)
relinkd_start 1
# The restarted relinkd records unk-fp's identity (first sight), nothing about its client.
rl_wait 30 rlines_has unk-fp 1 ' first-sight ' ||
	not_ok "unk-fp: node 1's restarted relinkd recorded its identity" "$(rlines unk-fp 1 | tail -5)"

scenario "relinkd learnt the clients from their boot DHCP"
for v in nm-fp:nm ifup-fp:dhclient nd-fp:networkd native-fp:udhcpc; do
	vmi=${v%%:*} c=${v#*:}
	rl_wait 20 meta_has "$vmi" "client=\"$c\""
	check_re "$vmi: domain metadata says client=$c (boot)" "$(meta "$vmi" | grep -o 'client="[^"]*" client-src="[^"]*"')" \
		"^client=\"$c\" client-src=\"boot\"$"
	check_eq "$vmi: relinkd logged the client once (written only on change)" \
		"$(all_rlines "$vmi" 1 | grep -c " client=$c src=boot (was unknown)")" 1
done
check_eq "unk-fp: no client in its metadata (relinkd never saw its DHCP)" "$(meta unk-fp | grep -c 'client=')" 0

# known VMI CLIENT — MAC unchanged, client known to ignore a flap: the same-MAC re-plug directly.
known() {
	local vmi=$1 c=$2
	scenario "$c-like guest, MAC unchanged → same-MAC re-plug, no flap ($vmi)"
	client_migrate "$vmi" 2 || return 1
	check_ping_back "$vmi: ping comes back" "$vmi" 2 30
	check_re "$vmi: decision names the client and starts at the re-plug" "$(rlines "$vmi" 2 | grep -m1 'decision=')" \
		"decision=flap .* client=$c \\(boot\\) first=reattach "
	check_eq "$vmi: no escalation" "$(rlines "$vmi" 2 | grep -c ' escalate ')" 0
	check_re "$vmi: relinkd verified the re-plug" "$(rlines "$vmi" 2 | grep -m1 ' verified ')" 'verified kind=reattach'
	check_eq "$vmi: guest saw no carrier loss, one re-plug" \
		"$(since "$vmi" | grep -oE 'nic-(del|add) dev=eth0|carrier dev=eth0 state=down' | tr '\n' ' ')" \
		"nic-del dev=eth0 nic-add dev=eth0 "
	check_lease "$vmi: guest lease is the target pod's address" "$(pod_addr "$MIG_POD" eth0)" "$vmi" eth0
	check_re "$vmi: the re-plug is remembered" "$(meta "$vmi")" 'worked="replug"'
}

# ladder VMI CLIENT SRC — today's ladder: flap, no DHCP, escalation to the same-MAC re-plug, verified.
ladder() {
	local vmi=$1 c=$2 src=$3
	scenario "client=$c guest, MAC unchanged → today's ladder ($vmi)"
	client_migrate "$vmi" 2 || return 1
	check_ping_back "$vmi: ping comes back" "$vmi" 2 30
	check_re "$vmi: decision says client=$c and starts with the flap" "$(rlines "$vmi" 2 | grep -m1 'decision=')" \
		"decision=flap .* client=$c \\($src\\) first=flap "
	check_re "$vmi: relinkd escalated flap → reattach" "$(rlines "$vmi" 2 | grep -m1 ' escalate ')" 'escalate from=flap to=reattach'
	check_re "$vmi: relinkd verified the re-plug" "$(rlines "$vmi" 2 | grep -m1 ' verified ')" 'verified kind=reattach'
	check_lease "$vmi: guest lease is the target pod's address" "$(pod_addr "$MIG_POD" eth0)" "$vmi" eth0
	check_re "$vmi: what worked is remembered" "$(meta "$vmi")" 'worked="replug"'
}

known nm-fp nm
known ifup-fp dhclient

scenario "networkd-like guest, MAC unchanged → the flap (nd-fp)"
client_migrate nd-fp 2 || exit 1
check_ping_back "nd-fp: ping comes back" nd-fp 2
check_re "nd-fp: decision says client=networkd and keeps the flap" "$(rlines nd-fp 2 | grep -m1 'decision=')" \
	'decision=flap .* client=networkd \(boot\) first=flap '
check_re "nd-fp: relinkd verified the flap" "$(rlines nd-fp 2 | grep -m1 ' verified ')" 'verified kind=flap'
check_eq "nd-fp: no re-plug" "$(since nd-fp | grep -c 'nic-del')" 0
check_re "nd-fp: the flap is remembered" "$(meta nd-fp)" 'worked="flap"'

ladder native-fp udhcpc boot
ladder unk-fp unknown -

scenario "what worked last time: native-fp back to node 1 skips the flap"
client_migrate native-fp 1 || exit 1
check_ping_back "native-fp: ping comes back" native-fp 1 30
check_re "native-fp: decision starts at the re-plug because it worked" "$(rlines native-fp 1 | grep -m1 'decision=')" \
	'decision=flap .* client=udhcpc \(boot\) worked=replug first=reattach '
check_eq "native-fp: no escalation" "$(rlines native-fp 1 | grep -c ' escalate ')" 0
check_re "native-fp: relinkd verified the re-plug" "$(rlines native-fp 1 | grep -m1 ' verified ')" 'verified kind=reattach'
scenario_end

