#!/bin/bash
# A multus-style secondary network: the pod network on eth0, then a second conflist (bridge, L2
# with its own subnet) for the same netns with CNI_IFNAME=net1, relink chained in both. 1.0.0.
#
#   node netns $P"n"                                pod netns $P"p"
#   ┌───────────────────────────┐                  ┌───────────────────────────────┐
#   │ $P-br0 10.244.3.1/24      │── veth ──────────│ eth0 10.244.3.x/24            │
#   │ $P-br1 (no gateway)       │── veth ──────────│ net1 192.168.50.x/24          │
#   └───────────────────────────┘                  └───────────────────────────────┘
#   state: $T/state/$P-pod/<cid>@eth0.json and $T/state/$P-net1/<cid>@net1.json
#
# Two independent records; DEL of the secondary leaves the primary; explicit VM identity from
# the per-network cni-args (args.cni) beats the one derived from the pod name.
. "$(dirname "$0")/lib.sh"
rl_init

cnitool_pods
NET0=$P-pod NET1=$P-net1
REC0=$(record_path "$NET0" "$CID" eth0)
REC1=$(record_path "$NET1" "$CID" net1)

bridge_list "$NETCONFPATH/10-pod.conflist" 1.0.0 "$NET0" "$P-br0" 10.244.3.0/24
# What multus renders from a NetworkAttachmentDefinition whose network-selection element
# carries "cni-args": {"vm": "tenant-a_db-primary"} (it lands in each plugin as args.cni).
cat >"$NETCONFPATH/20-net1.conflist" <<EOF
{
  "cniVersion": "1.0.0", "name": "$NET1",
  "plugins": [
    { "type": "bridge", "bridge": "$P-br1", "isGateway": false,
      "ipam": {"type": "host-local", "dataDir": "$T/ipam", "subnet": "192.168.50.0/24"} },
    { "type": "relink", "stateDir": "$STATE", "args": {"cni": {"vm": "tenant-a_db-primary"}} }
  ]
}
EOF

ARGS="IgnoreUnknown=true;K8S_POD_NAMESPACE=tenant-a;K8S_POD_NAME=virt-launcher-db-0-q7k2p;K8S_POD_INFRA_CONTAINER_ID=$CID;K8S_POD_UID=9f0c2a51-7a3e-4c1b-9d2e-0123456789ab"
cnitool_in "$node" add "$NET0" "$pod" CNI_ARGS="$ARGS"
expect_success "ADD primary network on eth0"
RESULT0=$OUT
cnitool_in "$node" add "$NET1" "$pod" CNI_ARGS="$ARGS" CNI_IFNAME=net1
expect_success "ADD secondary network on net1"
RESULT1=$OUT
expect_eq "secondary result names net1 in the pod" \
	"$(jq -r '"\(.interfaces[2].name) \(.interfaces[2].sandbox)"' <<<"$RESULT1")" "net1 /run/netns/$pod"

verify_record "eth0" "$REC0" "$pod" eth0 "$NET0" "$CID" "$RESULT0"
verify_record "net1" "$REC1" "$pod" net1 "$NET1" "$CID" "$RESULT1"
expect_eq "eth0 and net1 records have different ifindex and mac" \
	"$(jq -rs '(.[0].ifindex != .[1].ifindex) and (.[0].mac != .[1].mac)' "$REC0" "$REC1")" true
expect_eq "primary: VM derived from virt-launcher-db-0-q7k2p" "$(jq -r .vm "$REC0")" "tenant-a_db-0"
expect_eq "secondary: VM from args.cni wins" "$(jq -r .vm "$REC1")" "tenant-a_db-primary"
expect_eq "both records carry the same pod" \
	"$(jq -r '"\(.pod.namespace)/\(.pod.name)/\(.pod.uid)"' "$REC0" "$REC1" | sort -u)" \
	"tenant-a/virt-launcher-db-0-q7k2p/9f0c2a51-7a3e-4c1b-9d2e-0123456789ab"

cnitool_in "$node" check "$NET1" "$pod" CNI_ARGS="$ARGS" CNI_IFNAME=net1
expect_success "CHECK secondary via cnitool"
cnitool_in "$node" check "$NET0" "$pod" CNI_ARGS="$ARGS"
expect_success "CHECK primary via cnitool"

cnitool_in "$node" del "$NET1" "$pod" CNI_ARGS="$ARGS" CNI_IFNAME=net1
expect_success "DEL secondary"
check "secondary record removed" test ! -e "$REC1"
check "primary record kept" test -f "$REC0"
cnitool_in "$node" del "$NET1" "$pod" CNI_ARGS="$ARGS" CNI_IFNAME=net1
expect_success "DEL secondary again"
cnitool_in "$node" del "$NET0" "$pod" CNI_ARGS="$ARGS"
expect_success "DEL primary"
check "primary record removed" test ! -e "$REC0"
cnitool_in "$node" del "$NET0" "$pod" CNI_ARGS="$ARGS"
expect_success "DEL primary again"

finish
