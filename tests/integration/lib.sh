# shellcheck shell=bash
# Shared helpers for tests/integration/t-*.sh (sourced, never run).
#
# Every script: `. lib.sh; rl_init`, then namespaces from netns_new, assertions from
# ok/not_ok/check*/expect_* (tests/lib-common.sh and below), and `finish` as its last line (prints "N passed, N failed").
# Names are unique per run: $P = rl<4 hex>; namespaces "$P<suffix>", networks "$P-<suffix>".
# The EXIT trap deletes only what this run created: its namespaces, its temp dir, the cnitool
# result-cache files of its networks, tuning backups of its container IDs, PIDs it started.
#
# Environment: RELINK (default bin/relink), RELINK_TOOLS (cnitool at $RELINK_TOOLS/bin/cnitool),
# CNI_PLUGINS (default /usr/lib/cni). Failures print the plugin's stdout and stderr.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RELINK=${RELINK:-$ROOT/bin/relink}
CNITOOL=${CNITOOL:-${RELINK_TOOLS:-$ROOT/.tools}/bin/cnitool}
CNI_PLUGINS=${CNI_PLUGINS:-/usr/lib/cni}
CNI_CACHE=/var/lib/cni/results
TUNING_DIR=/run/cni/tuning

# shellcheck source=tests/lib-common.sh
. "$ROOT/tests/lib-common.sh"   # passed/failed, ok, not_ok, check, expect_eq
_netns=() _pids=() _cids=()
T="" P="" CNI_PATH_T="" STATE=""

finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

# Bail out with one failure when the test cannot run at all (never a silent skip).
_fatal() {
	not_ok "prerequisites: $*"
	finish
}

cleanup() {
	local i ns
	set +e
	for i in "${_pids[@]}"; do
		kill "$i" 2>/dev/null && wait "$i" 2>/dev/null
	done
	for ns in "${_netns[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	if [ -n "$P" ]; then
		rm -f "$CNI_CACHE/$P-"* 2>/dev/null
		for i in "${_cids[@]}"; do
			rm -f "$TUNING_DIR/${i}_"* 2>/dev/null
		done
	fi
	[ -n "$T" ] && rm -rf "$T"
}

rl_init() {
	[ "$(id -u)" = 0 ] || _fatal "must run as root"
	[ -x "$RELINK" ] || _fatal "no plugin at $RELINK (run make)"
	command -v jq >/dev/null || _fatal "jq missing (scripts/setup.sh)"
	local id tries=0
	while :; do
		id=$(printf '%04x' $(((RANDOM * 65599 + $$) & 0xffff)))
		P=rl$id
		compgen -G "/run/netns/$P*" >/dev/null || compgen -G "$CNI_CACHE/$P-*" >/dev/null || break
		tries=$((tries + 1))
		[ $tries -lt 50 ] || _fatal "no free name"
	done
	T=$(mktemp -d "/tmp/$P.XXXXXX")
	trap cleanup EXIT
	# The plugins this run may call: relink under its CNI type name, plus the reference plugins.
	mkdir -p "$T/bin"
	ln -s "$RELINK" "$T/bin/relink"
	CNI_PATH_T="$T/bin:$CNI_PLUGINS"
	STATE=$T/state
	export NETCONFPATH=$T/net.d
	mkdir -p "$NETCONFPATH"
}

# netns_new VAR SUFFIX: create namespace "$P$SUFFIX" (lo up), store its name in VAR.
netns_new() {
	local ns=$P$2
	ip netns add "$ns" || _fatal "ip netns add $ns"
	_netns+=("$ns")
	ip -n "$ns" link set lo up
	printf -v "$1" '%s' "$ns"
}

# cnitool_pods: node netns "$P"n (cnitool and the host side run there) and pod netns "$P"p, in $node and
# $pod; CID is the container ID cnitool derives for the pod.
cnitool_pods() {
	netns_new node n
	netns_new pod p
	# shellcheck disable=SC2034 # used by the sourcing test
	CID=$(cnitool_cid "/run/netns/$pod")
}

# veth_pod: pod netns "$P"p in $pod with pod_veth's links (counted as a check), NETNS its path.
veth_pod() {
	netns_new pod p
	check "pod with veth eth0/net1" pod_veth "$pod"
	# shellcheck disable=SC2034 # used by the sourcing test
	NETNS=/run/netns/$pod
}

# bridge_list FILE VERSION NETWORK BRIDGE SUBNET: a conflist bridge (gateway) + host-local (SUBNET,
# default route, data in $T/ipam) -> relink (stateDir $STATE).
bridge_list() {
	cat >"$1" <<EOF
{
  "cniVersion": "$2", "name": "$3",
  "plugins": [
    { "type": "bridge", "bridge": "$4", "isGateway": true,
      "ipam": {"type": "host-local", "dataDir": "$T/ipam", "subnet": "$5",
               "routes": [{"dst": "0.0.0.0/0"}]} },
    { "type": "relink", "stateDir": "$STATE" }
  ]
}
EOF
}

# bg_started PID: kill it on exit (only PIDs this script started).
bg_started() { _pids+=("$1"); }

# The container ID cnitool derives from a netns path (libcni 1.1.2: sha512, first 10 bytes).
cnitool_cid() {
	local h
	h=$(printf '%s' "$1" | sha512sum)
	echo "cnitool-${h:0:20}"
}

# cnitool_in NODE_NS VERB NETWORK POD_NS [VAR=VALUE...]
# cnitool runs inside the node netns (host-side links stay there); output in $OUT/$ERR, status $RC.
cnitool_in() {
	local node=$1 verb=$2 net=$3 pod=$4
	shift 4
	_cids+=("$(cnitool_cid "/run/netns/$pod")")
	OUT=$(ip netns exec "$node" env CNI_PATH="$CNI_PATH_T" NETCONFPATH="$NETCONFPATH" "$@" \
		"$CNITOOL" "$verb" "$net" "/run/netns/$pod" 2>"$T/stderr")
	RC=$?
	ERR=$(<"$T/stderr")
}

# relink_call VERB STDIN_FILE [VAR=VALUE...]: run the plugin directly with only the given
# environment (plus CNI_COMMAND unless VERB is "-", CNI_PATH, PATH). Sets OUT, ERR, RC.
relink_call() {
	local verb=$1 in=$2 cmd=()
	shift 2
	[ "$verb" = - ] || cmd=(CNI_COMMAND="$verb")
	OUT=$(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "${cmd[@]}" CNI_PATH="$CNI_PATH_T" "$@" \
		"$RELINK" <"$in" 2>"$T/stderr")
	RC=$?
	ERR=$(<"$T/stderr")
}

# expect_success NAME: the last call exited 0 (output is asserted separately)
expect_success() {
	if [ "$RC" -eq 0 ]; then ok "$1"; else not_ok "$1" "exit $RC" "stdout: $OUT" "stderr: $ERR"; fi
}

# expect_cni_error NAME CODE: exit 1, a CNI error object on stdout with that code and a message,
# a human line on stderr.
expect_cni_error() {
	local name=$1 code=$2 got
	got=$(jq -r 'if type=="object" then "\(.code)|\(.msg|type)|\(.msg|length>0)" else "not-an-object" end' \
		<<<"$OUT" 2>/dev/null)
	if [ "$RC" -eq 1 ] && [ "$got" = "$code|string|true" ] && [ -n "$ERR" ]; then
		ok "$name"
	else
		not_ok "$name" "want exit 1, code $code, msg, stderr line" "exit $RC" "stdout: ${OUT:0:300}" \
			"stderr: ${ERR:0:300}"
	fi
}

record_path() { echo "$STATE/$1/$2@$3.json"; } # NETWORK CONTAINERID IFNAME

# Global-scope addresses of a link in a netns, "addr/prefix" sorted, one line.
ns_addrs() {
	ip -n "$1" -j addr show dev "$2" |
		jq -r '[.[0].addr_info[] | select(.scope=="global") | "\(.local)/\(.prefixlen)"] | sort | join(" ")'
}
ns_link() { # NS IFNAME -> "ifindex mac mtu"
	ip -n "$1" -j link show dev "$2" | jq -r '.[0] | "\(.ifindex) \(.address) \(.mtu)"'
}

# verify_record TAG RECORD POD_NS IFNAME NETWORK CID PREVRESULT_JSON
# The record agrees with the kernel (ifindex, mac, mtu, addresses) and with prevResult
# (ips with gateways, routes, dns), and names its attachment correctly.
verify_record() {
	local tag=$1 rec=$2 ns=$3 ifn=$4 net=$5 cid=$6 prev=$7 got want
	if ! jq -e 'type=="object"' "$rec" >/dev/null 2>&1; then
		not_ok "$tag: record $rec exists and is a JSON object" "$(ls -la "$(dirname "$rec")" 2>&1)"
		return
	fi
	ok "$tag: record exists and is a JSON object"
	expect_eq "$tag: record mode 0600" "$(stat -c %a "$rec")" 600
	expect_eq "$tag: record names the attachment" \
		"$(jq -r '"\(.network) \(.containerID) \(.ifname)"' "$rec")" "$net $cid $ifn"
	expect_eq "$tag: ifindex/mac/mtu as ip shows them" \
		"$(jq -r '"\(.ifindex) \(.mac) \(.mtu)"' "$rec")" "$(ns_link "$ns" "$ifn")"
	expect_eq "$tag: addresses as ip shows them" \
		"$(jq -r '[.ips[] | "\(.address)/\(.prefix)"] | sort | join(" ")' "$rec")" "$(ns_addrs "$ns" "$ifn")"
	expect_eq "$tag: netns path and identity" \
		"$(jq -r '"\(.netns.path) \(.netns.dev) \(.netns.ino)"' "$rec")" \
		"/run/netns/$ns $(stat -L -c '%d %i' "/run/netns/$ns")"
	got=$(jq -c '[.ips[] | {a: "\(.address)/\(.prefix)", g: (.gateway // "")}] | sort' "$rec")
	want=$(jq -c '[.ips[] | {a: .address, g: (.gateway // "")}] | sort' <<<"$prev")
	expect_eq "$tag: ips and gateways as prevResult" "$got" "$want"
	got=$(jq -c '[(.routes // [])[] | {d: .dst, g: (.gw // "")}] | sort' "$rec")
	want=$(jq -c '[(.routes // [])[] | {d: .dst, g: (.gw // "")}] | sort' <<<"$prev")
	expect_eq "$tag: routes as prevResult" "$got" "$want"
	got=$(jq -c '(.dns.nameservers // [])' "$rec")
	want=$(jq -c '(.dns.nameservers // [])' <<<"$prev")
	expect_eq "$tag: dns nameservers as prevResult" "$got" "$want"
}

# State-dir snapshot: every entry's path, type, mode, size, symlink target, mtime and content hash.
snapshot() {
	(cd "$1" && find . -printf '%p %y %m %s %l %T@\n' | sort &&
		find . -type f -print0 | sort -z | xargs -0r sha256sum)
}

# One plugin of a conflist as a runtime feeds it directly: its config + prevResult.
# plugin_stdin CONFLIST INDEX PREVRESULT_JSON > file  (name/cniVersion from the list, as libcni does)
plugin_stdin() {
	jq --argjson prev "$3" --argjson i "$2" \
		'.plugins[$i] + {name: .name, cniVersion: .cniVersion, prevResult: $prev}' "$1"
}

# pod_veth NS: a pod without a CNI-made link: veth pair eth0 <-> net1 inside NS, both up,
# eth0 10.250.0.2/24 + fd00:250::2/64, net1 10.250.1.2/24.
pod_veth() {
	ip -n "$1" link add eth0 type veth peer name net1 &&
		ip -n "$1" addr add 10.250.0.2/24 dev eth0 &&
		ip -n "$1" addr add fd00:250::2/64 dev eth0 nodad &&
		ip -n "$1" addr add 10.250.1.2/24 dev net1 &&
		ip -n "$1" link set eth0 up && ip -n "$1" link set net1 up
}

# prev_result VERSION NS IFNAME: a prevResult in that version's shape describing IFNAME in NS as
# ip shows it (0.3.x/0.4.0 carry ips[].version, 1.x does not).
prev_result() {
	ip -n "$2" -j addr show dev "$3" | jq -c --arg v "$1" --arg ns "/run/netns/$2" '
		.[0] as $l | ($v | startswith("0.")) as $old |
		{cniVersion: $v,
		 interfaces: [{name: $l.ifname, mac: $l.address, sandbox: $ns}],
		 ips: [$l.addr_info[] | select(.scope == "global") |
		       {interface: 0, address: "\(.local)/\(.prefixlen)",
		        gateway: (if .family == "inet" then (.local | sub("\\.[0-9]+$"; ".1")) else "fd00:250::1" end)}
		       + (if $old then {version: (if .family == "inet" then "4" else "6" end)} else {} end)],
		 routes: [{dst: "0.0.0.0/0"}],
		 dns: {nameservers: ["10.96.0.10"]}}'
}

# plugin_conf VERSION NETWORK [PREVRESULT]: relink's config as a runtime would send it.
plugin_conf() {
	jq -nc --arg v "$1" --arg n "$2" --arg s "$STATE" --argjson prev "${3:-null}" \
		'{cniVersion: $v, name: $n, type: "relink", stateDir: $s}
		 + (if $prev == null then {} else {prevResult: $prev} end)'
}
