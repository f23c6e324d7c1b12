#!/bin/bash
# KubeVirt's three MAC regimes × three guest network stacks, on KubeVirt-faithful launchers: every guest is
# back on the target pod's address, with the action the served MAC calls for.
#
#   node 1 (pods 10.244.1.0/24)                        node 2 (pods 10.244.2.0/24)
#   ┌───────────────────────────────────┐  routed     ┌───────────────────────────────────┐
#   │ relinkd --kubevirt                │═════════════│ relinkd --kubevirt                │
#   │ server VM                         │             │                                   │
#   │ k18-*, k19-*, spec-* (9 VMs) ─ ─ ─│─ migrate ─ ▶│ same VMs, new launcher pods       │
#   └───────────────────────────────────┘             └───────────────────────────────────┘
#   Launchers: session-mode libvirtd as libvirt-qemu behind >108-byte kubelet paths (cluster/lib.sh).
#   k18-<stack>:  profile kubevirt-1.8, no spec MAC: the target's DHCP server serves the *new pod's* MAC
#                 → re-attach with that MAC (guest: nic-del, nic-add with the new MAC).
#   k19-<stack>:  profile kubevirt-1.9, no spec MAC: the target serves the MAC the VM already has
#                 → keep the MAC: flap (networkd renews; nm and ifupdown ignore a 1 s flap, and relinkd,
#                 which saw their DHCP clients at boot, re-plugs them with the *same* MAC at once); the
#                 NIC's MAC never changes.
#   spec-<stack>: profile spec-mac, fixed MAC in the VM spec, the pods get random MACs; the target serves
#                 the spec MAC → as k19.
#   Stacks: networkd, nm, ifupdown (the busybox guest emulates each; guest/README.md).
#   root-networkd: kubevirt-1.9 on root launchers (system-mode libvirtd, qemu:///system) → as k19.
. "$(dirname "$0")/lib.sh"
e2e_init

STACKS=${STACKS:-networkd nm ifupdown}
PROFILES=${PROFILES:-kubevirt-1.8 kubevirt-1.9 spec-mac}
short() { case $1 in kubevirt-1.8) echo k18 ;; kubevirt-1.9) echo k19 ;; spec-mac) echo spec ;; esac; }

scenario "world: nodes, relinkd, server and the clients booting together"
cluster_up || { not_ok "world: nodes"; exit 1; }
relinkd_start 1
relinkd_start 2
vm_create 1 server -- --stack networkd || { not_ok "world: server VM" "$(diag_vm server)"; exit 1; }
SERVER_IP=$(pod_ip "$(vm_pod server)" eth0)
P=$(vm_pod server)
KS=$(pod_kubelet_sock "$P")
check_lt "launcher socket's host path is longer than a UNIX socket path may be (> 107 bytes)" 107 "${#KS}"
check "launcher socket exists at the kubelet path" test -S "$KS"
check_re "launcher pod UID is a UUID" "$(pod_uid "$P")" '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
check_eq "launcher daemon runs as $RL_QEMU_USER" "$(ps -o user= -p "$(libvirtd_pid "$P")")" "$RL_QEMU_USER"
# system_uri_refused POD — the pod's daemon does not take qemu:///system (a session daemon).
system_uri_refused() { ! virsh -q -c "qemu+unix:///system?socket=$(pod_sock "$1")" version >/dev/null 2>&1; }
check "launcher daemon is a session daemon (rejects qemu:///system)" \
	system_uri_refused "$P"
CLIENTS=()
declare -A PROFILE STACK
for profile in $PROFILES; do
	for stack in $STACKS; do
		vmi=$(short "$profile")-$stack
		vm_create 1 "$vmi" --profile "$profile" -- --stack "$stack" --ping "$SERVER_IP" ||
			{ not_ok "$vmi: created" "$(diag_vm "$vmi")"; exit 1; }
		CLIENTS+=("$vmi") PROFILE[$vmi]=$profile STACK[$vmi]=$stack
	done
done
if [ "${ROOT_LAUNCHER:-1}" = 1 ]; then
	RL_LAUNCHER=root vm_create 1 root-networkd --profile kubevirt-1.9 -- --stack networkd --ping "$SERVER_IP" ||
		{ not_ok "root-networkd: created" "$(diag_vm root-networkd)"; exit 1; }
	CLIENTS+=(root-networkd) PROFILE[root-networkd]=kubevirt-1.9 STACK[root-networkd]=networkd
	check_eq "root-networkd: its launcher daemon runs as root" "$(ps -o user= -p "$(libvirtd_pid "$(vm_pod root-networkd)")")" root
fi
vm_wait_log server 0 ' lease dev=eth0 ' 120 >/dev/null || { not_ok "world: server got its lease" "$(diag_vm server)"; exit 1; }
for vmi in "${CLIENTS[@]}"; do
	vm_wait_log "$vmi" 0 ' ping-ok ' 180 >/dev/null || { not_ok "$vmi: pings the server before the migration" "$(diag_vm "$vmi")"; exit 1; }
done
check_eq "QEMU runs as $RL_QEMU_USER" "$(ps -o user= -p "$(cat "$(pod_qemu_pidfiles "$P" | head -1)")")" "$RL_QEMU_USER"
echo "# world up: server $SERVER_IP, ${#CLIENTS[@]} clients pinging it"

# Migrate every client, one after the other, without waiting for the previous one's recovery (relinkd
# handles them concurrently); then check each.
scenario "migrate the ${#CLIENTS[@]} clients to node 2"
declare -A MARKS RMARKS TGT RESUMED OLDMAC SERVED SRCMAC
for vmi in "${CLIENTS[@]}"; do
	OLDMAC[$vmi]=$(vm_nic_mac "$vmi" eth0)
	SRCMAC[$vmi]=$(pod_mac "$(vm_pod "$vmi")" eth0)
	MARKS[$vmi]=$(vm_log_mark "$vmi")
	RMARKS[$vmi]=$(relinkd_mark 2)
	migrate "$vmi" 2 || { not_ok "$vmi: live migration to node 2" "$(tail -3 "$RUN/vms/$vmi/migrate.out")"; exit 1; }
	TGT[$vmi]=$MIG_POD
	RESUMED[$vmi]=$MIG_RESUMED_US
	SERVED[$vmi]=$(launcher_dhcp_served "$MIG_POD" eth0)
	echo "# $vmi: virsh migrate $MIG_MS ms"
done

for vmi in "${CLIENTS[@]}"; do
	profile=${PROFILE[$vmi]} stack=${STACK[$vmi]}
	scenario "$profile × $stack ($vmi, $(vm_get "$vmi" launcher) launchers)"
	# shellcheck disable=SC2034 # MARK, RMARK: read by since, rlines, check_ping_back (lib.sh)
	MARK=${MARKS[$vmi]} RMARK=${RMARKS[$vmi]} MIG_POD=${TGT[$vmi]} MIG_RESUMED_US=${RESUMED[$vmi]}
	newmac=$(pod_mac "$MIG_POD" eth0)
	# What the harness's launcher serves (the profile itself, independent of relinkd).
	case $profile in
	kubevirt-1.8) check_eq "$vmi: target serves the new pod's MAC" "${SERVED[$vmi]}" "$newmac" ;;
	kubevirt-1.9) check_eq "$vmi: target serves the MAC the VM has" "${SERVED[$vmi]}" "${OLDMAC[$vmi]}" ;;
	spec-mac)
		check_eq "$vmi: target serves the spec MAC" "${SERVED[$vmi]}" "$(vm_get "$vmi" specmac-eth0)"
		check "$vmi: the pods' MACs are not the spec MAC" \
			test "$newmac" != "${OLDMAC[$vmi]}" -a "${SRCMAC[$vmi]}" != "${OLDMAC[$vmi]}"
		;;
	esac
	check_ping_back "$vmi: ping comes back" "$vmi" 2 60
	echo "# $vmi: RESUMED_MIGRATED → first ping reply $(first_ping_ms "$vmi") ms"
	rl_wait 30 rlines_has "$vmi" 2 " verified | FAILED "
	echo "# $vmi: relinkd: $(rlines "$vmi" 2 | grep -m1 'decision=' | sed 's/.*\(decision=.*\)/\1/')"
	case $profile in
	kubevirt-1.8)
		check_re "$vmi: relinkd decided reattach, the probe found the record's MAC served" \
			"$(rlines "$vmi" 2 | grep -m1 'decision=')" 'decision=reattach .*served=record '
		check_eq "$vmi: NIC re-plugged with the new pod's MAC (live domain)" "$(vm_nic_mac "$vmi" eth0)" "$newmac"
		check_re "$vmi: guest saw nic-add eth0 with the new pod's MAC" "$(since "$vmi" | grep -m1 ' nic-add ')" \
			"nic-add dev=eth0 mac=$newmac\$"
		;;
	*)
		check_re "$vmi: relinkd decided flap (MAC kept), the probe found the NIC's MAC served" \
			"$(rlines "$vmi" 2 | grep -m1 'decision=')" 'decision=flap .*served=nic '
		check_eq "$vmi: NIC MAC unchanged (live domain)" "$(vm_nic_mac "$vmi" eth0)" "${OLDMAC[$vmi]}"
		check_eq "$vmi: guest never saw another MAC" \
			"$(since "$vmi" | grep ' nic-add ' | grep -vc "mac=${OLDMAC[$vmi]}\$")" 0
		;;
	esac
	check_re "$vmi: relinkd verified its action" "$(rlines "$vmi" 2 | grep -E ' verified | FAILED ' | tail -1)" ' verified '
	check_lease "$vmi: guest lease is the target pod's address" "$(pod_addr "$MIG_POD" eth0)" "$vmi" eth0
done
