#!/bin/bash
# The configs in examples/ work as shipped: each is loaded, only its host-global names and paths
# are made private to this run (network name, bridge, host-local dataDir, relink stateDir/logFile),
# then ADD → record present → CHECK (0.4.0+) → DEL → record gone, via cnitool.
#
#   node netns $P"n" (cnitool; bridges / ptp host ends)     pod netns $P"p"
#   examples/10-podnet.conflist      → eth0   (bridge, dual stack)
#   examples/20-ptp-tuning.conflist  → eth1   (ptp + tuning with CAP_ARGS mac)
#   examples/net1-nad.yaml spec.config → net1 (multus secondary, bridge)
. "$(dirname "$0")/lib.sh"
rl_init

cnitool_pods
EX=$ROOT/examples

# privatise FILE INDEX > conflist: unique name/bridge, run-local dataDir/stateDir/logFile.
privatise() {
	jq --arg p "$P" --arg i "$2" --arg t "$T" --arg s "$STATE" '
		.name = "\($p)-\(.name)" |
		.plugins |= map(
			(if .bridge then .bridge = "\($p)br\($i)" else . end) |
			(if .ipam then .ipam.dataDir = "\($t)/ipam" else . end) |
			(if .type == "relink" then .stateDir = $s | (if .logFile then .logFile = "\($t)/relink.log" else . end) else . end))' "$1"
}
nad_config() { sed -n '/^  config: |/,$p' "$1" | tail -n +2 | sed 's/^    //'; }

is_conflist() { jq -e '(.plugins | length > 1) and (.name | length > 0)' "$1" >/dev/null; }
check "examples/10-podnet.conflist is a conflist" is_conflist "$EX/10-podnet.conflist"
check "examples/20-ptp-tuning.conflist is a conflist" is_conflist "$EX/20-ptp-tuning.conflist"
nad_config "$EX/net1-nad.yaml" >"$T/nad.json"
check "examples/net1-nad.yaml spec.config is a conflist" is_conflist "$T/nad.json"
expect_eq "every example chains relink last" \
	"$(jq -rs 'map(.plugins[-1].type) | join(" ")' "$EX/10-podnet.conflist" "$EX/20-ptp-tuning.conflist" "$T/nad.json")" \
	"relink relink relink"

i=0
for spec in "$EX/10-podnet.conflist eth0" "$EX/20-ptp-tuning.conflist eth1" "$T/nad.json net1"; do
	read -r file ifname <<<"$spec"
	i=$((i + 1))
	privatise "$file" "$i" >"$NETCONFPATH/$i.conflist"
	net=$(jq -r .name "$NETCONFPATH/$i.conflist")
	ver=$(jq -r .cniVersion "$NETCONFPATH/$i.conflist")
	what=$(basename "$file")
	[ "$file" = "$T/nad.json" ] && what=net1-nad.yaml
	env_=(CNI_IFNAME="$ifname" CNI_ARGS="IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=virt-launcher-vm1-abcde")
	[ "$ifname" = eth1 ] && env_+=(CAP_ARGS='{"mac":"0a:58:0a:f4:02:09"}')
	cnitool_in "$node" add "$net" "$pod" "${env_[@]}"
	expect_success "$what: ADD ($ver, $ifname)"
	rec=$(record_path "$net" "$CID" "$ifname")
	expect_eq "$what: record for $ifname matches the pod" \
		"$(jq -r '"\(.ifindex) \(.mac) \(.mtu) \(.vm)"' "$rec" 2>&1)" "$(ns_link "$pod" "$ifname") default_vm1"
	[ "$ifname" = eth1 ] && expect_eq "$what: tuning set the MAC from CAP_ARGS, relink recorded it" \
		"$(jq -r .mac "$rec" 2>&1) $(ns_link "$pod" eth1 | cut -d' ' -f2)" "0a:58:0a:f4:02:09 0a:58:0a:f4:02:09"
	cnitool_in "$node" check "$net" "$pod" "${env_[@]}"
	expect_success "$what: CHECK"
	cnitool_in "$node" del "$net" "$pod" "${env_[@]}"
	expect_success "$what: DEL"
	check "$what: record removed" test ! -e "$rec"
done
finish
