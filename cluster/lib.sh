# shellcheck shell=bash
# cluster/lib.sh — cluster-in-a-box: two "nodes", KubeVirt-style launcher pods, real VMs, live migration.
#
# Source it from bash (set -u safe), then:
#   cluster_init; cluster_check   # run id, $RUN, traps → cluster_cleanup; guest built, tools present
#   cluster_up                    # node_create 1; node_create 2; node_link 1 2
#   relinkd_start 1; relinkd_start 2
#   vm_create 1 server --net1 -- --stack networkd       # = pod_create + launcher_setup + libvirtd_start + vm_start
#   vm_create 1 client --profile kubevirt-1.9 -- --stack nm --ping "$(pod_ip "$(vm_pod server)" eth0)"
#   m=$(vm_log_mark client); migrate client 2; vm_wait_log client "$m" ' ping-ok ' 20
#
# Functions (each documented where defined):
#   cluster   cluster_init cluster_check cluster_up node_create node_link cluster_cleanup
#   pods      pod_create pod_delete cni pod_addr pod_ip pod_mac pod_cid pod_record pod_get pod_ifname pod_uid
#             kv_ifname
#   launcher  launcher_setup (launcher_nic) libvirtd_start libvirtd_stop libvirtd_restart pod_virsh pod_uri
#             pod_sock pod_kubelet_sock pod_emptydir pod_qemu_own pod_qemu_pidfiles events_start pod_event_us
#   VMs       vm_create vm_start vm_destroy vm_pod vm_domain vm_spec vm_profile vm_log_mark vm_log_since
#             vm_wait_log vm_lease_ip vm_console_us vm_nic_macs
#   migration migrate = migrate_prepare (target pod, bridge binding, libvirtd) + migrate_run (virsh migrate
#             --live over UNIX sockets, CNI DEL of the source pod, then the hook rl_post_migrate if defined);
#             sets MIG_POD MIG_SRC MIG_MS MIG_RESUMED_US
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
#   │ relinkd --kubevirt --kubelet-root $RUN/n1/kubelet   │ relinkd … $RUN/n2/kubelet               │
#   └──────┬──────────────┬───────────────────┘          └─────────────────────────────────────────┘
#          │ veth (eth0)  │ veth (pod6c270ef2f25, the multus network "net1", optional)
#   ┌──────┴──────────────┴──── launcher pod: netns rl3f2ap1, "virt-launcher-<vmi>-<5 chars>" ──────────┐
#   │ eth0-nic ─ k6t-eth0 (169.254.75.10/32, kvdhcpd: pod IP, router, routes, MTU → served MAC) ─ tap0    │
#   │ 6c270ef2f25-nic ─ k6t-6c270ef2f25 (169.254.75.11/32, kvdhcpd)                ─ tap6c270ef2f25       │
#   │ libvirtd (session mode, user libvirt-qemu: KubeVirt's non-root virtqemud)  QEMU "default_<vmi>"     │
#   └──────────────────────────────────────────────────────────────────────────────────────────────────────┘
#
#  Pod subnets differ per node (10.244.1.0/24, 10.244.2.0/24): a VM that keeps node 1's address on
#  node 2 ARPs for 10.244.1.x on node 2's bridge and gets no answer — the failure is real.
#  net1 (10.245.0.0/24, static IPAM fed by the harness, like a cluster-wide IPAM) is one L2 across nodes.
#
#  Launcher (RL_LAUNCHER, default "session" = KubeVirt's default non-root launcher):
#    session  libvirtd as user libvirt-qemu, session mode (Debian 12 has no virtqemud; KubeVirt runs
#             virtqemud with XDG_RUNTIME_DIR=/var/run), started in the pod netns by `ip netns exec` (a private
#             mount namespace) where the pod's emptyDir "libvirt-runtime" is bind-mounted on /run/libvirt,
#             exactly where the compute container has it. The emptyDir itself is a plain directory at the
#             kubelet path on the "host":
#               $RUN/n<N>/kubelet/pods/<pod-uid>/volumes/kubernetes.io~empty-dir/libvirt-runtime/
#                 libvirt-sock    the daemon's socket (XDG_RUNTIME_DIR/libvirt/libvirt-sock)
#                 virtqemud-sock  hard link to it: the name KubeVirt's launcher socket has
#             so the host path of the socket is > 108 bytes (connect() on it fails with ENAMETOOLONG, as on a
#             real node); the harness itself uses the short symlink $RUN/pods/<pod>/rt → that directory
#             (pod_sock) and qemu+unix:///session?socket=… (pod_uri). Nothing is mounted in the host mount
#             namespace (the mount lives and dies with the launcher's private namespace).
#             QEMU runs as libvirt-qemu: taps are created with `user <uid>`, console logs and the migration
#             stream directory belong to that user.
#    root     system-mode libvirtd as root (KubeVirt's root launcher, qemu:///system), same emptyDir layout,
#             per-pod /etc/libvirt, /var/lib/libvirt, /var/log/libvirt bind-mounted in its mount namespace.
#
#  DHCP profile (RL_PROFILE or vm_create --profile; default kubevirt-1.8): which MAC the target launcher's
#  DHCP server serves (see launcher_nic):
#    kubevirt-1.8  the new pod's MAC (the VM has no MAC in its spec) → the VM must be re-plugged with it
#    kubevirt-1.9  the MAC the VM already has (VMI status) → keep the MAC
#    spec-mac      a fixed MAC from the VM spec (KubeMacPool-style; pods get random MACs) → keep the MAC
#  A VM created with --mac / --spec-mac / --net1-mac has a spec MAC in every profile (KubeVirt serves it).
#
#  Layout under $RUN (/run/relink-e2e/<id>):
#    n<N>/net.d/*.conflist  n<N>/state (relink stateDir)  n<N>/ipam  n<N>/relinkd.log  n<N>/kubelet/pods/<uid>/…
#    pods/<pod>/{node,netns,vmi,uid,launcher,cniargs,nets,nic-<if>.env,dhcp-<if>.* (kvdhcpd) or dnsmasq-<if>.*,rt → emptyDir,lv/,
#                libvirtd.log,events.log}   x/<pod netns>/{config,cache,home} (a session daemon's XDG dirs)
#    vms/<vmi>/{pod,spec,profile,launcher,specmac-<if>,domain.xml,console.log,console.ts}   mig/  pids
#
#  Knobs (environment): RL_GUEST_DIR (vmlinuz + initrd.img, default $RL_ROOT/.cache/guest),
#  RL_RUN_BASE (default /run/relink-e2e), RL_KEEP=1 (keep $RUN after cleanup), RL_QUIET=1,
#  RL_SAY_PREFIX (prefix of progress lines on stderr, default "cluster: "),
#  RL_RELINK=0 (chain without bin/relink: harness bring-up only), RL_LAUNCHER, RL_PROFILE (above),
#  RL_CAPS_CACHE (QEMU capabilities shared by the launchers' daemons, default /var/cache/relink-e2e).
#
#  Functions print diagnostics on stderr and return non-zero on failure; nothing sleeps except inside
#  bounded poll loops (rl_wait).

RL_ROOT=${RL_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
RL_GUEST_DIR=${RL_GUEST_DIR:-$RL_ROOT/.cache/guest}
# shellcheck source=cluster/libvirt-conf.sh
. "$RL_ROOT/cluster/libvirt-conf.sh"
RL_RUN_BASE=${RL_RUN_BASE:-/run/relink-e2e}
RL_CNITOOL=${RL_CNITOOL:-$RL_ROOT/.tools/bin/cnitool}
RL_CNI_PATH=${RL_CNI_PATH:-$RL_ROOT/bin:/usr/lib/cni}
RL_RELINKD=${RL_RELINKD:-$RL_ROOT/bin/relinkd}
RL_RELINK=${RL_RELINK:-1}
RL_NS=default                     # Kubernetes namespace of every VMI
RL_LAUNCHER=${RL_LAUNCHER:-session}
RL_PROFILE=${RL_PROFILE:-kubevirt-1.8}
# The launchers' DHCP server: kubevirt = build/tests/tools/kvdhcpd, KubeVirt's semantics (one client,
# every REQUEST ACKed with the pod's address, never a NAK); dnsmasq = the stock server (it drops an
# INIT-REBOOT REQUEST on a fresh target), kept to compare.
RL_DHCP=${RL_DHCP:-kubevirt}
RL_KVDHCPD=${RL_KVDHCPD:-$RL_ROOT/build/tests/tools/kvdhcpd}
RL_CAPS_CACHE=${RL_CAPS_CACHE:-/var/cache/relink-e2e}
RL_QEMU_USER=libvirt-qemu         # KubeVirt's launchers run as uid 107 "qemu"; Debian's QEMU user here

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
rl_gone() { ! rl_alive "${1:-}"; }
# rl_spawn NAME PIDFILE OUT CMD... — start CMD in a session of its own (setsid: rl_kill signals its whole
# group), stdin from /dev/null, stdout+stderr appended to OUT; its PID goes to PIDFILE and to $RUN/pids
# (as NAME) and into RL_SPAWNED. The shell forgets the job (cleanup stops it by PID).
rl_spawn() {
	local name=$1 pidfile=$2 out=$3
	shift 3
	setsid "$@" </dev/null >>"$out" 2>&1 &
	RL_SPAWNED=$!
	echo "$RL_SPAWNED" >"$pidfile"
	rl_track "$RL_SPAWNED" "$name"
	disown "$RL_SPAWNED"
}
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
	rl_wait 5 rl_gone "$pid" || rl_kill "$pid" KILL
	rl_wait 2 rl_gone "$pid" || true
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
	# Session launchers: the target QEMU (the QEMU user) creates the migration stream's socket here.
	rl_host_prepare
	chown "$RL_QEMU_USER:" "$RUN/mig"
	# The host's /dev/net/tun may be 0600 (it is here); KubeVirt's device plugin gives each launcher a usable
	# one. A session launcher gets this node (same device, 0666) bind-mounted on /dev/net/tun.
	mknod -m 0666 "$RUN/tun" c 10 200
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
	[ "$RL_DHCP" != kubevirt ] || [ -x "$RL_KVDHCPD" ] || missing+=("$RL_KVDHCPD (make test-bins)")
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
	mkdir -p "$dir/net.d" "$dir/state" "$dir/ipam" "$dir/kubelet/pods"
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
vm_profile() { local p; p=$(vm_get "$1" profile); echo "${p:-$RL_PROFILE}"; }

# kv_ifname NETWORK — the pod interface KubeVirt gives a secondary (multus) network: "pod" + the first 11
# hex digits of sha256(network name) (pkg/network/namescheme/networknamescheme.go,
# GenerateHashedInterfaceName; 11 = IFNAMSIZ 15 - len("-nic")). The primary network is eth0.
kv_ifname() { printf 'pod%s\n' "$(printf '%s' "$1" | sha256sum | cut -c1-11)"; }
# pod_ifname POD NAME — the pod interface for NAME, which is either a pod interface ("eth0") or a network
# name from the pod's nets ("net1" → pod6c270ef2f25).
pod_ifname() { awk -v n="$2" '$1 == n || $2 == n { print $2; exit }' "$(pod_dir "$1")/nets" 2>/dev/null; }
pod_uid() { pod_get "$1" uid; }

# cni POD VERB NET IFNAME [CAP_ARGS] — cnitool in the pod's node netns, as multus/kubelet would.
cni() {
	local pod=$1 verb=$2 net=$3 ifname=$4 cap=${5:-} d node confdir
	d=$(pod_dir "$pod")
	node=$(pod_get "$pod" node)
	confdir=$RUN/n$node/net.d
	[ -d "$d/net.d" ] && confdir=$d/net.d    # the pod's own (pod_create --relink-conf/--cni-args)
	ip netns exec "$(node_ns "$node")" env CNI_PATH="$RL_CNI_PATH" NETCONFPATH="$confdir" \
		CNI_IFNAME="$ifname" CNI_ARGS="$(pod_get "$pod" cniargs)" ${cap:+CAP_ARGS="$cap"} \
		"$RL_CNITOOL" "$verb" "$net" "/run/netns/$(pod_get "$pod" netns)"
}

# pod_create NODE VMI [--mac MAC] [--net1] [--net1-ip A.B.C.D] [--net1-mac MAC] [--relink-conf JSON]
#            [--cni-args JSON]
#   Creates launcher pod "virt-launcher-<vmi>-<5>" on NODE and prints its name. Options form the VMI's
#   spec: --mac pins the eth0 MAC (tuning), --net1 adds the secondary network; --net1-ip keeps that
#   address (otherwise a fresh one per pod, like a cluster-wide IPAM); --net1-mac pins net1's MAC.
#   --relink-conf '{"relinkPolicy":"none"}' merges keys into relink's entry of the pod's conflists (the
#   networks as an operator configured them for this VM); --cni-args '{"relinkPolicy":"flap"}' becomes
#   relink's args.cni (what multus makes of a network-selection element's cni-args).
pod_create() {
	local node=$1 vmi=$2 mac="" net1=0 net1_ip="" net1_mac="" relink_conf="" cni_args="" pod d pns n cid uid net1_if f
	shift 2
	while [ $# -gt 0 ]; do
		case $1 in
		--mac) mac=$2; shift ;;
		--relink-conf) relink_conf=$2; shift ;;
		--cni-args) cni_args=$2; shift ;;
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
	uid=$(rl_uuid)
	echo "$uid" >"$d/uid"
	case $RL_LAUNCHER in
	session | root) echo "$RL_LAUNCHER" >"$d/launcher" ;;
	*) rl_err "RL_LAUNCHER must be session or root, not '$RL_LAUNCHER'"; return 1 ;;
	esac
	pod_emptydir_create "$pod"
	echo "IgnoreUnknown=true;K8S_POD_NAMESPACE=$RL_NS;K8S_POD_NAME=$pod;K8S_POD_INFRA_CONTAINER_ID=$cid;K8S_POD_UID=$uid" >"$d/cniargs"
	if [ -n "$relink_conf$cni_args" ]; then
		mkdir -p "$d/net.d"
		for f in "$RUN/n$node/net.d"/*.conflist; do
			jq --argjson c "${relink_conf:-{\}}" --argjson a "${cni_args:-null}" \
				'.plugins |= map(if .type == "relink" then . + $c + (if $a == null then {} else {args: {cni: $a}} end) else . end)' \
				"$f" >"$d/net.d/${f##*/}" || { rl_err "pod_create: bad --relink-conf/--cni-args JSON"; return 1; }
		done
	fi
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
		net1_if=$(kv_ifname net1)
		if ! cni "$pod" add net1 "$net1_if" "{\"ips\":[\"$net1_ip/24\"]${net1_mac:+,\"mac\":\"$net1_mac\"}}" \
			>"$d/cni-$net1_if.json" 2>"$d/cni-$net1_if.err"; then
			rl_err "CNI ADD net1/$net1_if for $pod failed: $(cat "$d/cni-$net1_if.json" "$d/cni-$net1_if.err")"
			return 1
		fi
		echo "net1 $net1_if" >>"$d/nets"
	fi
	rl_say "pod $pod (netns $pns) on node $node: eth0 $(pod_addr "$pod" eth0)${net1_ip:+, net1 $net1_ip}"
	echo "$pod"
}

# pod_cid POD — cnitool's container ID: "cnitool-" + 20 hex of sha512(netns path).
pod_cid() { printf 'cnitool-%s\n' "$(printf '%s' "/run/netns/$(pod_get "$1" netns)" | sha512sum | cut -c1-20)"; }
# pod_record POD NET IFNAME — path of relink's record for that attachment (node's state dir).
pod_record() { echo "$RUN/n$(pod_get "$1" node)/state/$2/$(pod_cid "$1")@$(pod_ifname "$1" "$3").json"; }

# pod_addr POD IFACE — the IPv4 CIDR CNI gave IFACE (from the ADD result). IFACE: see pod_ifname.
pod_addr() {
	local i
	i=$(pod_ifname "$1" "$2")
	jq -r --arg i "$i" '. as $r | [range(0; $r.interfaces | length) | select($r.interfaces[.].name == $i
		and ($r.interfaces[.].sandbox // "") != "")] as $idx | [$r.ips[] | select(.interface == $idx[0])][0].address // empty' \
		"$(pod_dir "$1")/cni-$i.json"
}
pod_ip() { local a; a=$(pod_addr "$1" "$2"); echo "${a%/*}"; }
# pod_mac POD IFACE — the MAC CNI gave the pod interface (the pod's MAC; whether the VM carries it or is
# served it depends on the profile, see launcher_nic).
pod_mac() {
	local i
	i=$(pod_ifname "$1" "$2")
	jq -r --arg i "$i" '[.interfaces[] | select(.name == $i and (.sandbox // "") != "")][0].mac // empty' \
		"$(pod_dir "$1")/cni-$i.json"
}

# ---------------------------------------------------------------- launcher (KubeVirt bridge binding)

# launcher_names IFNAME — KubeVirt's in-pod names for the bridge binding of pod interface IFNAME, printed as
# "BRIDGE NIC TAP" (pkg/network/link/names.go: GenerateBridgeName = "k6t-" + the name without its "pod"
# prefix; GenerateNewBridgedVmiInterfaceName = the name without "pod" + "-nic"; GenerateTapDeviceName =
# "tap0" for the primary network, "tap" + name[3:] for a secondary one). For pod6c270ef2f25:
# k6t-6c270ef2f25, 6c270ef2f25-nic (15 bytes: IFNAMSIZ - 1), tap6c270ef2f25.
launcher_names() {
	case $1 in
	pod*) echo "k6t-${1#pod} ${1#pod}-nic tap${1#pod}" ;;
	*) echo "k6t-$1 $1-nic tap0" ;;
	esac
}

# launcher_setup POD — per NIC: bridge, pod interface renamed (random MAC) and enslaved, tap enslaved (owned
# by the QEMU user in a session launcher), pod IP removed and served on the bridge by a DHCP server with
# KubeVirt's semantics (RL_DHCP=kubevirt: tests/tools/kvdhcpd) or dnsmasq (RL_DHCP=dnsmasq).
launcher_setup() {
	local pod=$1 d idx=0 net ifname
	d=$(pod_dir "$pod")
	while read -r net ifname; do
		launcher_nic "$pod" "$ifname" "$idx" || return 1
		idx=$((idx + 1))
	done <"$d/nets"
}

# vm_nic_mac VMI IFNAME — the MAC the VM's NIC on IFNAME's tap has in its live domain now (empty when the
# VM does not run yet).
vm_nic_mac() {
	local pod tap
	pod=$(vm_pod "$1")
	[ -n "$pod" ] && [ ! -e "$(pod_dir "$pod")/deleted" ] || return 0
	read -r _ _ tap < <(launcher_names "$2")
	pod_virsh "$pod" domiflist "$(vm_domain "$1")" 2>/dev/null | awk -v t="$tap" '$1 == t { print $5 }'
}

# launcher_served_mac POD IFNAME PODMAC — the MAC the launcher's DHCP server answers. KubeVirt
# (pkg/network/setup/netpod/discoverbridge.go, resolveMacAddress): the VM spec's MAC if set; otherwise up to
# v1.8 the pod interface's own MAC (a migration target serves the *new* pod's MAC), from v1.9 the MAC in
# the VMI status, i.e. the one the VM already has.
launcher_served_mac() {
	local pod=$1 ifname=$2 podmac=$3 vmi cur
	vmi=$(pod_get "$pod" vmi)
	if [ -s "$RUN/vms/$vmi/specmac-$ifname" ]; then
		cat "$RUN/vms/$vmi/specmac-$ifname"
		return
	fi
	if [ "$(vm_profile "$vmi")" = kubevirt-1.9 ]; then
		cur=$(vm_nic_mac "$vmi" "$ifname")
		[ -n "$cur" ] && { echo "$cur"; return; }
	fi
	echo "$podmac"
}

launcher_nic() {
	local pod=$1 ifname=$2 idx=$3 d pns podmac mac mtu cidr ip prefix gw routes br nic tap ll net conf opt tapown=()
	d=$(pod_dir "$pod")
	pns=$(pod_get "$pod" netns)
	read -r br nic tap < <(launcher_names "$ifname")
	ll=169.254.75.1$idx     # KubeVirt: 169.254.75.1<iface index>/32 on the bridge (netpod.go bridgeBindingSpec)
	podmac=$(ip -n "$pns" -j link show dev "$ifname" | jq -r '.[0].address')
	mac=$(launcher_served_mac "$pod" "$ifname" "$podmac")
	mtu=$(ip -n "$pns" -j link show dev "$ifname" | jq -r '.[0].mtu')
	cidr=$(ip -n "$pns" -j -4 addr show dev "$ifname" | jq -r '.[0].addr_info[0] | "\(.local)/\(.prefixlen)"')
	gw=$(ip -n "$pns" -j -4 route show default dev "$ifname" | jq -r '.[0].gateway // empty')
	# Option 121 like KubeVirt: every pod route with a gateway, the default route last.
	routes=$(ip -n "$pns" -j -4 route show dev "$ifname" | jq -r '[.[] | select(.gateway)
		| [(if .dst == "default" then "0.0.0.0/0" else .dst end), .gateway]]
		| sort_by(.[0] == "0.0.0.0/0") | map(join(",")) | join(",")')
	ip=${cidr%/*} prefix=${cidr#*/}
	net=$(ip_network "$ip" "$prefix")
	[ "$(pod_get "$pod" launcher)" = session ] && tapown=(user "$RL_QEMU_USER" group "$RL_QEMU_USER")
	cat >"$d/nic-$ifname.env" <<EOF
IFNAME=$ifname
MAC=$mac
PODMAC=$podmac
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
			ip -n "$pns" tuntap add dev "$tap" mode tap "${tapown[@]}" &&
			ip -n "$pns" link set "$tap" mtu "$mtu" master "$br" &&
			ip -n "$pns" addr add "$ll/32" dev "$br" &&
			ip -n "$pns" link set "$br" up &&
			ip -n "$pns" link set "$nic" up &&
			ip -n "$pns" link set "$tap" up
	}; then
		rl_err "launcher_setup $pod/$ifname failed"
		return 1
	fi
	if [ "$RL_DHCP" = kubevirt ]; then
		launcher_kvdhcpd "$pod" "$ifname" "$br" "$ll" "$mac" "$cidr" "$gw" "$routes" "$mtu" "$(pod_get "$pod" vmi)"
		return
	fi
	opt=${gw:+dhcp-option=option:router,$gw}
	opt=${opt:-dhcp-option=3}   # no gateway: send no router option at all (not dnsmasq's own address)
	[ -z "$routes" ] || opt+=$'\n'"dhcp-option=option:classless-static-route,$routes"
	conf=$d/dnsmasq-$ifname.conf
	# KubeVirt's server (pkg/network/dhcp/server/server.go) answers only its client's chaddr, ACKs every
	# REQUEST from it with the configured address (whatever address was asked for), never NAKs, leases
	# 999 days. dnsmasq, measured here (2.90): with dhcp-authoritative it NAKs a REQUEST for another address
	# ("wrong network"/"address not available"); without it, a fresh server silently ignores every
	# INIT-REBOOT REQUEST (even for the right address: it has no lease for the client yet), answers DISCOVER
	# with an OFFER of the configured address and then ACKs the REQUEST that follows; once it has leased
	# to the MAC it NAKs a REQUEST for another address ("wrong address"). So: no dhcp-authoritative (a
	# migration target's server is fresh: a stale REQUEST is dropped, never NAKed; the client falls back to
	# DISCOVER), a known-MAC filter, the 999-day lease. What differs from KubeVirt: an INIT-REBOOT REQUEST
	# is dropped instead of ACKed with the pod's address, and after a lease a wrong REQUEST is NAKed.
	cat >"$conf" <<EOF
# $RL_ID $pod $ifname: KubeVirt bridge-binding DHCP, profile $(vm_profile "$(pod_get "$pod" vmi)"):
# serves $mac (the pod's own MAC is $podmac) the pod's address, router, classless routes and MTU.
port=0
interface=$br
bind-interfaces
except-interface=lo
dhcp-range=$net,static,$(prefix2mask "$prefix"),999d
shared-network=$br,$net
dhcp-host=$mac,$ip,999d
# Single client: ignore every other MAC (never NAK them; other pods' broadcasts cross the node bridge).
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
	: >"$d/dnsmasq-$ifname.log"
	launcher_dhcp_start "$pod" "$ifname"
}

# launcher_kvdhcpd POD IFNAME BRIDGE SERVER_IP MAC CIDR GW ROUTES MTU HOSTNAME — KubeVirt's DHCP server semantics
# on the pod's bridge (tests/tools/kvdhcpd.c); its arguments (dhcp-<if>.args, one per line), log and pid
# beside the pod's other files.
launcher_kvdhcpd() {
	local pod=$1 ifname=$2 br=$3 ll=$4 mac=$5 cidr=$6 gw=$7 routes=$8 mtu=$9 host=${10} d args=()
	d=$(pod_dir "$pod")
	# KubeVirt sends the VMI's name as the hostname (option 12).
	args=(--iface "$br" --server-ip "$ll" --mac "$mac" --ip "$cidr" --mtu "$mtu" --hostname "$host")
	[ -z "$gw" ] || args+=(--router "$gw")
	local IFS=,
	set -- $routes
	unset IFS
	while [ $# -ge 2 ]; do
		args+=(--route "$1,$2")
		shift 2
	done
	printf '%s\n' "${args[@]}" >"$d/dhcp-$ifname.args"
	launcher_dhcp_start "$pod" "$ifname"
}

# launcher_dhcp_start POD IFNAME — (re)start the pod's DHCP server on IFNAME's bridge from its saved config.
launcher_dhcp_start() {
	local pod=$1 ifname=$2 d args=() from
	d=$(pod_dir "$pod")
	if [ -e "$d/dhcp-$ifname.args" ]; then
		mapfile -t args <"$d/dhcp-$ifname.args"
		from=$(grep -c '' "$d/dhcp-$ifname.log" 2>/dev/null || echo 0)
		rl_spawn "kvdhcpd $pod $ifname" "$d/dhcp-$ifname.pidt" "$d/dhcp-$ifname.log" \
			ip netns exec "$(pod_get "$pod" netns)" "$RL_KVDHCPD" "${args[@]}"
		rl_wait 10 dhcp_log_serving "$d/dhcp-$ifname.log" "$from" ||
			{ rl_err "kvdhcpd for $pod/$ifname did not start: $(cat "$d/dhcp-$ifname.log")"; return 1; }
	else
		rm -f "$d/dnsmasq-$ifname.pid"
		rl_spawn "dnsmasq $pod $ifname" "$d/dnsmasq-$ifname.pidt" "$d/dnsmasq-$ifname.log" \
			ip netns exec "$(pod_get "$pod" netns)" dnsmasq --keep-in-foreground --conf-file="$d/dnsmasq-$ifname.conf" \
			--log-facility=-
		rl_wait 10 test -s "$d/dnsmasq-$ifname.pid" ||
			{ rl_err "dnsmasq for $pod/$ifname did not start: $(cat "$d/dnsmasq-$ifname.log")"; return 1; }
	fi
}
dhcp_log_serving() { tail -n +$(($2 + 1)) "$1" 2>/dev/null | grep '^kvdhcpd: serving' >/dev/null; }

# launcher_dhcp_stop POD IFNAME — the pod's DHCP server on IFNAME's bridge goes away (it answers nobody).
launcher_dhcp_stop() {
	local d
	d=$(pod_dir "$1")
	rl_stop "$(cat "$d/dhcp-$2.pidt" "$d/dnsmasq-$2.pidt" 2>/dev/null | head -1)"
}

# launcher_dhcp_serve POD IFNAME MAC — restart the pod's DHCP server answering only MAC from now on.
launcher_dhcp_serve() {
	local pod=$1 ifname=$2 mac=$3 d
	d=$(pod_dir "$pod")
	launcher_dhcp_stop "$pod" "$ifname"
	if [ -e "$d/dhcp-$ifname.args" ]; then
		awk -v m="$mac" 'prev == "--mac" { $0 = m } { prev = $0; print }' "$d/dhcp-$ifname.args" >"$d/dhcp-$ifname.args.new" &&
			mv "$d/dhcp-$ifname.args.new" "$d/dhcp-$ifname.args"
	else
		sed -i "s/^dhcp-host=[^,]*,/dhcp-host=$mac,/" "$d/dnsmasq-$ifname.conf"
	fi
	sed -i "s/^MAC=.*/MAC=$mac/" "$d/nic-$ifname.env"
	launcher_dhcp_start "$pod" "$ifname"
}

# launcher_dhcp_served POD IFNAME — the MAC the pod's DHCP server on IFNAME answers.
launcher_dhcp_served() { sed -n 's/^MAC=//p' "$(pod_dir "$1")/nic-$2.env"; }

# ---------------------------------------------------------------- libvirtd per pod

# pod_emptydir POD — the pod's emptyDir "libvirt-runtime" where the kubelet keeps it (the compute container
# mounts it on /var/run/libvirt; pkg/virt-controller/services/rendervolumes.go).
pod_emptydir() {
	echo "$RUN/n$(pod_get "$1" node)/kubelet/pods/$(pod_uid "$1")/volumes/kubernetes.io~empty-dir/libvirt-runtime"
}
pod_kubelet_sock() { echo "$(pod_emptydir "$1")/virtqemud-sock"; }   # the host path (> 108 bytes)
pod_sock() { echo "$(pod_dir "$1")/rt/virtqemud-sock"; }             # the same socket, short path
# pod_uri POD — session launchers accept only .../session (a session daemon rejects /system); root: /system.
pod_uri() {
	if [ "$(pod_get "$1" launcher)" = root ]; then
		echo "qemu+unix:///system?socket=$(pod_sock "$1")"
	else
		echo "qemu+unix:///session?socket=$(pod_sock "$1")"
	fi
}
pod_virsh() { local p=$1; shift; virsh -q -c "$(pod_uri "$p")" "$@"; }
# pod_qemu_pidfiles POD — QEMU pid files of the pod's daemon (session: qemu/run/, system: qemu/).
pod_qemu_pidfiles() {
	local f
	for f in "$(pod_dir "$1")"/rt/qemu/run/*.pid "$(pod_dir "$1")"/rt/qemu/*.pid; do
		[ -e "$f" ] && echo "$f"
	done
}

# pod_qemu_own POD FILE... — give files QEMU opens (console log, disk images) to the QEMU user when POD's
# launcher is a session one (QEMU and its libvirtd run as $RL_QEMU_USER there); nothing for a root one.
pod_qemu_own() {
	local pod=$1
	shift
	[ "$(pod_get "$pod" launcher)" = session ] || return 0
	chown "$RL_QEMU_USER:" "$@"
}

rl_host_prepare() {
	local d
	for d in /etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt "$RL_CAPS_CACHE"; do
		[ -d "$d" ] || mkdir -p "$d"
	done
	# libvirt's QEMU driver wants this user even with user = "root"; session launchers run as it.
	id "$RL_QEMU_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$RL_QEMU_USER"
}

# pod_emptydir_create POD — the kubelet side of a launcher pod: its emptyDir (owned by the QEMU user for a
# session launcher, like KubeVirt's fsGroup) and the short symlink rt → emptyDir.
pod_emptydir_create() {
	local pod=$1 ed
	ed=$(pod_emptydir "$pod")
	mkdir -p "$ed"
	[ "$(pod_get "$pod" launcher)" = session ] && chown "$RL_QEMU_USER:" "$ed"
	ln -sfn "$ed" "$(pod_dir "$pod")/rt"
}

# libvirtd_start POD — the launcher's libvirt daemon, in the pod netns (ip netns exec: private mount
# namespace) with the emptyDir mounted on /run/libvirt.
#   session: libvirtd as $RL_QEMU_USER with XDG_RUNTIME_DIR=/var/run (as KubeVirt's virtqemud), config in
#            XDG_CONFIG_HOME/libvirt/{libvirtd,qemu}.conf (a session daemon reads its host_uuid from there:
#            checked with `virsh capabilities`), cache in XDG_CACHE_HOME seeded from $RL_CAPS_CACHE (saves
#            the 2.5–4.7 s QEMU capabilities probe per daemon).
#   root:    system-mode libvirtd with per-pod /etc/libvirt, /var/lib/libvirt, /var/log/libvirt.
# Both: the socket gets its KubeVirt name virtqemud-sock as a hard link (renewed on every start: a
# restarted daemon binds a new inode).
libvirtd_start() {
	local pod=$1 d lv x ed pns uuid caps
	d=$(pod_dir "$pod")
	ed=$(pod_emptydir "$pod")
	pns=$(pod_get "$pod" netns)
	rl_host_prepare
	rm -f "$ed/virtqemud-sock" "$ed/libvirt-sock"
	uuid=$(cat "$d/host_uuid" 2>/dev/null) || { uuid=$(rl_uuid); echo "$uuid" >"$d/host_uuid"; }
	if [ "$(pod_get "$pod" launcher)" = session ]; then
		# Short: the session daemon puts QEMU's monitor socket under XDG_CONFIG_HOME/libvirt/qemu/lib/.
		x=$RUN/x/$pns
		echo "$x" >"$d/xdg"
		caps=$x/cache/libvirt/qemu/cache/capabilities
		mkdir -p "$x/config/libvirt" "$caps" "$x/home"
		cat >"$x/config/libvirt/libvirtd.conf" <<EOF
# $RL_ID $pod (session daemon)
host_uuid = "$uuid"
log_outputs = "3:stderr"
EOF
		# From the system launcher's qemu.conf: stdio_handler = "file" (QEMU writes its log itself; no
		# virtlogd is spawned) and no security driver. user/group, dynamic_ownership and remember_owner
		# are system-mode settings (a session QEMU runs as the daemon's user); an unprivileged daemon sets
		# up no cgroups and no mount namespace anyway, the two empty lists only say so.
		cat >"$x/config/libvirt/qemu.conf" <<EOF
stdio_handler = "file"
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
EOF
		cp -p "$RL_CAPS_CACHE"/*.xml "$caps"/ 2>/dev/null
		chown -R "$RL_QEMU_USER:" "$x"
		rl_spawn "libvirtd $pod" "$d/libvirtd.pidt" "$d/libvirtd.log" ip netns exec "$pns" sh -c '
			mount --bind "$1" /run/libvirt &&
			mount --bind "$4" /dev/net/tun &&
			exec setpriv --reuid="$2" --regid="$2" --clear-groups env -i HOME="$3/home" \
				XDG_RUNTIME_DIR=/var/run XDG_CONFIG_HOME="$3/config" XDG_CACHE_HOME="$3/cache" \
				PATH=/usr/sbin:/usr/bin libvirtd' sh "$ed" "$RL_QEMU_USER" "$x" "$RUN/tun"
	else
		lv=$d/lv
		mkdir -p "$lv/etc" "$lv/lib" "$lv/log"
		libvirt_system_conf "$lv/etc" /run/libvirt "$uuid" "$RL_ID $pod"
		rl_spawn "libvirtd $pod" "$d/libvirtd.pidt" "$d/libvirtd.log" ip netns exec "$pns" sh -c '
			mount --bind "$1/etc" /etc/libvirt &&
			mount --bind "$2" /run/libvirt &&
			mount --bind "$1/lib" /var/lib/libvirt &&
			mount --bind "$1/log" /var/log/libvirt &&
			exec libvirtd -f /etc/libvirt/libvirtd.conf -p "$3"' sh "$lv" "$ed" "$d/libvirtd.pid"
	fi
	if ! rl_wait 60 libvirtd_answers "$pod"; then
		rl_err "libvirtd for $pod did not come up: $(tail -5 "$d/libvirtd.log")"
		return 1
	fi
	ln -f "$ed/libvirt-sock" "$ed/virtqemud-sock" || return 1
	# The QEMU capabilities probe happens here (only when the seeded cache is missing or stale).
	pod_virsh "$pod" capabilities >/dev/null || return 1
	# Keep the shared copy current: libvirt re-probes when QEMU or libvirt changed, cp -u takes the newer file.
	[ -z "${caps:-}" ] || cp -pu "$caps"/*.xml "$RL_CAPS_CACHE"/ 2>/dev/null
	events_start "$pod"
}

libvirtd_pid() { cat "$(pod_dir "$1")/libvirtd.pidt" 2>/dev/null; }
# pod_domain_running POD DOMAIN — the pod's daemon says the domain runs.
pod_domain_running() { pod_virsh "$1" domstate "$2" 2>/dev/null | grep running >/dev/null; }
# libvirtd_answers POD — the daemon answers on its own socket name (before the KubeVirt name exists).
libvirtd_answers() { virsh -q -c "$(pod_uri "$1" | sed s/virtqemud-sock/libvirt-sock/)" version >/dev/null 2>&1; }

# libvirtd_stop POD [SIGNAL] — stop the pod's libvirtd (domains keep running: QEMU is daemonized).
libvirtd_stop() {
	local pid
	pid=$(libvirtd_pid "$1")
	[ -n "$pid" ] || return 0
	if [ "${2:-TERM}" = TERM ]; then rl_stop "$pid"; else rl_kill "$pid" "$2"; rl_wait 5 rl_gone "$pid"; fi
	rl_stop "$(cat "$(pod_dir "$1")/events.pidt" 2>/dev/null)"
}

libvirtd_restart() {
	libvirtd_stop "$1" && libvirtd_start "$1"
}

# events_start POD — `virsh event` on the pod's libvirtd, host-timestamped lines in events.log.
events_start() {
	local pod=$1 d
	d=$(pod_dir "$pod")
	rl_spawn "events $pod" "$d/events.pidt" "$d/events.log" bash -c 'virsh -q -c "$1" event --all --loop 2>/dev/null |
		while IFS= read -r l; do printf "%s %s\n" "${EPOCHREALTIME/./}" "$l"; done' sh "$(pod_uri "$pod")"
}

# pod_event_after POD LINE REGEX — a libvirt event line after line LINE of events.log matches.
pod_event_after() { tail -n +$(($2 + 1)) "$(pod_dir "$1")/events.log" 2>/dev/null | grep -E -- "$3" >/dev/null; }
# pod_event_seen POD REGEX — a libvirt event line matches.
pod_event_seen() { grep -E -- "$2" "$(pod_dir "$1")/events.log" >/dev/null 2>&1; }
# pod_event_us POD REGEX — host time (µs) of the first matching libvirt event line, empty if none.
pod_event_us() {
	grep -E -- "$2" "$(pod_dir "$1")/events.log" 2>/dev/null | head -1 | cut -d' ' -f1
}

# ---------------------------------------------------------------- VMs

# vm_start POD VMI [--os busybox|debian] [--stack networkd|nm|ifupdown] [--mem MIB] [--ping IP] [--cmdline "extra"]
#   Transient domain "default_<vmi>": TCG, pc, qemu64, direct kernel boot, serial console appended to
#   $RUN/vms/<vmi>/console.log (one log across migrations), one virtio NIC per pod network on the
#   launcher's taps, with the pod interface's MAC. The guest OS (default: the busybox test guest, 128 MiB)
#   comes from vm_os_<os> POD VMI STACK, which sets VM_MEM, VM_KERNEL, VM_INITRD, VM_CMDLINE (the OS's own
#   kernel options), VM_DEVICES (more <devices> XML) and VM_FILES (more files QEMU opens); other guests
#   than busybox come from their own file (cluster/guest-debian.sh: vm_os_debian).
vm_os_busybox() {
	VM_MEM=128 VM_KERNEL=$RL_GUEST_DIR/vmlinuz VM_INITRD=$RL_GUEST_DIR/initrd.img
	VM_CMDLINE="net.ifnames=0 relink.stack=$3" VM_DEVICES="" VM_FILES=()
}
vm_start() {
	local pod=$1 vmi=$2 os=busybox stack=networkd mem="" ping="" extra="" v d dom net ifname
	local VM_MEM VM_KERNEL VM_INITRD VM_CMDLINE VM_DEVICES VM_FILES
	shift 2
	while [ $# -gt 0 ]; do
		case $1 in
		--os) os=$2; shift ;;
		--stack) stack=$2; shift ;;
		--mem) mem=$2; shift ;;
		--ping) ping=$2; shift ;;
		--cmdline) extra=$2; shift ;;
		*) rl_err "vm_start: unknown option '$1'"; return 1 ;;
		esac
		shift
	done
	declare -F "vm_os_$os" >/dev/null || { rl_err "vm_start: unknown guest OS '$os' (no vm_os_$os)"; return 1; }
	v=$RUN/vms/$vmi
	d=$(pod_dir "$pod")
	dom=$(vm_domain "$vmi")
	mkdir -p "$v"
	"vm_os_$os" "$pod" "$vmi" "$stack" || return 1
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
  <memory unit='MiB'>${mem:-$VM_MEM}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$VM_KERNEL</kernel>
    <initrd>$VM_INITRD</initrd>
    <cmdline>console=ttyS0 $VM_CMDLINE${ping:+ relink.ping=$ping}${extra:+ $extra}</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='custom' match='exact' check='none'><model fallback='forbid'>qemu64</model></cpu>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
$VM_DEVICES$(cat "$v/nics.xml")
    <serial type='file'>
      <source path='$v/console.log' append='on'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
	echo "$pod" >"$v/pod"
	echo "$stack" >"$v/stack"
	: >>"$v/console.log"
	pod_qemu_own "$pod" "$v/console.log" "${VM_FILES[@]}"
	console_ts_start "$vmi"
	if ! pod_virsh "$pod" create "$v/domain.xml" >/dev/null; then
		rl_err "virsh create $dom in $pod failed"
		return 1
	fi
	vm_track_qemu "$vmi"
	rl_say "VM $dom started in $pod ($os, stack $stack, ${mem:-$VM_MEM} MiB${ping:+, pings $ping})"
}

vm_track_qemu() {
	local pod pid f
	pod=$(vm_pod "$1")
	f=$(pod_qemu_pidfiles "$pod" | grep -F "/$(vm_domain "$1").pid" | head -1)
	pid=$(cat "$f" 2>/dev/null) || return 0
	rl_track "$pid" "qemu $1 $pod"
}

# console_ts_start VMI — copy the console with a host timestamp (µs) per line into console.ts.
console_ts_start() {
	local v=$RUN/vms/$1
	rl_spawn "console $1" "$v/console.pidt" "$v/console.ts" bash -c 'tail -n +1 -F "$1" 2>/dev/null |
		while IFS= read -r l; do printf "%s %s\n" "${EPOCHREALTIME/./}" "${l%$'"'\r'"'}"; done' sh "$v/console.log"
}

# vm_oops VMI [FROM] — 0 (and prints the first line) when the guest console shows a kernel oops after
# console line FROM. Under TCG a guest's kernel can crash right after a live migration with NIC traffic
# (memory corrupted by the platform; ../guest/debian/README.md), and a crashed guest never processes a
# hot-unplug: callers report that as a platform fault, not as relinkd's. Both guests (busybox and
# Debian) run the Debian kernel with its messages on the console. A "BUG: soft lockup" (the vCPU starved
# by a loaded host) is not a crash and does not count.
RL_OOPS_RE='BUG:|general protection|Oops|Bad page|Kernel panic'
vm_oops() {
	tail -n +"$((${2:-0} + 1))" "$RUN/vms/$1/console.log" 2>/dev/null | tr -d '\r' | grep -a -E -- "$RL_OOPS_RE" |
		grep -a -v -m1 'soft lockup'
}

# vm_hung VMI FROM — 0 (and prints why) when a guest that pings (vm_start --ping) has written nothing at all
# to its console since line FROM. Only meaningful where its network was cut meanwhile (a migration
# nobody has repaired yet): a live pinging guest then always reports `ping-lost`. A guest frozen by a
# TCG migration (no kernel message either) never does; callers report that as a platform fault.
vm_hung() {
	grep -F "relink.ping=" "$RUN/vms/$1/domain.xml" >/dev/null 2>&1 || return 1
	[ "$(vm_log_mark "$1")" -le "$2" ] || return 1
	echo "no console output at all since the migration (a pinging guest whose network was cut)"
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
	rl_wait "$4" vm_log_has "$1" "$2" "$3" || return 1
	vm_log_since "$1" "$2" | grep -E -- "$3" | head -1
}
# vm_log_quiet VMI FROM ERE TIMEOUT_S — no such console line appears within TIMEOUT_S.
vm_log_quiet() { ! vm_wait_log "$@" >/dev/null; }
# vm_log_has VMI FROM ERE — a RELINK console line after line FROM matches.
vm_log_has() { vm_log_since "$1" "$2" | grep -E -- "$3" >/dev/null; }   # not -q: pipefail-safe

# vm_lease_ip VMI [DEV] — the address of the guest's latest lease on DEV (default eth0), CIDR form.
vm_lease_ip() {
	vm_log_since "$1" 0 | grep -E " lease dev=${2:-eth0} " | tail -1 | sed -n 's/.* ip=\([^ ]*\).*/\1/p'
}
# vm_lease_is VMI DEV CIDR — the guest's latest lease on DEV is CIDR.
vm_lease_is() { [ "$(vm_lease_ip "$1" "$2")" = "$3" ]; }

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

# vm_create NODE VMI [--profile P] [--spec-mac MAC] [pod_create options] [-- vm_start options]
#   pod + launcher + libvirtd + VM. The VMI's spec:
#   --profile P      kubevirt-1.8 | kubevirt-1.9 | spec-mac (default $RL_PROFILE): what the launchers' DHCP
#                    servers serve (header, launcher_served_mac)
#   --spec-mac MAC   eth0's MAC in the VM spec, not passed to CNI (the pods keep their random MACs)
#   --mac MAC        eth0's MAC in the VM spec and pinned on every pod by CNI (tuning); --net1-mac likewise
#   Profile spec-mac without a spec MAC: one is generated per network.
vm_create() {
	local node=$1 vmi=$2 popts=() vopts=() pod profile=$RL_PROFILE v net1=0 specmac="" net1mac=""
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		case $1 in
		--profile) profile=$2; shift ;;
		--spec-mac) specmac=$2; shift ;;
		*)
			case $1 in
			--mac) specmac=$2 ;;
			--net1-mac) net1mac=$2 ;;
			esac
			case $1 in --net1*) net1=1 ;; esac
			popts+=("$1")
			case $1 in --mac | --net1-ip | --net1-mac | --relink-conf | --cni-args) popts+=("$2"); shift ;; esac
			;;
		esac
		shift
	done
	[ $# -gt 0 ] && shift
	vopts=("$@")
	case $profile in
	kubevirt-1.8 | kubevirt-1.9 | spec-mac) ;;
	*) rl_err "vm_create: unknown profile '$profile'"; return 1 ;;
	esac
	v=$RUN/vms/$vmi
	mkdir -p "$v"
	echo "$profile" >"$v/profile"
	echo "$RL_LAUNCHER" >"$v/launcher"     # its migration targets get the same kind of launcher
	if [ "$profile" = spec-mac ]; then
		specmac=${specmac:-$(rl_mac)}
		[ "$net1" = 0 ] || net1mac=${net1mac:-$(rl_mac)}
	fi
	[ -z "$specmac" ] || echo "$specmac" >"$v/specmac-eth0"
	[ -z "$net1mac" ] || echo "$net1mac" >"$v/specmac-$(kv_ifname net1)"
	printf '%s\n' "${popts[@]}" >"$v/spec"
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
	if declare -F rl_pre_migrate >/dev/null; then
		rl_pre_migrate "$vmi"
	fi
	mapfile -t spec < <(vm_spec "$vmi" | grep -v '^$')
	tgt=$(RL_LAUNCHER=$(vm_get "$vmi" launcher || echo "$RL_LAUNCHER") pod_create "$node" "$vmi" "${spec[@]}") || return 1
	launcher_setup "$tgt" || return 1
	libvirtd_start "$tgt" || return 1
	MIG_POD=$tgt
}

# migrate_run VMI — `virsh migrate --live` to MIG_POD over UNIX sockets (daemons and migration stream),
# then the source pod is torn down (CNI DEL), then the hook `rl_post_migrate VMI` runs if the caller
# defined one (tests/e2e/lib.sh queues its invariant checks there; migrate_prepare calls `rl_pre_migrate
# VMI` likewise). Sets MIG_SRC, MIG_NICS_BEFORE (NICs of the domain before), MIG_MARK / MIG_RMARK (console
# line / target relinkd log line before the migration), MIG_MS (virsh migrate wall time, ms),
# MIG_RESUMED_US (host time of the target's RESUMED/Migrated event, µs).
#
# Between two session launchers (what works here, libvirt 9.0): virsh talks to both daemons itself (no
# --p2p: a session daemon has no credentials for another daemon) with
#   virsh -c 'qemu+unix:///session?socket=<src>' migrate --live DOM 'qemu+unix:///session?socket=<dst>' \
#         --migrateuri unix://$RUN/mig/<vmi>-<rand>.sock
# The target QEMU (user libvirt-qemu) listens on that socket, so its directory must be writable by that
# user ($RUN/mig is chowned in cluster_init); the source QEMU (same user) connects to it. The two daemons
# need distinct host UUIDs (libvirtd.conf in each XDG_CONFIG_HOME/libvirt). Root launchers: the same with
# /system URIs.
migrate_run() {
	local vmi=$1 src tgt=$MIG_POD t0 sock
	src=$(vm_pod "$vmi")
	MIG_SRC=$src
	MIG_NICS_BEFORE=$(pod_virsh "$src" domiflist "$(vm_domain "$vmi")" 2>/dev/null | grep -c .)
	MIG_MARK=$(vm_log_mark "$vmi")
	MIG_RMARK=$(relinkd_mark "$(pod_get "$tgt" node)")
	export MIG_SRC MIG_NICS_BEFORE MIG_MARK MIG_RMARK
	sock=$RUN/mig/$vmi-$(rl_rand 4 0-9a-f).sock
	rl_say "migrating $(vm_domain "$vmi"): $src (node $(pod_get "$src" node)) → $tgt (node $(pod_get "$tgt" node))"
	t0=$(rl_ms)
	# --unsafe: a disk (the Debian guests' qcow2 overlay) is shared by both daemons on this one host;
	# libvirt refuses it otherwise. Without a disk the flag changes nothing.
	if ! pod_virsh "$src" migrate --live --unsafe "$(vm_domain "$vmi")" "$(pod_uri "$tgt")" --migrateuri "unix://$sock" \
		>"$RUN/vms/$vmi/migrate.out" 2>&1; then
		rl_err "virsh migrate failed: $(cat "$RUN/vms/$vmi/migrate.out")"
		return 1
	fi
	MIG_MS=$(($(rl_ms) - t0))
	export MIG_MS MIG_POD
	echo "$tgt" >"$RUN/vms/$vmi/pod"
	vm_track_qemu "$vmi"
	rl_wait 5 pod_event_seen "$tgt" "Resumed Migrated" || true
	MIG_RESUMED_US=$(pod_event_us "$tgt" "Resumed Migrated")
	export MIG_RESUMED_US
	rl_say "migrated in ${MIG_MS} ms; tearing down source pod $src"
	pod_delete "$src"
	if declare -F rl_post_migrate >/dev/null; then
		rl_post_migrate "$vmi"
	fi
	return 0
}

# pod_delete POD — stop its daemons (and any QEMU left), CNI DEL every network, delete the netns.
pod_delete() {
	local pod=$1 d net ifname f pid
	d=$(pod_dir "$pod")
	[ -e "$d/deleted" ] && return 0
	for f in $(pod_qemu_pidfiles "$pod"); do
		rl_stop "$(cat "$f")"
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

# relinkd_start NODE [extra relinkd options] — relinkd as its DaemonSet starts it: in the node netns
# (hostNetwork), finding every launcher of the node under the node's kubelet root by itself:
#   relinkd --kubevirt --kubelet-root $RUN/n<N>/kubelet --state-dir $RUN/n<N>/state …
relinkd_start() {
	local n=$1 dir find=()
	shift
	dir=$RUN/n$n
	find=(--kubevirt --kubelet-root "$dir/kubelet")
	rl_spawn "relinkd $n" "$dir/relinkd.pidt" "$dir/relinkd.log" ip netns exec "$(node_ns "$n")" "$RL_RELINKD" \
		--state-dir "$dir/state" "${find[@]}" --metrics-file "$dir/relinkd.prom" --log-level debug "$@"
	rl_say "relinkd on node $n (pid $RL_SPAWNED, ${find[*]}), log $dir/relinkd.log"
}

# relinkd_stop NODE [SIGNAL] — TERM (clean, waits) or e.g. KILL.
relinkd_stop() {
	local pid
	pid=$(cat "$RUN/n$1/relinkd.pidt" 2>/dev/null) || return 0
	if [ "${2:-TERM}" = TERM ]; then
		rl_stop "$pid"
	else
		rl_kill "$pid" "$2"
		rl_wait 5 rl_gone "$pid"
	fi
}

relinkd_log() { cat "$RUN/n$1/relinkd.log" 2>/dev/null; }

# relinkd_wait NODE ERE TIMEOUT_S [FROM_LINE] — wait for a relinkd log line; prints it.
relinkd_wait() {
	rl_wait "$3" relinkd_log_has "$1" "$2" "${4:-0}" || return 1
	tail -n +$((${4:-0} + 1)) "$RUN/n$1/relinkd.log" | grep -E -- "$2" | head -1
}
# relinkd_saw NODE ERE TIMEOUT_S [FROM_LINE] — relinkd_wait without printing the line.
relinkd_saw() { relinkd_wait "$@" >/dev/null; }
# relinkd_log_count NODE ERE [FROM_LINE] — how many relinkd log lines after FROM_LINE match.
relinkd_log_count() { tail -n +$((${3:-0} + 1)) "$RUN/n$1/relinkd.log" 2>/dev/null | grep -cE -- "$2"; }
# relinkd_log_count_ge NODE ERE N [FROM_LINE] — at least N such lines.
relinkd_log_count_ge() { [ "$(relinkd_log_count "$1" "$2" "${4:-0}")" -ge "$3" ]; }
# relinkd_gone NODE — node's relinkd was started and is not running (any more).
relinkd_gone() { local pid; pid=$(cat "$RUN/n$1/relinkd.pidt" 2>/dev/null) && [ -n "$pid" ] && rl_gone "$pid"; }
# relinkd_log_has NODE ERE [FROM_LINE] — a relinkd log line after FROM_LINE matches.
relinkd_log_has() { tail -n +$((${3:-0} + 1)) "$RUN/n$1/relinkd.log" 2>/dev/null | grep -E -- "$2" >/dev/null; }
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
		for f in $(pod_qemu_pidfiles "$pod"); do
			pod_virsh "$pod" destroy "$(basename "$f" .pid)" >/dev/null 2>&1
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
