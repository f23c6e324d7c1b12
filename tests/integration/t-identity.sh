#!/bin/bash
# What ADD records when prevResult is thin, and who the VM is: direct invocation, one pod netns.
#
#   pod netns $P"p": eth0 <-veth-> net1 (pod_veth: eth0 10.250.0.2/24 + fd00:250::2/64)
#
# - prevResult without the pod interface: the interface is found in CNI_NETNS, its live addresses
#   are recorded; prevResult IPs of another interface are not the pod's.
# - CNI_ARGS without IgnoreUnknown, with unknown keys and ";;": tolerated.
# - VM identity: args.cni.vm (or args.cni["relink.dev/vm"]) wins; else "<ns>_<vmi>" from a
#   "virt-launcher-<vmi>-<5 lower-case alnum>" pod name; else "".
. "$(dirname "$0")/lib.sh"
rl_init

veth_pod
NET=$P-id
read -r IDX MAC MTU < <(ns_link "$pod" eth0)

add() { # CID CONFFILE [CNI_ARGS]
	local args=()
	[ $# -ge 3 ] && args=(CNI_ARGS="$3")
	relink_call ADD "$2" CNI_CONTAINERID="$1" CNI_NETNS="$NETNS" CNI_IFNAME=eth0 "${args[@]}"
}

# prevResult that only names a host-side interface; its IP belongs to that interface.
jq -nc '{cniVersion: "1.0.0", interfaces: [{name: "vethhost", mac: "0a:00:00:00:00:01"}],
	ips: [{interface: 0, address: "192.0.2.9/24"}]}' >"$T/prev-host.json"
plugin_conf 1.0.0 "$NET" "$(cat "$T/prev-host.json")" >"$T/thin.json"
add thin "$T/thin.json"
expect_success "ADD with a prevResult that lacks the pod interface"
expect_eq "... echoes that prevResult" "$(jq -cS . <<<"$OUT" 2>&1)" "$(jq -cS . "$T/prev-host.json")"
REC=$(record_path "$NET" thin eth0)
expect_eq "... records the live eth0 (ifindex, mac, mtu)" "$(jq -r '"\(.ifindex) \(.mac) \(.mtu)"' "$REC")" \
	"$IDX $MAC $MTU"
expect_eq "... and its live addresses, not the host interface's" \
	"$(jq -r '[.ips[] | "\(.address)/\(.prefix)"] | sort | join(" ")' "$REC")" "10.250.0.2/24 fd00:250::2/64"

# prevResult with no interfaces at all, no ips.
plugin_conf 0.4.0 "$NET" '{"cniVersion":"0.4.0"}' >"$T/empty-prev.json"
add bare "$T/empty-prev.json"
expect_success "ADD with an empty 0.4.0 prevResult"
expect_eq "... echoes it in 0.4.0" "$(jq -c . <<<"$OUT" 2>&1)" '{"cniVersion":"0.4.0"}'
expect_eq "... records the live addresses" \
	"$(jq -r '[.ips[] | "\(.address)/\(.prefix)"] | sort | join(" ")' "$(record_path "$NET" bare eth0)")" \
	"10.250.0.2/24 fd00:250::2/64"

PREV=$(prev_result 1.0.0 "$pod" eth0)
plugin_conf 1.0.0 "$NET" "$PREV" >"$T/plain.json"
add args "$T/plain.json" "K8S_POD_NAMESPACE=ns1;;FOO=bar;K8S_POD_NAME=virt-launcher-vm1-abcde;K8S_POD_UID=u1"
expect_success "CNI_ARGS without IgnoreUnknown, unknown key and empty pair: tolerated"
expect_eq "... pod identity parsed" \
	"$(jq -r '"\(.pod.namespace) \(.pod.name) \(.pod.uid) \(.vm)"' "$(record_path "$NET" args eth0)")" \
	"ns1 virt-launcher-vm1-abcde u1 ns1_vm1"

# VM identity table: container | CNI_ARGS namespace;pod | args.cni (JSON or "-") | expected vm
VM_ROWS=(
	"v1|ns1;virt-launcher-vm1-abcde|-|ns1_vm1"
	"v2|prod;virt-launcher-my-vm-2-x9z8k|-|prod_my-vm-2"
	"v3|prod;virt-launcher-vm1-ABCDE|-|"
	"v4|prod;virt-launcher-vm1-abcd|-|"
	"v5|prod;virt-launcher--abcde|-|"
	"v6|prod;web-7d4b9c-x2x9z|-|"
	"v7|;virt-launcher-vm1-abcde|-|"
	"v8|prod;virt-launcher-vm1-abcde|{\"vm\":\"other_explicit\"}|other_explicit"
	"v9|prod;web-1|{\"relink.dev/vm\":\"tenant_db\"}|tenant_db"
	"v10|prod;virt-launcher-vm1-abcde|{\"unrelated\":1}|prod_vm1"
)
for row in "${VM_ROWS[@]}"; do
	IFS='|' read -r cid nspod cniargs want <<<"$row"
	if [ "$cniargs" = - ]; then
		cp "$T/plain.json" "$T/vm.json"
	else
		jq --argjson a "$cniargs" '. + {args: {cni: $a}}' "$T/plain.json" >"$T/vm.json"
	fi
	add "$cid" "$T/vm.json" "IgnoreUnknown=true;K8S_POD_NAMESPACE=${nspod%%;*};K8S_POD_NAME=${nspod#*;}"
	got=$(jq -r .vm "$(record_path "$NET" "$cid" eth0)" 2>/dev/null || echo "<no record, exit $RC>")
	expect_eq "vm for namespace '${nspod%%;*}' pod '${nspod#*;}' args.cni $cniargs → '$want'" "$got" "$want"
done

finish
