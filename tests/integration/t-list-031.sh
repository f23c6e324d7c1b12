#!/bin/bash
# A 0.3.1 list: bridge + host-local → relink via cnitool. 0.3.1 has no CHECK and libcni sends
# DEL without prevResult: the record must still go away, and the result keeps 0.3.1's shape.
#
#   node netns $P"n"                      pod netns $P"p"
#   ┌──────────────────────────┐         ┌────────────────────────┐
#   │ $P-br 10.244.4.1/24      │─ veth ──│ eth0 10.244.4.x/24     │
#   └──────────────────────────┘         └────────────────────────┘
. "$(dirname "$0")/lib.sh"
rl_init

cnitool_pods
NET=$P-old
REC=$(record_path "$NET" "$CID" eth0)
LIST=$NETCONFPATH/30-old.conflist

bridge_list "$LIST" 0.3.1 "$NET" "$P-br" 10.244.4.0/24

# No CNI_ARGS at all: the pod identity stays empty.
cnitool_in "$node" add "$NET" "$pod"
expect_success "ADD 0.3.1 list"
RESULT=$OUT
expect_eq "result is 0.3.1 with ips[].version" \
	"$(jq -r '"\(.cniVersion) \(.ips[0].version) \(.interfaces[2].name)"' <<<"$RESULT")" "0.3.1 4 eth0"
verify_record "0.3.1" "$REC" "$pod" eth0 "$NET" "$CID" "$RESULT"
expect_eq "record without CNI_ARGS: empty pod identity, no VM" \
	"$(jq -c '[.pod.namespace, .pod.name, .pod.uid, .vm, .cniVersion]' "$REC")" '["","","","","0.3.1"]'

cnitool_in "$node" check "$NET" "$pod"
check "cnitool refuses CHECK for a 0.3.1 list (libcni)" test "$RC" -ne 0
plugin_stdin "$LIST" 1 "$RESULT" >"$T/check.json"
relink_call CHECK "$T/check.json" CNI_CONTAINERID="$CID" CNI_NETNS="/run/netns/$pod" CNI_IFNAME=eth0
expect_cni_error "direct CHECK with a 0.3.1 config: incompatible version" 1

cnitool_in "$node" del "$NET" "$pod"
expect_success "DEL 0.3.1 (no prevResult)"
check "DEL removed the record" test ! -e "$REC"
cnitool_in "$node" del "$NET" "$pod"
expect_success "DEL again"

finish
