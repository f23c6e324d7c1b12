#!/bin/bash
# Malformed inputs by direct invocation: each row must give the CNI error JSON on stdout with the
# expected code, exit 1, a line on stderr, and leave the state dir (and the directory symlinks
# point into) byte-for-byte as before.
#
#   pod netns $P"p": eth0 <-veth-> net1 (pod_veth)
#   $T/state/$P-ok/keep@eth0.json        one valid record, present throughout
#   $T/state/$P-lnk -> $T/victim         a symlinked network directory
#   $T/state/$P-ok/sym@eth0.json -> $T/victim/target.json
. "$(dirname "$0")/lib.sh"
rl_init

veth_pod
NET=$P-ok
PREV=$(prev_result 1.0.0 "$pod" eth0)
ENV_OK=(CNI_CONTAINERID=bad1 CNI_NETNS="$NETNS" CNI_IFNAME=eth0)

plugin_conf 1.0.0 "$NET" "$PREV" >"$T/good.json"
relink_call ADD "$T/good.json" CNI_CONTAINERID=keep CNI_NETNS="$NETNS" CNI_IFNAME=eth0
expect_success "valid ADD creates the record the table must not touch"
expect_eq "the valid ADD echoes prevResult" "$(jq -cS . <<<"$OUT" 2>&1)" "$(jq -cS . <<<"$PREV")"

mkdir -p "$T/victim"
echo '{"do not": "touch"}' >"$T/victim/target.json"
ln -s "$T/victim" "$STATE/$P-lnk"
ln -s "$T/victim/target.json" "$STATE/$NET/sym@eth0.json"

# Inputs. Each is a file so a row names exactly what it feeds.
I=$T/in
mkdir -p "$I"
printf '{"cniVersion": "1.0.0", "name": ' >"$I/truncated"
: >"$I/empty"
echo '[]' >"$I/array"
{ cat "$T/good.json"; echo ' {'; } >"$I/trailing"
jq 'del(.prevResult)' "$T/good.json" >"$I/no-prev"
jq '.prevResult = "10.0.0.1/24"' "$T/good.json" >"$I/prev-string"
jq '.prevResult.ips[0].address = "10.0.0.300/24"' "$T/good.json" >"$I/prev-bad-ip"
jq '.prevResult.interfaces = [] | .prevResult.ips = []' "$T/good.json" >"$I/prev-no-iface"
jq 'del(.cniVersion)' "$T/good.json" >"$I/no-version"
jq '.cniVersion = "2.0.0"' "$T/good.json" >"$I/v2"
jq '.cniVersion = "0.2.0"' "$T/good.json" >"$I/v020"
jq '.cniVersion = 1.0' "$T/good.json" >"$I/v-number"
jq 'del(.name)' "$T/good.json" >"$I/no-name"
jq '.name = "../../etc"' "$T/good.json" >"$I/name-dotdot"
jq '.name = "a/b"' "$T/good.json" >"$I/name-slash"
jq '.name = ""' "$T/good.json" >"$I/name-empty"
jq --arg n "$P-lnk" '.name = $n' "$T/good.json" >"$I/name-symlink"
jq '.stateDir = "relative/state"' "$T/good.json" >"$I/statedir-relative"
jq '.stateDir = 42' "$T/good.json" >"$I/statedir-number"
jq '.logLevel = "loud"' "$T/good.json" >"$I/loglevel-bad"
jq '.logFile = "relink.log"' "$T/good.json" >"$I/logfile-relative"
jq '.cniVersion = "0.3.1" | .prevResult.cniVersion = "0.3.1" | .prevResult.ips[].version = "4"' \
	"$T/good.json" >"$I/v031"
jq '.cniVersion = "1.1.0" | del(.prevResult)' "$T/good.json" >"$I/v110"
jq 'del(.prevResult)' "$T/good.json" >"$I/v100-noprev"
jq '.cniVersion = "1.1.0" | del(.prevResult) | .["cni.dev/valid-attachments"] = "all"' \
	"$T/good.json" >"$I/gc-valid-string"
# relinkd's policy: the network's (top level) and the VM's (args.cni, e.g. multus cni-args)
jq '.relinkPolicy = "sometimes"' "$T/good.json" >"$I/policy-unknown"
jq '.relinkPolicy = "Flap"' "$T/good.json" >"$I/policy-case"
jq '.relinkPolicy = 1' "$T/good.json" >"$I/policy-number"
jq '.relinkObserve = "yes"' "$T/good.json" >"$I/observe-string"
jq '.args.cni.relinkPolicy = "re-plug"' "$T/good.json" >"$I/vm-policy-unknown"
jq '.args.cni.relinkPolicy = ["flap"]' "$T/good.json" >"$I/vm-policy-array"
jq '.args.cni.relinkObserve = 1' "$T/good.json" >"$I/vm-observe-number"
# Just over the 1 MiB cap, otherwise valid JSON (padding inside an unknown key).
{ printf '{"pad": "'; head -c 1048576 /dev/zero | tr '\0' x; printf '",'; tail -c +2 "$T/good.json"; } >"$I/oversize"

# Table: name | code | verb | input | environment (ENV_OK unless given; "-" = none of the three)
ROWS=(
	"truncated JSON|6|ADD|truncated|"
	"empty stdin|6|ADD|empty|"
	"JSON array instead of object|6|ADD|array|"
	"trailing garbage after the object|6|ADD|trailing|"
	"oversize stdin (1 MiB + config)|6|ADD|oversize|"
	"ADD without prevResult|7|ADD|no-prev|"
	"prevResult is a string|7|ADD|prev-string|"
	"prevResult with an invalid address|7|ADD|prev-bad-ip|"
	"missing cniVersion|1|ADD|no-version|"
	"cniVersion 2.0.0|1|ADD|v2|"
	"cniVersion 0.2.0|1|ADD|v020|"
	"cniVersion is a number|1|ADD|v-number|"
	"missing network name|7|ADD|no-name|"
	"network name with ..|7|ADD|name-dotdot|"
	"network name with /|7|ADD|name-slash|"
	"empty network name|7|ADD|name-empty|"
	"relative stateDir|7|ADD|statedir-relative|"
	"stateDir is a number|7|ADD|statedir-number|"
	"unknown logLevel|7|ADD|loglevel-bad|"
	"relative logFile|7|ADD|logfile-relative|"
	"relinkPolicy unknown|7|ADD|policy-unknown|"
	"relinkPolicy in the wrong case|7|ADD|policy-case|"
	"relinkPolicy is a number|7|ADD|policy-number|"
	"relinkObserve is a string|7|ADD|observe-string|"
	"args.cni.relinkPolicy unknown|7|ADD|vm-policy-unknown|"
	"args.cni.relinkPolicy is an array|7|ADD|vm-policy-array|"
	"args.cni.relinkObserve is a number|7|ADD|vm-observe-number|"
	"CHECK with an unknown relinkPolicy|7|CHECK|policy-unknown|CNI_CONTAINERID=keep CNI_NETNS=$NETNS CNI_IFNAME=eth0"
	"CHECK with an unknown args.cni.relinkPolicy|7|CHECK|vm-policy-unknown|CNI_CONTAINERID=keep CNI_NETNS=$NETNS CNI_IFNAME=eth0"
	"CHECK with a 0.3.1 config|1|CHECK|v031|"
	"STATUS with a 1.0.0 config|1|STATUS|v100-noprev|-"
	"GC with a 1.0.0 config|1|GC|v100-noprev|-"
	"GC with valid-attachments not an array|7|GC|gc-valid-string|-"
	"CNI_COMMAND missing|4|-|good.json|"
	"CNI_COMMAND unknown|4|FROB|good.json|"
	"CNI_CONTAINERID with ..|4|ADD|good.json|CNI_CONTAINERID=../../etc/passwd CNI_NETNS=$NETNS CNI_IFNAME=eth0"
	"CNI_CONTAINERID with @|4|ADD|good.json|CNI_CONTAINERID=a@eth0.json CNI_NETNS=$NETNS CNI_IFNAME=eth0"
	"CNI_CONTAINERID with /|4|DEL|good.json|CNI_CONTAINERID=keep/../keep CNI_NETNS=$NETNS CNI_IFNAME=eth0"
	"CNI_CONTAINERID empty|4|ADD|good.json|CNI_CONTAINERID= CNI_NETNS=$NETNS CNI_IFNAME=eth0"
	"CNI_IFNAME with ..|4|DEL|good.json|CNI_CONTAINERID=keep CNI_NETNS=$NETNS CNI_IFNAME=../eth0"
	"CNI_IFNAME is ..|4|ADD|good.json|CNI_CONTAINERID=bad1 CNI_NETNS=$NETNS CNI_IFNAME=.."
	"CNI_IFNAME longer than 15|4|ADD|good.json|CNI_CONTAINERID=bad1 CNI_NETNS=$NETNS CNI_IFNAME=eth0123456789abc"
	"CNI_ARGS pair without =|4|ADD|good.json|CNI_CONTAINERID=bad1 CNI_NETNS=$NETNS CNI_IFNAME=eth0 CNI_ARGS=IgnoreUnknown=true;K8S_POD_NAME"
	"CNI_CONTAINERID too long for a record name|4|ADD|good.json|CNI_CONTAINERID=$(printf 'a%.0s' {1..248}) CNI_NETNS=$NETNS CNI_IFNAME=eth0"
	"ADD for a symlinked network dir|5|ADD|name-symlink|"
)

before=$(snapshot "$STATE"; snapshot "$T/victim")
for row in "${ROWS[@]}"; do
	IFS='|' read -r name code verb input envs <<<"$row"
	if [ -z "$envs" ]; then
		env_row=("${ENV_OK[@]}")
	elif [ "$envs" = - ]; then
		env_row=()
	else
		read -r -a env_row <<<"$envs"
	fi
	[ "$input" = good.json ] && input=../good.json
	relink_call "$verb" "$I/$input" "${env_row[@]}"
	expect_cni_error "$name → code $code" "$code"
	after=$(snapshot "$STATE"; snapshot "$T/victim")
	[ "$after" == "$before" ] || not_ok "$name: state dir untouched" "$(diff <(echo "$before") <(echo "$after"))"
done
expect_eq "state dir untouched by all ${#ROWS[@]} rows" "$(snapshot "$STATE"; snapshot "$T/victim")" "$before"

# All missing variables are named in one error.
relink_call ADD "$T/good.json"
expect_cni_error "ADD without CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME → code 4" 4
named=$(jq -r '.msg + " " + (.details // "")' <<<"$OUT" 2>/dev/null)
check "one error names CNI_CONTAINERID, CNI_NETNS and CNI_IFNAME" \
	bash -c '[[ $1 == *CNI_CONTAINERID* && $1 == *CNI_NETNS* && $1 == *CNI_IFNAME* ]]' _ "$named"

# A policy error says which key and value, for the operator reading the pod's events.
relink_call ADD "$I/vm-policy-unknown" "${ENV_OK[@]}"
expect_eq "the error names the key and the value" "$(jq -r .msg <<<"$OUT" 2>&1)" \
	"args.cni.relinkPolicy 're-plug' is not one of any, flap, replug, none"

# CNI_NETNS that does not exist: ADD fails cleanly, nothing written.
relink_call ADD "$T/good.json" CNI_CONTAINERID=bad2 CNI_NETNS=/run/netns/${P}nope CNI_IFNAME=eth0
expect_cni_error "ADD with a missing netns: code 4 (CNI_NETNS)" 4
expect_eq "... and nothing written" "$(snapshot "$STATE"; snapshot "$T/victim")" "$before"

# The pod interface is neither in prevResult nor in the netns.
relink_call ADD "$I/prev-no-iface" CNI_CONTAINERID=bad3 CNI_NETNS="$NETNS" CNI_IFNAME=eth7
check "ADD for an interface that exists nowhere: exit 1 with a CNI error" \
	test "$RC" -eq 1 -a "$(jq -r '.code | type' <<<"$OUT" 2>/dev/null)" = number
expect_eq "... and nothing written" "$(snapshot "$STATE"; snapshot "$T/victim")" "$before"

# DEL tolerates CNI_ARGS it cannot parse: a teardown is never blocked over ADD-only data.
relink_call DEL "$T/good.json" CNI_CONTAINERID=delargs CNI_NETNS="$NETNS" CNI_IFNAME=eth0 "CNI_ARGS=K8S_POD_NAME"
expect_success "DEL with a malformed CNI_ARGS succeeds"

# DEL never fails over a relinkd knob: a pod whose ADD was refused for its policy can still be torn down.
relink_call DEL "$I/policy-unknown" CNI_CONTAINERID=delpolicy CNI_NETNS="$NETNS" CNI_IFNAME=eth0
expect_success "DEL with an unknown relinkPolicy succeeds"

# A valid policy is recorded: the network's, the VM's and the observe flags, apart.
jq '.relinkPolicy = "replug" | .args.cni.relinkPolicy = "flap" | .args.cni.relinkObserve = true' "$T/good.json" \
	>"$T/policy.json"
relink_call ADD "$T/policy.json" CNI_CONTAINERID=pol CNI_NETNS="$NETNS" CNI_IFNAME=eth0
expect_success "ADD with relinkPolicy replug and args.cni relinkPolicy flap + relinkObserve"
expect_eq "... the record keeps both policies and the VM's observe flag" \
	"$(jq -c .policy "$(record_path "$NET" pol eth0)" 2>&1)" \
	'{"network":"replug","vm":"flap","networkObserve":false,"vmObserve":true}'
relink_call DEL "$T/policy.json" CNI_CONTAINERID=pol CNI_NETNS="$NETNS" CNI_IFNAME=eth0
expect_success "... and DEL removes it"
check "... gone" test ! -e "$(record_path "$NET" pol eth0)"

# A record that is a symlink is never followed: CHECK refuses it, DEL removes only the link.
plugin_conf 1.0.0 "$NET" "$PREV" >"$T/sym.json"
relink_call CHECK "$T/sym.json" CNI_CONTAINERID=sym CNI_NETNS="$NETNS" CNI_IFNAME=eth0
check "CHECK of a symlinked record fails" \
	test "$RC" -eq 1 -a "$(jq -r '.code | type' <<<"$OUT" 2>/dev/null)" = number
relink_call DEL "$T/sym.json" CNI_CONTAINERID=sym CNI_NETNS="$NETNS" CNI_IFNAME=eth0
expect_success "DEL of a symlinked record succeeds"
expect_eq "symlink target untouched" "$(cat "$T/victim/target.json")" '{"do not": "touch"}'

# VERSION never reads stdin: garbage is fine.
relink_call VERSION "$I/truncated"
expect_success "VERSION ignores stdin"
expect_eq "VERSION lists the supported versions" "$(jq -c .supportedVersions <<<"$OUT" 2>&1)" \
	'["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]'

check "valid record still intact after everything" test "$(jq -r .containerID "$STATE/$NET/keep@eth0.json")" = keep

finish
