#!/bin/bash
# relinkd's DHCP probe (trigger/dhcpprobe.c) against a KubeVirt-style bridge-binding DHCP server, no VMs.
# Driven through build/tests/tools/dhcpprobe-run (a tests-only binary running the probe on libvirt's
# default event loop, as relinkd does).
#
#   node netns $P"n"               pod netns $P"p"
#   ┌──────────────┐              ┌──────────────────────────────────────────────────────────────┐
#   │ $P-up ───────│──── veth ────│─ eth0-nic ─┐                                                   │
#   └──────────────┘              │            k6t-eth0 169.254.75.10/32, MTU 1450, dnsmasq:      │
#                                 │ tap0 ──────┘   dhcp-host=$VM_MAC (+ $ALT_MAC), ignore the rest │
#                                 │ tap9 (no master)                                              │
#                                 │ probe: rlp<id>b (enslaved) ══ rlp<id>p (DISCOVERs from here)  │
#                                 └──────────────────────────────────────────────────────────────┘
#
# Asserts: the served MAC is answered (with the pod IP), another MAC is not; no bridge → impossible;
# no probe veth is left behind; the bridge's FDB never holds a candidate MAC (bridge monitor); the
# bridge keeps its MAC and MTU; the DISCOVERs never leave the pod (node side sees only the OFFERs:
# the bridge has multicast snooping off so that its own IGMP reports do not blur that count); no
# IPv6 address ever appears on the probe links, also where /proc/sys is read-only.
. "$(dirname "$0")/lib.sh"
rl_init

DRIVER=$ROOT/build/tests/tools/dhcpprobe-run
[ -x "$DRIVER" ] || _fatal "no $DRIVER (make integration builds it)"
command -v dnsmasq >/dev/null || _fatal "dnsmasq missing (scripts/setup.sh)"

VM_MAC=02:5a:7e:00:00:07      # the MAC the server answers (the VM's)
POD_MAC=0a:58:0a:f4:02:07     # the new pod's MAC (in relink's record): not served here
VM_IP=10.244.2.7
ALT_MAC=02:5a:7e:00:00:08     # a second MAC this server also answers (a server that is not single-client)

netns_new node n
netns_new pod p
NETNS=/run/netns/$pod
noip6() { ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1; }
noip6 "$node"
noip6 "$pod"
ip -n "$node" link add "$P-up" type veth peer name eth0-nic netns "$pod" &&
	ip -n "$pod" link add k6t-eth0 mtu 1450 type bridge mcast_snooping 0 &&
	ip -n "$pod" link set eth0-nic mtu 1450 master k6t-eth0 &&
	ip -n "$pod" tuntap add dev tap0 mode tap &&
	ip -n "$pod" link set tap0 mtu 1450 master k6t-eth0 &&
	ip -n "$pod" tuntap add dev tap9 mode tap &&
	ip -n "$pod" addr add 169.254.75.10/32 dev k6t-eth0 &&
	ip -n "$pod" link set k6t-eth0 up &&
	ip -n "$pod" link set eth0-nic up &&
	ip -n "$pod" link set tap0 up &&
	ip -n "$node" link set "$P-up" up || _fatal "topology"

cat >"$T/dnsmasq.conf" <<CONF
port=0
interface=k6t-eth0
bind-interfaces
except-interface=lo
dhcp-authoritative
dhcp-range=10.244.2.0,static,255.255.255.0,infinite
shared-network=k6t-eth0,10.244.2.0
dhcp-host=$VM_MAC,$VM_IP,infinite
dhcp-host=$ALT_MAC,10.244.2.8,infinite
dhcp-ignore=tag:!known
dhcp-option=option:router,10.244.2.1
dhcp-option=option:mtu,1450
dhcp-leasefile=$T/dnsmasq.leases
user=root
group=root
no-resolv
no-hosts
log-dhcp
CONF
ip netns exec "$pod" dnsmasq --keep-in-foreground --conf-file="$T/dnsmasq.conf" --log-facility=- \
	</dev/null >"$T/dnsmasq.log" 2>&1 &
bg_started $!
for _ in $(seq 100); do
	grep -q 'DHCP, sockets bound' "$T/dnsmasq.log" && break
	sleep 0.05
done
grep -q 'DHCP, sockets bound' "$T/dnsmasq.log" || _fatal "dnsmasq did not start: $(cat "$T/dnsmasq.log")"

# Every FDB change in the pod while the probes run. Ready once it reports a marker entry we add.
ip netns exec "$pod" bridge monitor fdb >"$T/fdb.log" 2>&1 &
bg_started $!
MARK=02:00:5e:00:53:01
for _ in $(seq 100); do
	bridge -n "$pod" fdb replace "$MARK" dev tap0 master static 2>/dev/null
	grep -qi "$MARK" "$T/fdb.log" && break
	sleep 0.05
done
grep -qi "$MARK" "$T/fdb.log" || _fatal "bridge monitor fdb reports nothing"
bridge -n "$pod" fdb del "$MARK" dev tap0 master

br_state() { ip -n "$pod" -j link show k6t-eth0 | jq -r '.[0] | "\(.address) \(.mtu)"'; }
node_rx() { ip -n "$node" -j -s link show "$P-up" | jq -r '.[0].stats64.rx.packets'; }
probe_links() { ip -n "$pod" -o link show | grep -c ' rlp' || true; }
BR_BEFORE=$(br_state)
RX_BEFORE=$(node_rx)

# 1. served MAC and an unserved one in one probe
out=$("$DRIVER" "$NETNS" tap0 "$VM_MAC" "$POD_MAC")
rc=$?
expect_eq "probe runs (exit 0)" "$rc" 0
line_vm=$(grep "^mac=$VM_MAC " <<<"$out")
line_pod=$(grep "^mac=$POD_MAC " <<<"$out")
expect_eq "served MAC answered with the pod IP" "$(sed 's/ ms=.*//' <<<"$line_vm")" \
	"mac=$VM_MAC answered=yes offer=$VM_IP"
expect_eq "unserved MAC not answered" "$(sed 's/ ms=.*//' <<<"$line_pod")" "mac=$POD_MAC answered=no offer=-"
elapsed=$(sed -n 's/^elapsed_ms=\([0-9]*\) .*/\1/p' <<<"$out")
answer_ms=$(sed -n 's/.* ms=\([0-9]*\)$/\1/p' <<<"$line_vm")
echo "# served MAC answered after ${answer_ms} ms; probe with an unserved candidate took ${elapsed} ms"
check "served + unserved: result a grace period after the answer, not at the deadline (< 200 ms)" \
	test "${elapsed:-9999}" -lt 200
expect_eq "no probe veth left behind" "$(probe_links)" 0

# 2. only an unserved MAC: the whole deadline; only the served MAC: done as soon as it is answered
out=$("$DRIVER" "$NETNS" tap0 "$POD_MAC")
elapsed=$(sed -n 's/^elapsed_ms=\([0-9]*\) .*/\1/p' <<<"$out")
echo "# unserved MAC alone: ${elapsed} ms"
check "nothing answered → result at the deadline (≥ 400 ms, < 1000 ms)" \
	test "${elapsed:-0}" -ge 400 -a "${elapsed:-0}" -lt 1000
out=$("$DRIVER" "$NETNS" tap0 "$VM_MAC")
elapsed=$(sed -n 's/^elapsed_ms=\([0-9]*\) .*/\1/p' <<<"$out")
echo "# served MAC alone: ${elapsed} ms"
check "all answered → result before the deadline (< 400 ms)" test "${elapsed:-9999}" -lt 400
expect_eq "no probe veth left behind (early finish)" "$(probe_links)" 0

# 2b. a server that answers both candidates: both found (the grace period after the first answer)
out=$("$DRIVER" "$NETNS" tap0 "$VM_MAC" "$ALT_MAC")
expect_eq "both served → both answered" "$(grep -c 'answered=yes' <<<"$out")" 2
expect_eq "no probe veth left behind (both)" "$(probe_links)" 0

# 3. MAC case and the answer's timing over repeated runs (the figure behind PROBE_TIMEOUT_MS)
out=$("$DRIVER" -n 20 "$NETNS" tap0 "${VM_MAC^^}")
n_yes=$(grep -c "answered=yes" <<<"$out")
expect_eq "20 probes of the served MAC (upper case) all answered" "$n_yes" 20
times=$(sed -n 's/.* ms=\([0-9]*\)$/\1/p' <<<"$out" | sort -n | tr '\n' ' ')
echo "# served MAC, 20 runs, ms to OFFER (sorted): $times"

# 4. impossible probes
out=$("$DRIVER" "$NETNS" tap9 "$VM_MAC")
expect_eq "tap without a master → impossible (exit 3)" "$?" 3
expect_eq "…with ENOLINK" "$out" "impossible errno=67: the tap has no master (not a bridge binding)"
out=$("$DRIVER" "$NETNS" nosuchtap "$VM_MAC")
expect_eq "no such tap → impossible, ENODEV" "$out" "impossible errno=19: no such tap in the pod netns"
if ip -n "$pod" link add vrf9 type vrf table 9 2>/dev/null && ip -n "$pod" link set tap9 master vrf9; then
	out=$("$DRIVER" "$NETNS" tap9 "$VM_MAC")
	expect_eq "tap enslaved to a VRF → impossible, EMEDIUMTYPE" "$out" \
		"impossible errno=124: the tap's master is not a bridge"
	ip -n "$pod" link set tap9 nomaster
else
	echo "# not run: this kernel has no VRF (nor bond/team), so a tap with a non-bridge master cannot be built"
fi
expect_eq "no probe veth left behind (impossible)" "$(probe_links)" 0

# 5. side effects
expect_eq "bridge MAC and MTU unchanged" "$(br_state)" "$BR_BEFORE"
RX_AFTER=$(node_rx)
offers=$(grep -c 'DHCPOFFER(k6t-eth0)' "$T/dnsmasq.log")
discovers=$(grep -c 'DHCPDISCOVER(k6t-eth0)' "$T/dnsmasq.log")
echo "# dnsmasq saw $discovers DISCOVERs and sent $offers OFFERs"
# 2 (served + unserved) + 2 (unserved, sent and resent) + 1 + 2 (both) + 20; the impossible probes
# send nothing
expect_eq "dnsmasq got every DISCOVER, nothing else" "$discovers" 27
expect_eq "only the OFFERs (broadcast) left the pod, no DISCOVER" "$((RX_AFTER - RX_BEFORE))" "$offers"
fdb_probe=$(grep -c ' dev rlp' "$T/fdb.log" || true)
check "bridge monitor saw the probe ports (control)" test "$fdb_probe" -gt 0
bad=$(grep -iE "^(Deleted )?($VM_MAC|$POD_MAC) " "$T/fdb.log" || true)
expect_eq "the FDB never held a candidate MAC" "$bad" ""

# 6. IPv6 stays silent on the probe links: no link-local address while a probe runs, with IPv6 on by
#    default in the pod; through disable_ipv6, and through address generation mode "none" where
#    /proc/sys is read-only (relinkd in a container with a read-only /proc/sys).
ip netns exec "$pod" sysctl -qw net.ipv6.conf.default.disable_ipv6=0
ipv6_during_probe() { # NAME CMD...: poll the probe links while CMD probes an unserved MAC (400 ms)
	local name=$1 pid seen=0 ll=0
	shift
	"$@" >"$T/ipv6.out" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		if ip -n "$pod" -o link show | grep -q ' rlp'; then
			seen=$((seen + 1))
			ip -n "$pod" -o -6 addr show | grep -q ' rlp' && ll=$((ll + 1))
		fi
	done
	wait "$pid"
	if grep -q "answered=no" "$T/ipv6.out"; then ok "$name: probe ran"; else not_ok "$name: probe ran" "$(cat "$T/ipv6.out")"; fi
	check "$name: probe links seen while it ran (control)" test "$seen" -gt 0
	expect_eq "$name: no IPv6 address on the probe links" "$ll" 0
}
ipv6_during_probe "/proc/sys writable" "$DRIVER" "$NETNS" tap0 "$POD_MAC"
ipv6_during_probe "/proc/sys read-only" unshare -m sh -c \
	'mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && exec "$@"' sh \
	"$DRIVER" "$NETNS" tap0 "$POD_MAC"
expect_eq "no probe veth left behind (IPv6 runs)" "$(probe_links)" 0

finish
