#!/bin/bash
# The cluster-in-a-box's launcher DHCP server (tests/tools/kvdhcpd) has KubeVirt's bridge-binding semantics
# (pkg/network/dhcp/server/server.go), against busybox udhcpc in a "guest" netns, no VMs:
#
#   pod netns $P"p"                                          guest netns $P"g"
#   ┌───────────────────────────────────────────────┐       ┌───────────────────────┐
#   │ k6t-eth0 169.254.75.10/32, kvdhcpd ── tap0 ───│─ veth ─│─ eth0 (udhcpc)        │
#   └───────────────────────────────────────────────┘       └───────────────────────┘
#
# Asserts: the configured MAC gets the pod's address with mask, router, MTU and classless routes (default
# last), a 999-day lease and the bridge's address as server id, also when it asks for another (the old
# pod's) address; any other MAC is ignored (never a NAK); bad arguments exit 2.
. "$(dirname "$0")/lib.sh"
rl_init

KVD=$ROOT/build/tests/tools/kvdhcpd
[ -x "$KVD" ] || _fatal "no $KVD (make integration builds it)"
command -v busybox >/dev/null || _fatal "busybox missing (scripts/setup.sh)"
MAC=02:5a:7e:00:00:07

netns_new pod p
netns_new guest g
ip -n "$pod" link add k6t-eth0 type bridge &&
	ip -n "$pod" link add tap0 type veth peer name eth0 netns "$guest" &&
	ip -n "$pod" link set tap0 master k6t-eth0 &&
	ip -n "$pod" addr add 169.254.75.10/32 dev k6t-eth0 &&
	ip -n "$pod" link set k6t-eth0 up && ip -n "$pod" link set tap0 up &&
	ip -n "$guest" link set eth0 address "$MAC" && ip -n "$guest" link set eth0 up || _fatal "links"

ip netns exec "$pod" "$KVD" --iface k6t-eth0 --server-ip 169.254.75.10 --mac "$MAC" --ip 10.244.2.7/24 \
	--router 10.244.2.1 --route 10.96.0.0/12,10.244.2.1 --route 0.0.0.0/0,10.244.2.1 --mtu 1450 \
	2>"$T/kvd.log" &
_pids+=($!)
for _ in $(seq 50); do grep -q '^kvdhcpd: serving' "$T/kvd.log" && break; sleep 0.1; done
expect_eq "kvdhcpd says what it serves" "$(head -1 "$T/kvd.log")" \
	"kvdhcpd: serving 10.244.2.7/24 to $MAC on k6t-eth0"

cat >"$T/script" <<'EOF'
#!/bin/sh
[ "$1" = bound ] && echo "ip=$ip mask=$mask router=$router mtu=$mtu routes=$staticroutes server=$serverid lease=$lease"
exit 0
EOF
chmod +x "$T/script"
lease() { ip netns exec "$guest" timeout 8 busybox udhcpc -i eth0 -n -q -f -t 3 -T 1 -s "$T/script" \
	-O mtu -O staticroutes "$@" 2>/dev/null | grep '^ip='; }

expect_eq "the configured MAC gets the pod's address and every option" "$(lease)" \
	"ip=10.244.2.7 mask=24 router=10.244.2.1 mtu=1450 routes=10.96.0.0/12 10.244.2.1 0.0.0.0/0 10.244.2.1 server=169.254.75.10 lease=86313600"
expect_eq "asking for the old pod's address still gets the new one" "$(lease -r 10.244.1.7 | cut -d' ' -f1)" \
	"ip=10.244.2.7"
expect_eq "the server ACKed REQUESTs whatever was asked" "$(grep -c ' REQUEST from .* → ACK 10.244.2.7$' "$T/kvd.log")" 2
ip -n "$guest" link set eth0 address 02:5a:7e:00:00:08
expect_eq "another MAC gets nothing" "$(lease)" ""
check "another MAC is ignored, not NAKed" grep -q 'DISCOVER from 02:5a:7e:00:00:08: not our client, ignored' "$T/kvd.log"

for bad in "--iface k6t-eth0" "--iface x --server-ip 1.2.3.4 --mac nope --ip 10.0.0.1/24" \
	"--iface x --server-ip 1.2.3.4 --mac $MAC --ip 10.0.0.1" "--iface x --server-ip 1.2.3.4 --mac $MAC --ip 10.0.0.1/24 --route 10.0.0.0/8"; do
	# shellcheck disable=SC2086 # word splitting wanted
	"$KVD" $bad 2>/dev/null
	expect_eq "bad arguments exit 2: $bad" "$?" 2
done
finish
