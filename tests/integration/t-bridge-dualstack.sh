#!/bin/bash
# bridge + host-local (IPv4 and IPv6) → relink, cniVersion 1.0.0, driven by cnitool.
#
#   node netns $P"n" (cnitool, bridge plugin)        pod netns $P"p"
#   ┌────────────────────────────────┐             ┌──────────────────────────────┐
#   │ $P-br 10.244.1.1/24 fd0a:1::1  │── veth ─────│ eth0 10.244.1.x/24 fd0a:1::x  │
#   └────────────────────────────────┘             └──────────────────────────────┘
#   state: $T/state/$P-pod/<cid>@eth0.json
#
# ADD records what ip shows plus the pod identity from CNI_ARGS; CHECK passes, also after the
# KubeVirt bridge binding renamed eth0 to eth0-nic and took its addresses; CHECK fails when the
# record is gone or disagrees with prevResult; DEL removes; DEL again and DEL without netns succeed.
. "$(dirname "$0")/lib.sh"
rl_init

cnitool_pods
NET=$P-pod
REC=$(record_path "$NET" "$CID" eth0)
LIST=$NETCONFPATH/10-pod.conflist

cat >"$LIST" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$NET",
  "plugins": [
    {
      "type": "bridge", "bridge": "$P-br", "isGateway": true, "ipMasq": false, "mtu": 1450,
      "ipam": {
        "type": "host-local", "dataDir": "$T/ipam",
        "ranges": [[{"subnet": "10.244.1.0/24"}], [{"subnet": "fd0a:1::/64"}]],
        "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}, {"dst": "192.0.2.0/24", "gw": "10.244.1.254"}]
      },
      "dns": {"nameservers": ["10.96.0.10"], "domain": "cluster.local", "search": ["ns1.svc.cluster.local"]}
    },
    { "type": "relink", "stateDir": "$STATE", "someFutureKey": {"x": [1, 2]} }
  ]
}
EOF

ARGS="IgnoreUnknown=true;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=virt-launcher-vm1-abcde;K8S_POD_INFRA_CONTAINER_ID=$CID;K8S_POD_UID=0d9e5c3a-1b2c-4d5e-8f90-123456789abc"
t0=$(date +%s)
cnitool_in "$node" add "$NET" "$pod" CNI_ARGS="$ARGS"
expect_success "ADD bridge+host-local+relink (1.0.0 dual stack)"
RESULT=$OUT

expect_eq "result is 1.0.0 with eth0 in the pod" \
	"$(jq -r '"\(.cniVersion) \(.interfaces[2].name) \(.interfaces[2].sandbox)"' <<<"$RESULT")" \
	"1.0.0 eth0 /run/netns/$pod"
expect_eq "pod has one v4 and one v6 global address" \
	"$(ns_addrs "$pod" eth0 | sed -E 's/10\.244\.1\.[0-9]+/V4/; s/fd0a:1::[0-9a-f]+/V6/')" "V4/24 V6/64"
verify_record "1.0.0" "$REC" "$pod" eth0 "$NET" "$CID" "$RESULT"
expect_eq "record ip families and gateways" \
	"$(jq -r '[.ips[] | "\(.gateway)/\(.prefix)"] | sort | join(" ")' "$REC")" "10.244.1.1/24 fd0a:1::1/64"
expect_eq "record dns domain and search" \
	"$(jq -c '[.dns.domain, .dns.search]' "$REC")" '["cluster.local",["ns1.svc.cluster.local"]]'
expect_eq "record pod identity from CNI_ARGS" \
	"$(jq -r '"\(.pod.namespace) \(.pod.name) \(.pod.uid) \(.pod.infraContainerID)"' "$REC")" \
	"ns1 virt-launcher-vm1-abcde 0d9e5c3a-1b2c-4d5e-8f90-123456789abc $CID"
expect_eq "record vm derived from virt-launcher pod name" "$(jq -r .vm "$REC")" "ns1_vm1"
expect_eq "record cniVersion" "$(jq -r .cniVersion "$REC")" "1.0.0"
created=$(date -u -d "$(jq -r .created "$REC")" +%s 2>/dev/null || echo 0)
check "record created is an RFC 3339 UTC time of this ADD" \
	test "$created" -ge "$t0" -a "$created" -le "$(($(date +%s) + 1))" -a \
	"$(jq -r '.created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z$")' "$REC")" = true
expect_eq "state dir modes 0700" "$(stat -c %a "$STATE" "$STATE/$NET" | tr '\n' ' ')" "700 700 "
expect_eq "no temporary files left" "$(find "$STATE" -type f ! -name '*.json' ! -name .lock | wc -l)" 0

cnitool_in "$node" check "$NET" "$pod" CNI_ARGS="$ARGS"
expect_success "CHECK whole chain via cnitool"

# The CHECK relink gets from a runtime: its config plus the cached result of the chain.
CACHE=$CNI_CACHE/$NET-$CID-eth0
PREV=$(jq -c .result "$CACHE")
plugin_stdin "$LIST" 1 "$PREV" >"$T/check.json"
CHECK_ENV=(CNI_CONTAINERID="$CID" CNI_NETNS="/run/netns/$pod" CNI_IFNAME=eth0 CNI_ARGS="$ARGS")
relink_call CHECK "$T/check.json" "${CHECK_ENV[@]}"
expect_success "CHECK direct, interface untouched"
expect_eq "CHECK prints nothing on success" "$OUT" ""

# A pod interface nobody enslaved must keep its MAC.
read -r ifindex mac _ < <(ns_link "$pod" eth0)
ip -n "$pod" link set eth0 address 0a:00:00:00:00:99
relink_call CHECK "$T/check.json" "${CHECK_ENV[@]}"
expect_cni_error "CHECK fails when the (not enslaved) pod interface changed its MAC (102)" 102
ip -n "$pod" link set eth0 address "$mac"

# KubeVirt bridge binding: eth0 renamed eth0-nic (same ifindex), enslaved to k6t-eth0, given a
# new MAC (the VM takes the original), its addresses removed (the VM gets them over DHCP), a tap.
ip -n "$pod" link set eth0 down &&
	ip -n "$pod" link set eth0 name eth0-nic &&
	ip -n "$pod" link set eth0-nic address 0a:00:00:00:00:42 &&
	ip -n "$pod" addr flush dev eth0-nic &&
	ip -n "$pod" link add k6t-eth0 type bridge &&
	ip -n "$pod" link set eth0-nic master k6t-eth0 &&
	ip -n "$pod" tuntap add tap0 mode tap &&
	ip -n "$pod" link set tap0 master k6t-eth0 &&
	ip -n "$pod" link set eth0-nic up && ip -n "$pod" link set k6t-eth0 up
expect_eq "bridge binding emulated (eth0-nic keeps ifindex, new MAC, no global address)" \
	"$(ns_link "$pod" eth0-nic | cut -d' ' -f1,2) [$(ns_addrs "$pod" eth0-nic)]" "$ifindex 0a:00:00:00:00:42 []"
relink_call CHECK "$T/check.json" "${CHECK_ENV[@]}"
expect_success "CHECK after rename to eth0-nic, MAC change and address removal"

jq '.prevResult.ips[0].address = "10.244.1.200/24"' "$T/check.json" >"$T/check-bad.json"
relink_call CHECK "$T/check-bad.json" "${CHECK_ENV[@]}"
expect_cni_error "CHECK fails when prevResult disagrees with the record (101)" 101

mv "$REC" "$T/rec.saved"
relink_call CHECK "$T/check.json" "${CHECK_ENV[@]}"
expect_cni_error "CHECK fails when the record is missing (100)" 100
mv "$T/rec.saved" "$REC"

relink_call CHECK "$T/check.json" "${CHECK_ENV[@]/#CNI_NETNS=*/CNI_NETNS=/run/netns/${P}gone}"
expect_cni_error "CHECK fails when the netns is gone (4, CNI_NETNS)" 4

relink_call CHECK "$T/check.json" "${CHECK_ENV[@]/#CNI_NETNS=*/CNI_NETNS=/run/netns/$node}"
expect_cni_error "CHECK fails for another netns than the recorded one (102)" 102

cnitool_in "$node" del "$NET" "$pod" CNI_ARGS="$ARGS"
expect_success "DEL via cnitool"
check "DEL removed the record" test ! -e "$REC"
check "DEL removed the cnitool cache (so the next DEL has no prevResult)" test ! -e "$CACHE"

cnitool_in "$node" del "$NET" "$pod" CNI_ARGS="$ARGS"
expect_success "DEL again via cnitool (no cache, no record)"

jq 'del(.prevResult)' "$T/check.json" >"$T/del.json"
relink_call DEL "$T/del.json" CNI_CONTAINERID="$CID" CNI_IFNAME=eth0
expect_success "DEL without CNI_NETNS and without prevResult"
expect_eq "no record files left" "$(find "$STATE" -name '*.json' | wc -l)" 0

finish
