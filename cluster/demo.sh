#!/bin/bash
# cluster/demo.sh — `make demo`: watch a bridge-bound VM live-migrate to another node and get its network back.
#
# Builds a two-node cluster-in-a-box (network namespaces, real CNI plugins with relink chained, one libvirtd
# per launcher pod, real QEMU guests), starts relinkd on both nodes, boots a server and two client VMs that
# ping it, live-migrates each client to the other node and shows what relinkd decided and what the guest saw.
# Everything is removed on exit, Ctrl-C or failure. Takes about a minute; needs root.
#
#   cluster/demo.sh            (RL_KEEP=1 keeps the run directory with every log)
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=cluster/lib.sh
. "$ROOT/cluster/lib.sh"
RL_SAY_PREFIX="    │ "

if [ -t 1 ]; then B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' N=$'\e[0m'; else B='' G='' R='' N=''; fi
T0=$(rl_ms)
step() { printf '\n%s==> [%5.1fs] %s%s\n' "$B" "$((($(rl_ms) - T0) / 100))e-1" "$*" "$N"; }
say() { printf '    %s\n' "$@"; }
show() { sed 's/^/    │ /'; }   # indent quoted output (logs, records)
die() {
	printf '\n%sdemo failed: %s%s\n' "$R" "$*" "$N" >&2
	if [ -n "${RUN:-}" ]; then
		printf 'last relinkd lines (node 2):\n' >&2
		tail -5 "$RUN/n2/relinkd.log" 2>/dev/null | show >&2
	fi
	exit 1
}

# relinkd's lines about one domain after a mark, without the debug chatter.
relinkd_lines() { tail -n +$(($3 + 1)) "$RUN/n$1/relinkd.log" | grep -F "domain=$2 " | grep -v ' debug ' | sed 's/^relinkd: //'; }

# migrate_and_watch VMI — migrate to node 2, show relinkd's decision/actions and the guest's view, and the outage.
migrate_and_watch() {
	local vmi=$1 mark rmark ok us out
	mark=$(vm_log_mark "$vmi")
	rmark=$(relinkd_mark 2)
	migrate "$vmi" 2 || die "migration of $vmi failed"
	say "virsh migrate --live returned after ${MIG_MS} ms (UNIX sockets for both daemons and the stream)."
	ok=$(vm_wait_log "$vmi" "$mark" ' ping-ok ' 30) || die "$vmi did not get its network back within 30 s"
	relinkd_wait 2 "domain=$(vm_domain "$vmi") .*(verified|FAILED)" 10 "$rmark" >/dev/null
	say "" "relinkd on node 2 (decision, actions, verification; t_ms = ms since RESUMED_MIGRATED):"
	relinkd_lines 2 "$(vm_domain "$vmi")" "$rmark" | show
	say "" "what the guest logged on its serial console (uptime in ms):"
	vm_log_since "$vmi" "$mark" | grep -E ' (nic-del|nic-add|carrier|dhcp-start|lease|lease-drop|ping-lost|ping-ok) ' | show
	us=$(vm_console_us "$vmi" "$mark" ' ping-ok ')
	out=${ok##*outage_ms=}
	OUTAGE_RESUMED=$(((us - MIG_RESUMED_US) / 1000))
	say "" "${G}ping is back: ${OUTAGE_RESUMED} ms after the migration completed (RESUMED_MIGRATED on the target),${N}" \
		"${G}the guest counted ${out} ms without replies (including the migration's own pause).${N}"
}

cat <<EOF
${B}relink demo${N} — a KubeVirt-style VM in bridge mode, live-migrated to another node.

After a live migration a bridge-bound VM runs behind a new pod (new netns, new IP, maybe a new MAC) but
still holds its old DHCP lease: it is cut off. relink (a chained CNI plugin) records every pod attachment;
relinkd (a node daemon) reacts to the incoming migration and makes the guest take the new pod's network.
EOF

step "Two nodes, each a network namespace with its own pod subnet"
cluster_init || die "cluster_init"
cluster_check || die "prerequisites missing (make setup all; guest/build.sh)"
cluster_up || die "cannot create the nodes"
say "The nodes route each other's pod subnet over a veth: an address of node 1 is useless on node 2;" \
	"a second bridge per node, linked, is the secondary L2 network (net1) for multus-style attachments." \
	"Pods are attached by cnitool with Debian's bridge + host-local + tuning plugins and relink chained:"
jq -c '[.plugins[].type]' "$RUN/n1/net.d/10-podnet.conflist" | show

step "relinkd on each node (a hostNetwork DaemonSet in real life)"
relinkd_start 1 2>/dev/null
relinkd_start 2 2>/dev/null
say "$(basename "$RL_RELINKD") --state-dir \$RUN/nX/state --watch '\$RUN/pods/*/run/libvirt-sock' --metrics-file …" \
	"It follows every launcher pod's libvirtd socket and acts only for pods recorded on its node."

step "Boot a server VM and two client VMs on node 1 (each in its own launcher pod with its own libvirtd)"
say "Launcher pod = KubeVirt bridge binding: pod eth0 renamed eth0-nic, bridge k6t-eth0, tap0, and" \
	"dnsmasq handing the pod's IP to the VM's MAC. The guests run a systemd-networkd-like network stack."
vm_create 1 server -- --stack networkd || die "server VM"
SIP=$(pod_ip "$(vm_pod server)" eth0)
vm_create 1 client -- --stack networkd --ping "$SIP" || die "client VM"
PINNED_MAC=$(rl_mac)
vm_create 1 pinned --mac "$PINNED_MAC" -- --stack networkd --ping "$SIP" ||
	die "pinned VM"
say "client: MAC taken from its pod (changes with every pod); pinned: MAC $PINNED_MAC fixed in the VM spec" \
	"(KubeVirt keeps a VM's MAC across migrations since 1.x), applied to the pod by the tuning plugin."
for v in client pinned; do
	vm_wait_log "$v" 0 ' ping-ok ' 60 >/dev/null || die "$v cannot ping the server"
	say "$v: $(vm_log_since "$v" 0 | grep ' lease ' | tail -1 | cut -d' ' -f3-) → pinging $SIP: ok"
done
say "" "What relink recorded for client's pod (node 1 state store):"
jq -c '{pod: .pod.name, ifname, ifindex, mac, ips, routes}' "$(pod_record "$(vm_pod client)" podnet eth0)" | show

step "Migrate client to node 2: its new pod has a new IP and a new MAC"
migrate_and_watch client
O1=$OUTAGE_RESUMED

step "Migrate pinned to node 2: same MAC, new IP"
migrate_and_watch pinned
O2=$OUTAGE_RESUMED

step "Summary"
printf '    %-8s %-18s %-10s %s\n' VM path decision "RESUMED_MIGRATED → first ping reply"
printf '    %-8s %-18s %-10s %s ms\n' client "MAC changed" reattach "$O1" pinned "MAC unchanged" flap "$O2"
say "" "Without relinkd both guests would keep their node-1 address and never reach the server again" \
	"(tests/e2e/t-negative.sh proves it). Cleaning up: VMs, libvirtds, dnsmasqs, relinkds, CNI DEL, netns."
exit 0
