#!/bin/bash
# cluster/demo.sh — `make demo`: watch a bridge-bound VM live-migrate to another node and get its network back.
#
# Builds a two-node cluster-in-a-box (network namespaces, real CNI plugins with relink chained, KubeVirt-style
# non-root launcher pods: a session-mode libvirtd per pod behind a kubelet path, real QEMU guests), starts
# relinkd on both nodes as its DaemonSet would, boots a server and two client VMs that ping it, live-migrates
# each client to the other node and shows what relinkd decided and what the guest saw. The clients show two
# DHCP profiles: KubeVirt 1.9 (the target serves the MAC the VM has; the common case) and KubeVirt 1.8 (the
# target serves the new pod's MAC). Everything is removed on exit, Ctrl-C or failure. Takes about a minute;
# needs root.
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
	DECISION=$(relinkd_lines 2 "$(vm_domain "$vmi")" "$rmark" | grep -m1 -o 'decision=[a-z]*')
	DECISION=${DECISION#decision=}
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

step "relinkd on each node (a hostNetwork, hostPID DaemonSet in real life)"
relinkd_start 1 2>/dev/null
relinkd_start 2 2>/dev/null
say "$(basename "$RL_RELINKD") --kubevirt --kubelet-root \$RUN/nX/kubelet --state-dir \$RUN/nX/state --metrics-file …" \
	"It finds every launcher pod of its node under the kubelet root by itself and acts only for pods" \
	"recorded on its node."

step "Boot a server VM and two client VMs on node 1 (each in its own launcher pod with its own libvirtd)"
say "Launcher pod = KubeVirt's non-root launcher: libvirtd in session mode as user $RL_QEMU_USER, its socket" \
	"in the pod's emptyDir libvirt-runtime; from the node that socket is" "" \
	"  (\$RUN/n1/kubelet/pods/<pod-uid>/volumes/kubernetes.io~empty-dir/libvirt-runtime/virtqemud-sock)" "" \
	"Bridge binding: pod eth0 renamed eth0-nic, bridge k6t-eth0, tap0 (owned by $RL_QEMU_USER), and a DHCP server with KubeVirt's semantics (tests/tools/kvdhcpd)" \
	"handing the pod's IP to one MAC only, never NAKing. The guests run a systemd-networkd-like stack."
vm_create 1 server --profile kubevirt-1.9 -- --stack networkd || die "server VM"
SIP=$(pod_ip "$(vm_pod server)" eth0)
KS=$(pod_kubelet_sock "$(vm_pod server)")
say "server's launcher socket on the node: ${#KS} bytes (a UNIX socket path holds at most 107)."
vm_create 1 client --profile kubevirt-1.9 -- --stack networkd --ping "$SIP" || die "client VM"
vm_create 1 legacy --profile kubevirt-1.8 -- --stack networkd --ping "$SIP" || die "legacy VM"
say "client: profile kubevirt-1.9 — no MAC in the VM spec; the VM keeps the MAC it booted with, and since" \
	"KubeVirt 1.9 a migration target's DHCP server serves that MAC (the common case)." \
	"legacy: profile kubevirt-1.8 — the target's DHCP server serves the *new pod's* MAC (KubeVirt ≤ 1.8)."
for v in client legacy; do
	vm_wait_log "$v" 0 ' ping-ok ' 60 >/dev/null || die "$v cannot ping the server"
	say "$v: $(vm_log_since "$v" 0 | grep ' lease ' | tail -1 | cut -d' ' -f3-) → pinging $SIP: ok"
done
say "" "What relink recorded for client's pod (node 1 state store):"
jq -c '{pod: .pod.name, ifname, ifindex, mac, ips, routes}' "$(pod_record "$(vm_pod client)" podnet eth0)" | show

step "Migrate client (kubevirt-1.9) to node 2: new pod, new IP; the target serves the MAC the VM has"
migrate_and_watch client
O1=$OUTAGE_RESUMED D1=$DECISION

step "Migrate legacy (kubevirt-1.8) to node 2: new pod, new IP; the target serves the new pod's MAC"
migrate_and_watch legacy
O2=$OUTAGE_RESUMED D2=$DECISION

step "Summary"
printf '    %-8s %-14s %-28s %-10s %s\n' VM profile "served MAC on the target" decision "RESUMED_MIGRATED → first ping reply"
printf '    %-8s %-14s %-28s %-10s %s ms\n' client kubevirt-1.9 "the VM's own (kept)" "$D1" "$O1" \
	legacy kubevirt-1.8 "the new pod's (re-plugged)" "$D2" "$O2"
say "" "Without relinkd both guests would keep their node-1 address and never reach the server again" \
	"(tests/e2e/t-negative.sh proves it). Cleaning up: VMs, libvirtds, DHCP servers, relinkds, CNI DEL, netns."
exit 0
