# shellcheck shell=bash
# cluster/lib.sh — cluster-in-a-box: two "nodes", KubeVirt-style launcher pods, real VMs, live migration.
#
# Source it from bash (set -u safe), then:
#   cluster_init; cluster_check   # run id, $RUN, traps → cluster_cleanup; guest built, tools present
#   cluster_up                    # node_create 1; node_create 2; node_link 1 2
#   relinkd_start 1; relinkd_start 2
#   vm_create 1 server --net1 -- --stack networkd       # = pod_create + launcher_setup + libvirtd_start + vm_start
#   vm_create 1 client --mac 02:… -- --stack nm --ping "$(pod_ip "$(vm_pod server)" eth0)"
#   m=$(vm_log_mark client); migrate client 2; vm_wait_log client "$m" ' ping-ok ' 20
#
# Functions (each documented where defined):
#   cluster   cluster_init cluster_check cluster_up node_create node_link cluster_cleanup
#   pods      pod_create pod_delete cni pod_addr pod_ip pod_mac pod_cid pod_record pod_get
#   launcher  launcher_setup (launcher_nic) libvirtd_start libvirtd_stop libvirtd_restart pod_virsh pod_uri
#             events_start pod_event_us
#   VMs       vm_create vm_start vm_destroy vm_pod vm_domain vm_spec vm_log_mark vm_log_since vm_wait_log
#             vm_lease_ip vm_console_us
#   migration migrate = migrate_prepare (target pod, bridge binding, libvirtd) + migrate_run (virsh migrate
#             --live over UNIX sockets, CNI DEL of the source pod); sets MIG_POD MIG_MS MIG_RESUMED_US
#   relinkd   relinkd_start relinkd_stop relinkd_wait relinkd_mark relinkd_log
#   helpers   rl_wait (bounded poll) rl_ms rl_mac rl_kill/rl_stop (only PIDs of this run) rl_say
#
#  Topology (one run; every name carries the run id "rl<4 hex>", e.g. rl3f2a):
#
#   root netns: nothing of ours but netns files, $RUN (files, sockets) and the processes below
#
#   ┌──────── node 1: netns rl3f2an1 ─────────┐          ┌──────── node 2: netns rl3f2an2 ─────────┐
#   │ cni0 10.244.1.1/24 (CNI bridge plugin)  │          │ cni0 10.244.2.1/24                      │
#   │ up0 10.243.0.1/30 ═════════ veth ═══════════════════ up0 10.243.0.2/30                       │
#   │   10.244.2.0/24 via 10.243.0.2          │  routed  │   10.244.1.0/24 via 10.243.0.1          │
#   │ br1 (net1 L2, no IP) ─ l2 ═══ veth ═════════════════ l2 ─ br1                               │
#   │ relinkd --state-dir $RUN/n1/state       │          │ relinkd --state-dir $RUN/n2/state       │
#   └──────┬──────────────┬───────────────────┘          └─────────────────────────────────────────┘
#          │ veth (eth0)  │ veth (net1, optional)
#   ┌──────┴──────────────┴──── launcher pod: netns rl3f2ap1, "virt-launcher-<vmi>-<5 chars>" ──────┐
#   │ eth0-nic ─ k6t-eth0 (169.254.75.10/32, dnsmasq: pod IP, router, routes, MTU → VM MAC) ─ tap0 ┐│
#   │ net1-nic ─ k6t-net1 (169.254.75.11/32, dnsmasq)                                       ─ tap1 ┤│
#   │ libvirtd  ($RUN/pods/<pod>/run/libvirt-sock, own host UUID)   QEMU "default_<vmi>" ──────────┘│
#   └────────────────────────────────────────────────────────────────────────────────────────────────┘
#
#  Pod subnets differ per node (10.244.1.0/24, 10.244.2.0/24): a VM that keeps node 1's address on
#  node 2 ARPs for 10.244.1.x on node 2's bridge and gets no answer — the failure is real.
#  net1 (10.245.0.0/24, static IPAM fed by the harness, like a cluster-wide IPAM) is one L2 across nodes.
#
#  Layout under $RUN (/run/relink-e2e/<id>):
#    n<N>/net.d/*.conflist  n<N>/state (relink stateDir)  n<N>/ipam  n<N>/relinkd.log
#    pods/<pod>/{node,netns,vmi,cniargs,nets,nic-<if>.env,dnsmasq-<if>.*,lv/,run/libvirt-sock,libvirtd.log,events.log}
#    vms/<vmi>/{pod,spec,domain.xml,console.log,console.ts}   mig/  pids
#
#  Knobs (environment): RL_GUEST_DIR (vmlinuz + initrd.img, default $RL_ROOT/.cache/guest),
#  RL_RUN_BASE (default /run/relink-e2e), RL_KEEP=1 (keep $RUN after cleanup), RL_QUIET=1,
#  RL_SAY_PREFIX (prefix of progress lines on stderr, default "cluster: "),
#  RL_RELINK=0 (chain without bin/relink: harness bring-up only).
#
#  Functions print diagnostics on stderr and return non-zero on failure; nothing sleeps except inside
#  bounded poll loops (rl_wait).

RL_ROOT=${RL_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
RL_GUEST_DIR=${RL_GUEST_DIR:-$RL_ROOT/.cache/guest}
RL_RUN_BASE=${RL_RUN_BASE:-/run/relink-e2e}
RL_CNITOOL=${RL_CNITOOL:-$RL_ROOT/.tools/bin/cnitool}
RL_CNI_PATH=${RL_CNI_PATH:-$RL_ROOT/bin:/usr/lib/cni}
RL_RELINKD=${RL_RELINKD:-$RL_ROOT/bin/relinkd}
RL_RELINK=${RL_RELINK:-1}
RL_NS=default                     # Kubernetes namespace of every VMI

# ---------------------------------------------------------------- small helpers

rl_say() { [ "${RL_QUIET:-0}" = 1 ] || printf '%s%s\n' "${RL_SAY_PREFIX-cluster: }" "$*" >&2; }
rl_err() { printf 'cluster: %s\n' "$*" >&2; }
rl_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }   # wall clock, ms

# rl_wait TIMEOUT_S CMD... — run CMD every 0.1 s until it succeeds; 1 on timeout.
rl_wait() {
	local deadline=$(($(rl_ms) + $1 * 1000))
	shift
	until "$@"; do
		[ "$(rl_ms)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

rl_rand() { tr -dc "${2:-a-z0-9}" </dev/urandom | head -c "$1"; }
rl_uuid() { cat /proc/sys/kernel/random/uuid; }
rl_mac() { local b; read -ra b < <(od -An -N5 -tx1 /dev/urandom); printf '02:%s:%s:%s:%s:%s\n' "${b[@]}"; }   # locally administered

# shellcheck disable=SC2086 # splitting on dots is the point
ip2int() { local IFS=.; set -- $1; echo $((($1 << 24) + ($2 << 16) + ($3 << 8) + $4)); }
int2ip() { echo "$(($1 >> 24 & 255)).$(($1 >> 16 & 255)).$(($1 >> 8 & 255)).$(($1 & 255))"; }
prefix2mask() { int2ip $(((0xffffffff << (32 - $1)) & 0xffffffff)); }
ip_network() { int2ip $(($(ip2int "$1") & $(ip2int "$(prefix2mask "$2")"))); }

# Remember a process we started (pid + something unique in its command line) so cleanup
# kills exactly it, never anything else.
rl_track() { echo "$1 $2" >>"$RUN/pids"; }
rl_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
# rl_ours PID — its command line mentions this run, or it lives in one of this run's netns
# (QEMU gets its files as fds from libvirtd, so its command line names nothing of ours).
rl_ours() {
	local ino
	[ -r "/proc/$1/cmdline" ] || return 1
	{ tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -F -- "$RL_ID" >/dev/null && return 0
	ino=$(stat -L -c %i "/proc/$1/ns/net" 2>/dev/null) || return 1
	grep -qx -- "$ino" "$RUN/netns.inodes" 2>/dev/null
}
# rl_kill PID [SIGNAL] — only a process of this run (see rl_ours).
rl_kill() {
	local pid=$1 sig=${2:-TERM}
	rl_ours "$pid" || return 0
	# A process we started with setsid leads its own group: signal the group (pipelines included).
	if [ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ]; then
		kill -"$sig" -- -"$pid" 2>/dev/null || true
	else
		kill -"$sig" "$pid" 2>/dev/null || true
	fi
}
# rl_all_gone PID... — none of them is a live process of this run.
rl_all_gone() {
	local pid
	for pid; do
		rl_alive "$pid" && rl_ours "$pid" && return 1
	done
	return 0
}
# rl_stop PID — TERM, wait up to 5 s, then KILL.
rl_stop() {
	local pid=$1
	rl_alive "$pid" || return 0
	rl_kill "$pid" TERM
	rl_wait 5 eval "! kill -0 $pid 2>/dev/null" || rl_kill "$pid" KILL
	rl_wait 2 eval "! kill -0 $pid 2>/dev/null" || true
}

# ---------------------------------------------------------------- cluster

# cluster_init — pick a unique run id, create $RUN, install the cleanup trap.
cluster_init() {
	[ "$(id -u)" = 0 ] || { rl_err "must run as root"; return 1; }
	local id
	while :; do
		id=rl$(rl_rand 4 0-9a-f)
		[ -e "/run/netns/${id}n1" ] || [ -e "$RL_RUN_BASE/$id" ] || break
	done
	RL_ID=$id
	RUN=$RL_RUN_BASE/$RL_ID
	mkdir -p "$RUN/pods" "$RUN/vms" "$RUN/mig"
	: >"$RUN/pids"
	echo 10 >"$RUN/net1.next"
	RL_CLEANED=0
	trap 'cluster_cleanup' EXIT
	trap 'rl_say "interrupted: cleaning up"; cluster_cleanup; trap - INT; kill -INT $$' INT
	trap 'cluster_cleanup; exit 143' TERM
	export RL_ID RUN
	rl_say "run $RL_ID in $RUN"
}

# cluster_check — build the guest if needed (cached), report missing prerequisites.
cluster_check() {
	local missing=() f
	if [ "$RL_GUEST_DIR" = "$RL_ROOT/.cache/guest" ] && [ -x "$RL_ROOT/guest/build.sh" ]; then
		"$RL_ROOT/guest/build.sh" >/dev/null || { rl_err "guest/build.sh failed"; return 1; }
	fi
	for f in "$RL_CNITOOL" /usr/lib/cni/bridge /usr/lib/cni/static /usr/lib/cni/tuning /usr/lib/cni/host-local \
		/usr/sbin/libvirtd /usr/bin/virsh /usr/sbin/dnsmasq /usr/bin/qemu-system-x86_64; do
		[ -x "$f" ] || missing+=("$f")
	done
	[ "$RL_RELINK" = 0 ] || [ -x "$RL_ROOT/bin/relink" ] || missing+=("$RL_ROOT/bin/relink")
	[ -r "$RL_GUEST_DIR/vmlinuz" ] || missing+=("$RL_GUEST_DIR/vmlinuz")
	[ -r "$RL_GUEST_DIR/initrd.img" ] || missing+=("$RL_GUEST_DIR/initrd.img")
	[ ${#missing[@]} -eq 0 ] && return 0
	rl_err "missing: ${missing[*]}"
	return 1
}

node_ns() { echo "${RL_ID}n$1"; }

# node_create N — netns rl<id>n<N>, pod subnet 10.244.N.0/24, net1 bridge br1, CNI conflists.
node_create() {
	local n=$1 ns dir relink=""
	ns=$(node_ns "$n")
	dir=$RUN/n$n
	mkdir -p "$dir/net.d" "$dir/state" "$dir/ipam"
	ip netns add "$ns" || return 1
	stat -L -c %i "/run/netns/$ns" >>"$RUN/netns.inodes"
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
	ip -n "$ns" link add br1 type bridge
	ip -n "$ns" link set br1 up
	[ "$RL_RELINK" = 0 ] || relink=',
    { "type": "relink", "stateDir": "'"$dir/state"'" }'
	# Default network: bridge + host-local, tuning (pins a MAC when CAP_ARGS asks), relink.
	cat >"$dir/net.d/10-podnet.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "podnet",
  "plugins": [
    { "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false,
      "ipam": { "type": "host-local", "dataDir": "$dir/ipam",
                "ranges": [[ { "subnet": "10.244.$n.0/24", "rangeStart": "10.244.$n.10",
                               "rangeEnd": "10.244.$n.250", "gateway": "10.244.$n.1" } ]],
                "routes": [ { "dst": "0.0.0.0/0" } ] } },
    { "type": "tuning", "capabilities": { "mac": true } }$relink
  ]
}
EOF
	# Secondary network (multus-style, CNI_IFNAME=net1): L2 across nodes, static IPAM fed by the harness.
	cat >"$dir/net.d/20-net1.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "net1",
  "plugins": [
    { "type": "bridge", "bridge": "br1", "isGateway": false, "ipMasq": false,
      "capabilities": { "ips": true }, "ipam": { "type": "static" } },
    { "type": "tuning", "capabilities": { "mac": true } }$relink
  ]
}
EOF
	rl_say "node $n = netns $ns, pods 10.244.$n.0/24"
}

# node_link A B — routed veth between the nodes (pod subnets) + L2 veth between their br1 (net1).
node_link() {
	local a b
	a=$(node_ns "$1")
	b=$(node_ns "$2")
	ip -n "$a" link add up0 type veth peer name up0 netns "$b" || return 1
	ip -n "$a" addr add 10.243.0.1/30 dev up0
	ip -n "$b" addr add 10.243.0.2/30 dev up0
	ip -n "$a" link set up0 up
	ip -n "$b" link set up0 up
	ip -n "$a" route add "10.244.$2.0/24" via 10.243.0.2
	ip -n "$b" route add "10.244.$1.0/24" via 10.243.0.1
	ip -n "$a" link add l2 type veth peer name l2 netns "$b"
	ip -n "$a" link set l2 master br1 up
	ip -n "$b" link set l2 master br1 up
}

cluster_up() {
	node_create 1 && node_create 2 && node_link 1 2
}

# ---------------------------------------------------------------- pods

pod_dir() { echo "$RUN/pods/$1"; }
pod_get() { cat "$RUN/pods/$1/$2" 2>/dev/null; }   # pod_get POD KEY
vm_get() { cat "$RUN/vms/$1/$2" 2>/dev/null; }     # vm_get VMI KEY
vm_pod() { vm_get "$1" pod; }
vm_domain() { echo "${RL_NS}_$1"; }

# cni POD VERB NET IFNAME [CAP_ARGS] — cnitool in the pod's node netns, as multus/kubelet would.
cni() {
	local pod=$1 verb=$2 net=$3 ifname=$4 cap=${5:-} d node
	d=$(pod_dir "$pod")
	node=$(pod_get "$pod" node)
	ip netns exec "$(node_ns "$node")" env CNI_PATH="$RL_CNI_PATH" NETCONFPATH="$RUN/n$node/net.d" \
		CNI_IFNAME="$ifname" CNI_ARGS="$(pod_get "$pod" cniargs)" ${cap:+CAP_ARGS="$cap"} \
		"$RL_CNITOOL" "$verb" "$net" "/run/netns/$(pod_get "$pod" netns)"
}

# pod_create NODE VMI [--mac MAC] [--net1] [--net1-ip A.B.C.D] [--net1-mac MAC]
#   Creates launcher pod "virt-launcher-<vmi>-<5>" on NODE and prints its name. Options form the VMI's
#   spec: --mac pins the eth0 MAC (tuning), --net1 adds the secondary network; --net1-ip keeps that
#   address (otherwise a fresh one per pod, like a cluster-wide IPAM); --net1-mac pins net1's MAC.
pod_create() {
	local node=$1 vmi=$2 mac="" net1=0 net1_ip="" net1_mac="" pod d pns n cid
	shift 2
	while [ $# -gt 0 ]; do
		case $1 in
		--mac) mac=$2; shift ;;
		--net1) net1=1 ;;
		--net1-ip) net1=1; net1_ip=$2; shift ;;
		--net1-mac) net1=1; net1_mac=$2; shift ;;
		*) rl_err "pod_create: unknown option '$1'"; return 1 ;;
		esac
		shift
	done
	pod=virt-launcher-$vmi-$(rl_rand 5 bcdfghjklmnpqrstvwxz2456789)
	d=$(pod_dir "$pod")
	mkdir -p "$d"
	n=$(find "$RUN/pods" -mindepth 1 -maxdepth 1 | wc -l)
	pns=${RL_ID}p$n
	while [ -e "/run/netns/$pns" ]; do n=$((n + 1)); pns=${RL_ID}p$n; done
	ip netns add "$pns" || return 1
	stat -L -c %i "/run/netns/$pns" >>"$RUN/netns.inodes"
	ip -n "$pns" link set lo up
	echo "$node" >"$d/node"
	echo "$pns" >"$d/netns"
	echo "$vmi" >"$d/vmi"
	cid=$(rl_rand 64 0-9a-f)
	echo "IgnoreUnknown=true;K8S_POD_NAMESPACE=$RL_NS;K8S_POD_NAME=$pod;K8S_POD_INFRA_CONTAINER_ID=$cid;K8S_POD_UID=$(rl_uuid)" >"$d/cniargs"
	: >"$d/nets"
	if ! cni "$pod" add podnet eth0 ${mac:+"{\"mac\":\"$mac\"}"} >"$d/cni-eth0.json" 2>"$d/cni-eth0.err"; then
		rl_err "CNI ADD podnet/eth0 for $pod failed: $(cat "$d/cni-eth0.json" "$d/cni-eth0.err")"
		return 1
	fi
	echo "podnet eth0" >>"$d/nets"
	if [ "$net1" = 1 ]; then
		if [ -z "$net1_ip" ]; then
			n=$(cat "$RUN/net1.next")
			echo $((n + 1)) >"$RUN/net1.next"
			net1_ip=10.245.0.$n
		fi
		if ! cni "$pod" add net1 net1 "{\"ips\":[\"$net1_ip/24\"]${net1_mac:+,\"mac\":\"$net1_mac\"}}" \
			>"$d/cni-net1.json" 2>"$d/cni-net1.err"; then
			rl_err "CNI ADD net1/net1 for $pod failed: $(cat "$d/cni-net1.json" "$d/cni-net1.err")"
			return 1
		fi
		echo "net1 net1" >>"$d/nets"
	fi
	rl_say "pod $pod (netns $pns) on node $node: eth0 $(pod_addr "$pod" eth0)${net1_ip:+, net1 $net1_ip}"
	echo "$pod"
}

# pod_cid POD — cnitool's container ID: "cnitool-" + 20 hex of sha512(netns path).
pod_cid() { printf 'cnitool-%s\n' "$(printf '%s' "/run/netns/$(pod_get "$1" netns)" | sha512sum | cut -c1-20)"; }
# pod_record POD NET IFNAME — path of relink's record for that attachment (node's state dir).
pod_record() { echo "$RUN/n$(pod_get "$1" node)/state/$2/$(pod_cid "$1")@$3.json"; }

# pod_addr POD IFACE — the IPv4 CIDR CNI gave IFACE (from the ADD result).
pod_addr() {
	jq -r --arg i "$2" '. as $r | [range(0; $r.interfaces | length) | select($r.interfaces[.].name == $i
		and ($r.interfaces[.].sandbox // "") != "")] as $idx | [$r.ips[] | select(.interface == $idx[0])][0].address // empty' \
		"$(pod_dir "$1")/cni-$2.json"
}
pod_ip() { local a; a=$(pod_addr "$1" "$2"); echo "${a%/*}"; }
# pod_mac POD IFACE — the MAC CNI gave the pod interface (what the VM should carry).
pod_mac() {
	jq -r --arg i "$2" '[.interfaces[] | select(.name == $i and (.sandbox // "") != "")][0].mac // empty' \
		"$(pod_dir "$1")/cni-$2.json"
}

# ---------------------------------------------------------------- launcher (KubeVirt bridge binding)

# launcher_setup POD — per NIC: bridge k6t-<if>, <if> renamed <if>-nic (random MAC) and enslaved,
# tap<i> enslaved, pod IP removed and served to the VM's MAC by dnsmasq on the bridge.
launcher_setup() {
	local pod=$1 d pns idx=0 net ifname
	d=$(pod_dir "$pod")
	pns=$(pod_get "$pod" netns)
	while read -r net ifname; do
		launcher_nic "$pod" "$ifname" "$idx" || return 1
		idx=$((idx + 1))
	done <"$d/nets"
}

launcher_nic() {
	local pod=$1 ifname=$2 idx=$3 d pns mac mtu cidr ip prefix gw routes br nic tap ll net conf opt
	d=$(pod_dir "$pod")
	pns=$(pod_get "$pod" netns)
	br=k6t-$ifname nic=$ifname-nic tap=tap$idx ll=169.254.75.1$idx
	mac=$(ip -n "$pns" -j link show dev "$ifname" | jq -r '.[0].address')
	mtu=$(ip -n "$pns" -j link show dev "$ifname" | jq -r '.[0].mtu')
	cidr=$(ip -n "$pns" -j -4 addr show dev "$ifname" | jq -r '.[0].addr_info[0] | "\(.local)/\(.prefixlen)"')
	gw=$(ip -n "$pns" -j -4 route show default dev "$ifname" | jq -r '.[0].gateway // empty')
	# Option 121 like KubeVirt: every pod route with a gateway, the default route last.
	routes=$(ip -n "$pns" -j -4 route show dev "$ifname" | jq -r '[.[] | select(.gateway)
		| [(if .dst == "default" then "0.0.0.0/0" else .dst end), .gateway]]
		| sort_by(.[0] == "0.0.0.0/0") | map(join(",")) | join(",")')
	ip=${cidr%/*} prefix=${cidr#*/}
	net=$(ip_network "$ip" "$prefix")
	cat >"$d/nic-$ifname.env" <<EOF
IFNAME=$ifname
MAC=$mac
MTU=$mtu
IP=$ip
PREFIX=$prefix
GW=$gw
TAP=$tap
BRIDGE=$br
EOF
	if ! {
		ip -n "$pns" link set "$ifname" down &&
			ip -n "$pns" addr flush dev "$ifname" &&
			ip -n "$pns" link set "$ifname" name "$nic" &&
			ip -n "$pns" link set "$nic" address "$(rl_mac)" &&
			ip -n "$pns" link add "$br" mtu "$mtu" type bridge &&
			ip -n "$pns" link set "$nic" master "$br" &&
			ip -n "$pns" tuntap add dev "$tap" mode tap &&
			ip -n "$pns" link set "$tap" mtu "$mtu" master "$br" &&
			ip -n "$pns" addr add "$ll/32" dev "$br" &&
			ip -n "$pns" link set "$br" up &&
			ip -n "$pns" link set "$nic" up &&
			ip -n "$pns" link set "$tap" up
	}; then
		rl_err "launcher_setup $pod/$ifname failed"
		return 1
	fi
	opt=${gw:+dhcp-option=option:router,$gw}
	opt=${opt:-dhcp-option=3}   # no gateway: send no router option at all (not dnsmasq's own address)
	[ -z "$routes" ] || opt+=$'\n'"dhcp-option=option:classless-static-route,$routes"
	conf=$d/dnsmasq-$ifname.conf
	cat >"$conf" <<EOF
# $RL_ID $pod $ifname: KubeVirt bridge-binding DHCP: answers only the VM's MAC with the pod's address,
# router, classless routes and MTU, infinite lease. (dhcp-authoritative: a wrong requested address is NAKed.)
port=0
interface=$br
bind-interfaces
except-interface=lo
dhcp-authoritative
dhcp-range=$net,static,$(prefix2mask "$prefix"),infinite
shared-network=$br,$net
dhcp-host=$mac,$ip,infinite
# Other pods' broadcasts cross the node bridge: ignore every MAC but the VM's (never NAK them).
dhcp-ignore=tag:!known
$opt
dhcp-option=option:mtu,$mtu
dhcp-leasefile=$d/dnsmasq-$ifname.leases
pid-file=$d/dnsmasq-$ifname.pid
user=root
group=root
no-resolv
no-hosts
log-dhcp
EOF
	setsid ip netns exec "$pns" dnsmasq --keep-in-foreground --conf-file="$conf" --log-facility=- \
		</dev/null >"$d/dnsmasq-$ifname.log" 2>&1 &
	echo $! >"$d/dnsmasq-$ifname.pidt"
	rl_track $! "dnsmasq $pod $ifname"
	disown $!
	rl_wait 10 test -s "$d/dnsmasq-$ifname.pid" || { rl_err "dnsmasq for $pod/$ifname did not start: $(cat "$d/dnsmasq-$ifname.log")"; return 1; }
}

# ---------------------------------------------------------------- libvirtd per pod

pod_uri() { echo "qemu+unix:///system?socket=$(pod_dir "$1")/run/libvirt-sock"; }
pod_virsh() { local p=$1; shift; virsh -q -c "$(pod_uri "$p")" "$@"; }

rl_host_prepare() {
	local d
	for d in /etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt; do
		[ -d "$d" ] || mkdir -p "$d"
	done
	# libvirt's QEMU driver wants this user even with user = "root".
	id libvirt-qemu >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin libvirt-qemu
}

# libvirtd_start POD — one system-mode libvirtd inside the pod netns with per-pod dirs bind-mounted
# over /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/log/libvirt (private mount ns of ip netns exec).
libvirtd_start() {
	local pod=$1 d lv pns uuid
	d=$(pod_dir "$pod")
	lv=$d/lv
	pns=$(pod_get "$pod" netns)
	rl_host_prepare
	mkdir -p "$lv/etc" "$lv/run" "$lv/lib" "$lv/log" "$d/run"
	if [ ! -e "$lv/etc/libvirtd.conf" ]; then
		uuid=$(rl_uuid)
		cat >"$lv/etc/libvirtd.conf" <<EOF
# $RL_ID $pod
unix_sock_dir = "$d/run"
auth_unix_rw = "none"
auth_unix_ro = "none"
host_uuid = "$uuid"
log_outputs = "3:stderr"
EOF
		cat >"$lv/etc/qemu.conf" <<EOF
stdio_handler = "file"
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
EOF
	fi
	setsid ip netns exec "$pns" sh -c '
		mount --bind "$1/etc" /etc/libvirt &&
		mount --bind "$1/run" /run/libvirt &&
		mount --bind "$1/lib" /var/lib/libvirt &&
		mount --bind "$1/log" /var/log/libvirt &&
		exec libvirtd -f /etc/libvirt/libvirtd.conf -p "$2"' sh "$lv" "$d/libvirtd.pid" \
		</dev/null >>"$d/libvirtd.log" 2>&1 &
	echo $! >"$d/libvirtd.pidt"
	rl_track $! "libvirtd $pod"
	disown $!
	if ! rl_wait 60 eval "pod_virsh $pod version >/dev/null 2>&1"; then
		rl_err "libvirtd for $pod did not come up: $(tail -5 "$d/libvirtd.log")"
		return 1
	fi
	events_start "$pod"
}

libvirtd_pid() { cat "$(pod_dir "$1")/libvirtd.pidt" 2>/dev/null; }

# libvirtd_stop POD [SIGNAL] — stop the pod's libvirtd (domains keep running: QEMU is daemonized).
libvirtd_stop() {
	local pid
	pid=$(libvirtd_pid "$1")
	[ -n "$pid" ] || return 0
	if [ "${2:-TERM}" = TERM ]; then rl_stop "$pid"; else rl_kill "$pid" "$2"; rl_wait 5 eval "! kill -0 $pid 2>/dev/null"; fi
	rl_stop "$(cat "$(pod_dir "$1")/events.pidt" 2>/dev/null)"
}

libvirtd_restart() {
	libvirtd_stop "$1" && libvirtd_start "$1"
}

# events_start POD — `virsh event` on the pod's libvirtd, host-timestamped lines in events.log.
events_start() {
	local pod=$1 d
	d=$(pod_dir "$pod")
	setsid bash -c 'virsh -q -c "$1" event --all --loop 2>/dev/null |
		while IFS= read -r l; do printf "%s %s\n" "${EPOCHREALTIME/./}" "$l"; done' sh "$(pod_uri "$pod")" \
		</dev/null >>"$d/events.log" 2>&1 &
	echo $! >"$d/events.pidt"
	rl_track $! "events $pod"
	disown $!
}

# pod_event_us POD REGEX — host time (µs) of the first matching libvirt event line, empty if none.
pod_event_us() {
	grep -E -- "$2" "$(pod_dir "$1")/events.log" 2>/dev/null | head -1 | cut -d' ' -f1
}

# ---------------------------------------------------------------- VMs

# vm_start POD VMI [--stack networkd|nm|ifupdown] [--ping IP] [--cmdline "extra"]
#   Transient domain "default_<vmi>": TCG, pc, qemu64, 128 MiB, direct kernel boot of the test guest,
#   serial console appended to $RUN/vms/<vmi>/console.log (one log across migrations),
#   one virtio NIC per pod network on the launcher's taps, with the pod interface's MAC.
vm_start() {
	local pod=$1 vmi=$2 stack=networkd ping="" extra="" v d dom net ifname
	shift 2
	while [ $# -gt 0 ]; do
		case $1 in
		--stack) stack=$2; shift ;;
		--ping) ping=$2; shift ;;
		--cmdline) extra=$2; shift ;;
		*) rl_err "vm_start: unknown option '$1'"; return 1 ;;
		esac
		shift
	done
	v=$RUN/vms/$vmi
	d=$(pod_dir "$pod")
	dom=$(vm_domain "$vmi")
	mkdir -p "$v"
	while read -r net ifname; do
		(
			# shellcheck disable=SC1090
			. "$d/nic-$ifname.env"
			printf "    <interface type='ethernet'>\n      <mac address='%s'/>\n      <target dev='%s' managed='no'/>\n      <model type='virtio'/>\n    </interface>\n" "$MAC" "$TAP"
		)
	done <"$d/nets" >"$v/nics.xml"
	cat >"$v/domain.xml" <<EOF
<domain type='qemu'>
  <name>$dom</name>
  <uuid>$(rl_uuid)</uuid>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$RL_GUEST_DIR/vmlinuz</kernel>
    <initrd>$RL_GUEST_DIR/initrd.img</initrd>
    <cmdline>console=ttyS0 net.ifnames=0 relink.stack=$stack${ping:+ relink.ping=$ping}${extra:+ $extra}</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='custom' match='exact' check='none'><model fallback='forbid'>qemu64</model></cpu>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
$(cat "$v/nics.xml")
    <serial type='file'>
      <source path='$v/console.log' append='on'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
	echo "$pod" >"$v/pod"
	: >>"$v/console.log"
	console_ts_start "$vmi"
	if ! pod_virsh "$pod" create "$v/domain.xml" >/dev/null; then
		rl_err "virsh create $dom in $pod failed"
		return 1
	fi
	vm_track_qemu "$vmi"
	rl_say "VM $dom started in $pod (stack $stack${ping:+, pings $ping})"
}

vm_track_qemu() {
	local pod pid
	pod=$(vm_pod "$1")
	pid=$(cat "$(pod_dir "$pod")/lv/run/qemu/$(vm_domain "$1").pid" 2>/dev/null) || return 0
	rl_track "$pid" "qemu $1 $pod"
}

# console_ts_start VMI — copy the console with a host timestamp (µs) per line into console.ts.
console_ts_start() {
	local v=$RUN/vms/$1
	setsid bash -c 'tail -n +1 -F "$1" 2>/dev/null | while IFS= read -r l; do
		printf "%s %s\n" "${EPOCHREALTIME/./}" "${l%$'"'\r'"'}"; done' sh "$v/console.log" \
		</dev/null >>"$v/console.ts" 2>&1 &
	echo $! >"$v/console.pidt"
	rl_track $! "console $1"
	disown $!
}

# vm_log_mark VMI — number of console lines so far (use as FROM in vm_wait_log / vm_log_since).
vm_log_mark() { local n; n=$(grep -c '' "$RUN/vms/$1/console.log" 2>/dev/null); echo "${n:-0}"; }

# vm_log_since VMI FROM — complete RELINK console lines after line FROM (CRs stripped). The emulated
# UART writes byte by byte, so a line without its newline yet is left out.
vm_log_since() {
	local c
	c=$(tail -n +"$(($2 + 1))" "$RUN/vms/$1/console.log" 2>/dev/null; echo .)
	c=${c%.}
	if [[ $c != *$'\n'* ]]; then
		c=""
	elif [[ $c != *$'\n' ]]; then
		c=${c%$'\n'*}$'\n'
	fi
	printf '%s' "$c" | tr -d '\r' | grep -a '^RELINK ' || true
}

# vm_wait_log VMI FROM ERE TIMEOUT_S — wait for a RELINK console line matching ERE after line FROM;
# prints it. 1 on timeout.
vm_wait_log() {
	local vmi=$1 from=$2 re=$3 t=$4
	rl_wait "$t" eval 'vm_log_since "$vmi" "$from" | grep -E -- "$re" >/dev/null' || return 1
	vm_log_since "$vmi" "$from" | grep -E -- "$re" | head -1
}

# vm_lease_ip VMI [DEV] — the address of the guest's latest lease on DEV (default eth0), CIDR form.
vm_lease_ip() {
	vm_log_since "$1" 0 | grep -E " lease dev=${2:-eth0} " | tail -1 | sed -n 's/.* ip=\([^ ]*\).*/\1/p'
}

# vm_console_us VMI FROM ERE — host time (µs) the first matching console line (after line FROM) appeared.
vm_console_us() {
	local n
	n=$(vm_log_since "$1" "$2" | grep -E -- "$3" | head -1)
	[ -n "$n" ] || return 1
	grep -aF -- "$n" "$RUN/vms/$1/console.ts" | tail -1 | cut -d' ' -f1
}

vm_destroy() {
	local pod
	pod=$(vm_pod "$1")
	pod_virsh "$pod" destroy "$(vm_domain "$1")" >/dev/null 2>&1 || true
}

# ---------------------------------------------------------------- migration

# vm_spec VMI — the pod_create options the VMI was created with (a migration target gets the same).
vm_spec() { vm_get "$1" spec; }

# vm_create NODE VMI [pod_create options] [-- vm_start options] — pod + launcher + libvirtd + VM.
vm_create() {
	local node=$1 vmi=$2 popts=() vopts=() pod
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do popts+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	vopts=("$@")
	mkdir -p "$RUN/vms/$vmi"
	printf '%s\n' "${popts[@]}" >"$RUN/vms/$vmi/spec"
	pod=$(pod_create "$node" "$vmi" "${popts[@]}") || return 1
	launcher_setup "$pod" || return 1
	libvirtd_start "$pod" || return 1
	vm_start "$pod" "$vmi" "${vopts[@]}" || return 1
}

# migrate VMI NODE — KubeVirt's live migration: migrate_prepare + migrate_run.
migrate() {
	migrate_prepare "$1" "$2" && migrate_run "$1"
}

# migrate_prepare VMI NODE — the target launcher pod on NODE from the VMI's spec (CNI ADD → relink
# records it; net1 keeps its address only when the spec pins it), bridge binding, libvirtd.
# Sets MIG_POD.
migrate_prepare() {
	local vmi=$1 node=$2 spec=() tgt
	mapfile -t spec < <(vm_spec "$vmi" | grep -v '^$')
	tgt=$(pod_create "$node" "$vmi" "${spec[@]}") || return 1
	launcher_setup "$tgt" || return 1
	libvirtd_start "$tgt" || return 1
	MIG_POD=$tgt
}

# migrate_run VMI — `virsh migrate --live` to MIG_POD over UNIX sockets (daemons and migration stream),
# then the source pod is torn down (CNI DEL). Sets MIG_MS (virsh migrate wall time, ms) and
# MIG_RESUMED_US (host time of the target's RESUMED/Migrated event, µs).
migrate_run() {
	local vmi=$1 src tgt=$MIG_POD t0 sock
	src=$(vm_pod "$vmi")
	sock=$RUN/mig/$vmi-$(rl_rand 4 0-9a-f).sock
	rl_say "migrating $(vm_domain "$vmi"): $src (node $(pod_get "$src" node)) → $tgt (node $(pod_get "$tgt" node))"
	t0=$(rl_ms)
	if ! pod_virsh "$src" migrate --live "$(vm_domain "$vmi")" "$(pod_uri "$tgt")" --migrateuri "unix://$sock" \
		>"$RUN/vms/$vmi/migrate.out" 2>&1; then
		rl_err "virsh migrate failed: $(cat "$RUN/vms/$vmi/migrate.out")"
		return 1
	fi
	MIG_MS=$(($(rl_ms) - t0))
	export MIG_MS MIG_POD
	echo "$tgt" >"$RUN/vms/$vmi/pod"
	vm_track_qemu "$vmi"
	rl_wait 5 eval '[ -n "$(pod_event_us "$tgt" "Resumed Migrated")" ]' || true
	MIG_RESUMED_US=$(pod_event_us "$tgt" "Resumed Migrated")
	export MIG_RESUMED_US
	rl_say "migrated in ${MIG_MS} ms; tearing down source pod $src"
	pod_delete "$src"
}

# pod_delete POD — stop its daemons (and any QEMU left), CNI DEL every network, delete the netns.
pod_delete() {
	local pod=$1 d net ifname f pid
	d=$(pod_dir "$pod")
	[ -e "$d/deleted" ] && return 0
	for f in "$d"/lv/run/qemu/*.pid; do
		[ -e "$f" ] && rl_stop "$(cat "$f")"
	done
	for f in "$d"/*.pidt; do
		[ -e "$f" ] && rl_stop "$(cat "$f")"
	done
	if [ -e "$d/nets" ]; then
		tac "$d/nets" | while read -r net ifname; do
			cni "$pod" del "$net" "$ifname" >"$d/cni-del-$ifname.out" 2>&1 ||
				rl_err "CNI DEL $net/$ifname for $pod failed: $(cat "$d/cni-del-$ifname.out")"
		done
	fi
	pid=$(pod_get "$pod" netns)
	[ -n "$pid" ] && ip netns del "$pid" 2>/dev/null
	touch "$d/deleted"
}

# ---------------------------------------------------------------- relinkd

# relinkd_start NODE [extra relinkd options] — relinkd in the node netns (hostNetwork DaemonSet), watching
# every launcher socket of this run; it ignores other nodes' pods (no record in its state dir).
relinkd_start() {
	local n=$1 dir
	shift
	dir=$RUN/n$n
	setsid ip netns exec "$(node_ns "$n")" "$RL_RELINKD" --state-dir "$dir/state" \
		--watch "$RUN/pods/*/run/libvirt-sock" --metrics-file "$dir/relinkd.prom" --log-level debug "$@" \
		</dev/null >>"$dir/relinkd.log" 2>&1 &
	echo $! >"$dir/relinkd.pidt"
	rl_track $! "relinkd $n"
	disown $!
	rl_say "relinkd on node $n (pid $!), log $dir/relinkd.log"
}

# relinkd_stop NODE [SIGNAL] — TERM (clean, waits) or e.g. KILL.
relinkd_stop() {
	local pid
	pid=$(cat "$RUN/n$1/relinkd.pidt" 2>/dev/null) || return 0
	if [ "${2:-TERM}" = TERM ]; then
		rl_stop "$pid"
	else
		rl_kill "$pid" "$2"
		rl_wait 5 eval "! kill -0 $pid 2>/dev/null"
	fi
}

relinkd_log() { cat "$RUN/n$1/relinkd.log" 2>/dev/null; }

# relinkd_wait NODE ERE TIMEOUT_S [FROM_LINE] — wait for a relinkd log line; prints it.
relinkd_wait() {
	local n=$1 re=$2 t=$3 from=${4:-0}
	rl_wait "$t" eval 'tail -n +$((from + 1)) "$RUN/n$n/relinkd.log" 2>/dev/null | grep -E -- "$re" >/dev/null' || return 1
	tail -n +$((from + 1)) "$RUN/n$n/relinkd.log" | grep -E -- "$re" | head -1
}
relinkd_mark() { local n; n=$(grep -c '' "$RUN/n$1/relinkd.log" 2>/dev/null); echo "${n:-0}"; }

# ---------------------------------------------------------------- cleanup

# cluster_cleanup — destroy domains, stop every process we started (by PID), CNI DEL, delete every
# netns of this run, remove CNI result caches and $RUN. Idempotent; verifies nothing is left.
cluster_cleanup() {
	[ -n "${RUN:-}" ] && [ "${RL_CLEANED:-1}" = 0 ] || return 0
	RL_CLEANED=1
	trap '' INT TERM        # a second Ctrl-C must not cut the cleanup short (every step is bounded)
	local pod p ns left pid rest f pids=()
	set +e
	for p in "$RUN"/pods/*; do
		[ -d "$p" ] || continue
		pod=${p##*/}
		[ -e "$p/deleted" ] && continue
		for f in "$p"/lv/run/qemu/*.pid; do
			[ -e "$f" ] && pod_virsh "$pod" destroy "$(basename "$f" .pid)" >/dev/null 2>&1
		done
	done
	# relinkd first (it would react to the teardown), then everything else we started, all at once.
	for f in "$RUN"/n*/relinkd.pidt; do [ -e "$f" ] && rl_stop "$(cat "$f")"; done
	while read -r pid rest; do
		rl_alive "$pid" && rl_ours "$pid" && { rl_kill "$pid" TERM; pids+=("$pid"); }
	done <"$RUN/pids"
	rl_wait 5 rl_all_gone "${pids[@]}" || for pid in "${pids[@]}"; do rl_kill "$pid" KILL; done
	for p in "$RUN"/pods/*; do
		[ -d "$p" ] && pod_delete "${p##*/}"
	done
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${RL_ID}"); do
		ip netns del "$ns"
	done
	for p in "$RUN"/pods/*; do
		[ -d "$p" ] || continue
		# cnitool's container ID is "cnitool-" + 20 hex of sha512(netns path); drop leftover result caches.
		[ -e "$p/netns" ] || continue
		rm -f /var/lib/cni/results/*-"$(pod_cid "${p##*/}")"-*
	done
	rm -f "$RUN"/mig/*.sock
	left=$(ip netns list 2>/dev/null | grep "^${RL_ID}")
	while read -r pid rest; do
		rl_alive "$pid" && rl_ours "$pid" && left+=" pid $pid ($rest)"
	done <"$RUN/pids"
	[ -z "$left" ] || rl_err "cleanup: left behind: $left"
	if [ "${RL_KEEP:-0}" = 1 ]; then
		rl_say "kept $RUN"
	else
		rm -rf "$RUN"
		rmdir "$RL_RUN_BASE" 2>/dev/null
	fi
	rl_say "run $RL_ID cleaned up"
	return 0
}
