#!/bin/bash
# ptp → tuning (MAC from CAP_ARGS, the "mac" capability) → relink, cniVersion 0.4.0, via cnitool.
#
#   node netns $P"n" (cnitool, ptp host side)       pod netns $P"p"
#   ┌──────────────────────────────┐              ┌─────────────────────────────────────┐
#   │ veth…  10.244.2.1/32 routes  │── veth ──────│ eth0 10.244.2.x/24 mtu 1400         │
#   └──────────────────────────────┘              │      mac 0a:58:0a:f4:02:07 (tuning) │
#                                                 └─────────────────────────────────────┘
# The record carries the MAC tuning set (not the one ptp created), the ptp MTU, and no VM for a
# pod that is not a virt-launcher; CHECK passes; DEL removes; DEL again succeeds.
. "$(dirname "$0")/lib.sh"
rl_init

cnitool_pods
NET=$P-ptp
REC=$(record_path "$NET" "$CID" eth0)
LIST=$NETCONFPATH/20-ptp.conflist
MAC=0a:58:0a:f4:02:07

cat >"$LIST" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "$NET",
  "plugins": [
    {
      "type": "ptp", "ipMasq": false, "mtu": 1400,
      "ipam": {"type": "host-local", "dataDir": "$T/ipam", "subnet": "10.244.2.0/24",
               "routes": [{"dst": "0.0.0.0/0"}]}
    },
    { "type": "tuning", "capabilities": {"mac": true} },
    { "type": "relink", "stateDir": "$STATE", "logLevel": "debug", "logFile": "$T/relink.log" }
  ]
}
EOF

ARGS="IgnoreUnknown=true;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-7d4b9c-x2x9z;K8S_POD_INFRA_CONTAINER_ID=$CID;K8S_POD_UID=11111111-2222-3333-4444-555555555555"
cnitool_in "$node" add "$NET" "$pod" CNI_ARGS="$ARGS" CAP_ARGS="{\"mac\":\"$MAC\"}"
expect_success "ADD ptp+tuning(mac)+relink (0.4.0)"
RESULT=$OUT

expect_eq "result is 0.4.0, pod interface index 1 with tuning's MAC" \
	"$(jq -r '"\(.cniVersion) \(.interfaces[1].name) \(.interfaces[1].mac) \(.ips[0].version) \(.ips[0].interface)"' <<<"$RESULT")" \
	"0.4.0 eth0 $MAC 4 1"
expect_eq "pod eth0 has tuning's MAC and ptp's MTU" "$(ns_link "$pod" eth0 | cut -d' ' -f2-)" "$MAC 1400"
verify_record "0.4.0" "$REC" "$pod" eth0 "$NET" "$CID" "$RESULT"
expect_eq "record pod identity, no VM for a non-launcher pod" \
	"$(jq -r '"\(.pod.namespace) \(.pod.name) \(.pod.uid) [\(.vm)] \(.cniVersion)"' "$REC")" \
	"shop web-7d4b9c-x2x9z 11111111-2222-3333-4444-555555555555 [] 0.4.0"
check "logFile written" test -s "$T/relink.log"

cnitool_in "$node" check "$NET" "$pod" CNI_ARGS="$ARGS" CAP_ARGS="{\"mac\":\"$MAC\"}"
expect_success "CHECK whole chain via cnitool"

CACHE=$CNI_CACHE/$NET-$CID-eth0
plugin_stdin "$LIST" 2 "$(jq -c .result "$CACHE")" >"$T/check.json"
CHECK_ENV=(CNI_CONTAINERID="$CID" CNI_NETNS="/run/netns/$pod" CNI_IFNAME=eth0 CNI_ARGS="$ARGS")
ip -n "$pod" link set eth0 down && ip -n "$pod" link set eth0 name eth0-nic &&
	ip -n "$pod" addr flush dev eth0-nic && ip -n "$pod" link set eth0-nic up
expect_eq "renamed to eth0-nic, no address" "[$(ns_addrs "$pod" eth0-nic)]" "[]"
relink_call CHECK "$T/check.json" "${CHECK_ENV[@]}"
expect_success "CHECK direct after rename to eth0-nic and address removal"
# tuning's DEL restores the original MAC by interface name: give it its name back.
ip -n "$pod" link set eth0-nic down && ip -n "$pod" link set eth0-nic name eth0

cnitool_in "$node" del "$NET" "$pod" CNI_ARGS="$ARGS" CAP_ARGS="{\"mac\":\"$MAC\"}"
expect_success "DEL via cnitool"
check "DEL removed the record" test ! -e "$REC"
cnitool_in "$node" del "$NET" "$pod" CNI_ARGS="$ARGS"
expect_success "DEL again via cnitool"
expect_eq "no record files left" "$(find "$STATE" -name '*.json' | wc -l)" 0

finish
