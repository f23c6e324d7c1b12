#!/bin/bash
# CNI conformance for relink as a chained plugin, against any installed binary.
#
#   RELINK=/path/to/relink conformance/run.sh      (or: relink found in $CNI_PATH)
#   make conformance                               (RELINK=bin/relink)
#
# Needs root, jq, iproute2, cnitool (CNITOOL=…, $RELINK_TOOLS/bin, .tools/bin or $PATH) and the
# reference plugins bridge + host-local (CNI_PLUGINS, default /usr/lib/cni or /opt/cni/bin).
# Prints "ok - …" / "not ok - …" lines and "N passed, N failed"; exit 0 only when nothing failed.
#
#   node netns $P"n" (cnitool runs here; bridge $P-br)       pod netns $P"p<i>", one per case
#   chain: bridge(+host-local) → capture → relink → capture  (capture = records stdin, echoes prevResult)
#
# The rules checked are the CNI spec's for chained plugins (SPEC.md, versions 0.3.0 … 1.1.0):
# VERSION, prevResult echoed unchanged in the config's cniVersion, ADD without prevResult,
# DEL idempotent / without netns / without prevResult, CHECK, error JSON on stdout with exit 1,
# unknown config keys and CNI_ARGS tolerated, STATUS and GC for 1.1.0.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
VERSIONS="0.3.0 0.3.1 0.4.0 1.0.0"   # what the reference plugins (libcni 1.1.x) speak
ALL_VERSIONS="$VERSIONS 1.1.0"

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() {
	local n=$1 l
	shift
	failed=$((failed + 1))
	echo "not ok - $n"
	for l in "$@"; do printf '#   %s\n' "$l"; done
}
expect_eq() { if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1" "got:  $2" "want: $3"; fi; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }
fatal() { not_ok "prerequisites: $*"; finish; }

# --- locate everything
if [ -z "${RELINK:-}" ]; then
	IFS=: read -r -a _dirs <<<"${CNI_PATH:-}"
	for d in "${_dirs[@]}"; do [ -x "$d/relink" ] && RELINK=$d/relink && break; done
fi
[ -n "${RELINK:-}" ] && [ -x "$RELINK" ] || fatal "set RELINK=/path/to/relink or put relink in CNI_PATH"
RELINK=$(readlink -f "$RELINK")
CNITOOL=${CNITOOL:-}
for c in "${RELINK_TOOLS:-$ROOT/.tools}/bin/cnitool" "$(command -v cnitool 2>/dev/null)"; do
	[ -z "$CNITOOL" ] && [ -n "$c" ] && [ -x "$c" ] && CNITOOL=$c
done
[ -n "$CNITOOL" ] || fatal "cnitool not found (scripts/setup.sh builds it; or set CNITOOL)"
if [ -z "${CNI_PLUGINS:-}" ]; then
	for d in /usr/lib/cni /opt/cni/bin; do [ -x "$d/bridge" ] && CNI_PLUGINS=$d && break; done
fi
[ -x "${CNI_PLUGINS:-}/bridge" ] && [ -x "$CNI_PLUGINS/host-local" ] || fatal "bridge/host-local not found"
[ "$(id -u)" = 0 ] || fatal "must run as root (namespaces)"
command -v jq >/dev/null || fatal "jq missing"

P=rl$(printf '%04x' $(((RANDOM * 65599 + $$) & 0xffff)))
T=$(mktemp -d "/tmp/$P-conf.XXXXXX")
NETNS_MADE=()
cleanup() {
	local ns
	for ns in "${NETNS_MADE[@]}"; do ip netns del "$ns" 2>/dev/null; done
	rm -f /var/lib/cni/results/"$P"-* 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
netns() { ip netns add "$1" || fatal "ip netns add $1"; NETNS_MADE+=("$1"); ip -n "$1" link set lo up; }

mkdir -p "$T/bin" "$T/net.d" "$T/cap"
ln -s "$RELINK" "$T/bin/relink"
# capture: a chained plugin that records what it was given and echoes prevResult unchanged.
cat >"$T/bin/capture" <<EOF
#!/bin/bash
in=\$(cat)
n=\$(ls "$T/cap" | wc -l)
printf '%s' "\$in" >"$T/cap/\$(printf %03d \$n)-\$CNI_COMMAND.json"
case \$CNI_COMMAND in
ADD) jq -c '.prevResult' <<<"\$in" ;;
VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0"]}' ;;
esac
EOF
chmod +x "$T/bin/capture"
CNI_PATH_T=$T/bin:$CNI_PLUGINS
STATE=$T/state
netns "${P}n"
NODE=${P}n

# relink_raw VERB STDIN_FILE [VAR=VALUE...]: direct call with exactly this environment.
relink_raw() {
	local verb=$1 in=$2 cmd=()
	shift 2
	[ "$verb" = - ] || cmd=(CNI_COMMAND="$verb")
	OUT=$(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "${cmd[@]}" CNI_PATH="$CNI_PATH_T" "$@" "$RELINK" \
		<"$in" 2>"$T/stderr")
	RC=$?
	ERR=$(<"$T/stderr")
}
# The spec's error shape: exit 1; stdout is exactly one JSON object with a numeric code,
# a non-empty msg, and cniVersion; (optional) details a string.
expect_error() { # NAME CODE|any
	local shape
	shape=$(jq -rs 'if length == 1 and (.[0] | type) == "object" then .[0] |
		"\(.code | type)|\(.code)|\(.msg | type)|\((.msg // "") | length > 0)|\(.cniVersion | type)|\((.details // "") | type)"
		else "not-one-object" end' <<<"$OUT" 2>/dev/null)
	local want="number|$2|string|true|string|string"
	[ "$2" = any ] && shape=$(sed -E 's/^number\|[0-9]+\|/number|any|/' <<<"$shape")
	if [ "$RC" -eq 1 ] && [ "$shape" = "$want" ] && [ -n "$ERR" ]; then
		ok "$1"
	else
		not_ok "$1" "want exit 1 + error JSON (code $2) on stdout + stderr line" "exit $RC" \
			"stdout: ${OUT:0:300}" "stderr: ${ERR:0:200}"
	fi
}
expect_rc0() { if [ "$RC" -eq 0 ]; then ok "$1"; else not_ok "$1" "exit $RC" "stdout: ${OUT:0:300}" "stderr: ${ERR:0:300}"; fi; }

# A conflist: bridge → capture → relink → capture, in version V, network name N.
conflist() { # V N SUBNET_INDEX [extra relink keys as JSON]
	local extra=${4:-"{}"}
	jq -n --arg v "$1" --arg n "$2" --arg br "$P-br$3" --arg sub "10.250.$3.0/24" --arg ipam "$T/ipam" \
		--arg s "$STATE" --argjson extra "$extra" '{
		cniVersion: $v, name: $n,
		plugins: [
			{type: "bridge", bridge: $br, isGateway: true,
			 ipam: {type: "host-local", dataDir: $ipam, subnet: $sub, routes: [{dst: "0.0.0.0/0"}]},
			 dns: {nameservers: ["10.96.0.10"], search: ["svc.cluster.local"]}},
			{type: "capture"},
			({type: "relink", stateDir: $s} + $extra),
			{type: "capture"}
		]}' >"$T/net.d/$2.conflist"
}
cni() { # VERB NETWORK POD_NS [VAR=VALUE...] → OUT ERR RC
	local verb=$1 net=$2 pod=$3
	shift 3
	OUT=$(ip netns exec "$NODE" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_PATH="$CNI_PATH_T" \
		NETCONFPATH="$T/net.d" "$@" "$CNITOOL" "$verb" "$net" "/run/netns/$pod" 2>"$T/stderr")
	RC=$?
	ERR=$(<"$T/stderr")
}
cid_of() { local h; h=$(printf '%s' "/run/netns/$1" | sha512sum); echo "cnitool-${h:0:20}"; }
last_captures() { ls "$T/cap" | tail -2; } # the two capture inputs of the last ADD

# ---------------------------------------------------------------- VERSION
relink_raw VERSION /dev/null
expect_rc0 "VERSION exits 0 with nothing on stdin and no other variables"
expect_eq "VERSION reports 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0" \
	"$(jq -r '[.supportedVersions[] | select(IN("0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"))] | sort | join(" ")' <<<"$OUT" 2>&1)" \
	"0.3.0 0.3.1 0.4.0 1.0.0 1.1.0"
expect_eq "VERSION result carries a cniVersion it supports" \
	"$(jq -r '.cniVersion as $v | .supportedVersions | index($v) != null' <<<"$OUT" 2>&1)" true
printf '{"cniVersion": "1.0.0", "garbage' >"$T/garbage"
relink_raw VERSION "$T/garbage"
expect_rc0 "VERSION does not parse stdin"

# ---------------------------------------------------------------- chained ADD/CHECK/DEL per version
i=0
for v in $VERSIONS; do
	i=$((i + 1))
	net=$P-v${v//./}
	pod=${P}p$i
	netns "$pod"
	conflist "$v" "$net" "$i" '{"someUnknownKey": {"nested": [1, "two"]}, "runtimeConfig": {"x": 1}}'
	cni add "$net" "$pod" CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod$i;FOO=bar"
	expect_rc0 "$v: ADD bridge→capture→relink→capture (unknown config keys, unknown CNI_ARGS)"
	read -r c1 c2 < <(last_captures | tr '\n' ' ')
	in_prev=$(jq -cS .prevResult "$T/cap/$c1" 2>&1)
	out_prev=$(jq -cS .prevResult "$T/cap/$c2" 2>&1)
	expect_eq "$v: relink's result equals the prevResult it was given" "$out_prev" "$in_prev"
	expect_eq "$v: result is in the config's cniVersion" "$(jq -r .cniVersion <<<"$out_prev")" "$v"
	expect_eq "$v: the pod interface is in that result" \
		"$(jq -r '[.interfaces[] | select(.sandbox != null and .sandbox != "") | .name] | join(",")' <<<"$out_prev")" eth0

	if [ "$v" = 0.3.0 ] || [ "$v" = 0.3.1 ]; then
		# No CHECK before 0.4.0: a plugin asked anyway answers "incompatible version" (code 1).
		jq --arg s "$STATE" --arg n "$net" --arg v "$v" --slurpfile p "$T/cap/$c2" \
			'{cniVersion: $v, name: $n, type: "relink", stateDir: $s, prevResult: $p[0].prevResult}' -n >"$T/chk.json"
		relink_raw CHECK "$T/chk.json" CNI_CONTAINERID="$(cid_of "$pod")" CNI_NETNS="/run/netns/$pod" CNI_IFNAME=eth0
		expect_error "$v: CHECK refused for a pre-0.4.0 config (code 1)" 1
	else
		cni check "$net" "$pod" CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod$i"
		expect_rc0 "$v: CHECK of the chain passes"
		# CHECK for an attachment relink never saw must fail (prevResult of a real pod, wrong container).
		jq --arg s "$STATE" --arg n "$net" --arg v "$v" --slurpfile p "$T/cap/$c2" \
			'{cniVersion: $v, name: $n, type: "relink", stateDir: $s, prevResult: $p[0].prevResult}' -n >"$T/chk.json"
		relink_raw CHECK "$T/chk.json" CNI_CONTAINERID=never-added CNI_NETNS="/run/netns/$pod" CNI_IFNAME=eth0
		expect_error "$v: CHECK of an unknown attachment fails" any
		jq 'del(.prevResult)' "$T/chk.json" >"$T/chk-noprev.json"
		relink_raw CHECK "$T/chk-noprev.json" CNI_CONTAINERID="$(cid_of "$pod")" CNI_NETNS="/run/netns/$pod" CNI_IFNAME=eth0
		expect_error "$v: CHECK without prevResult fails" any
	fi

	cni del "$net" "$pod"
	expect_rc0 "$v: DEL"
	cni del "$net" "$pod"
	expect_rc0 "$v: DEL again (nothing left, no cached prevResult)"
	if [ "$v" != 0.3.0 ] && [ "$v" != 0.3.1 ]; then
		relink_raw CHECK "$T/chk.json" CNI_CONTAINERID="$(cid_of "$pod")" CNI_NETNS="/run/netns/$pod" CNI_IFNAME=eth0
		expect_error "$v: CHECK after DEL fails" any
	fi
done

# ---------------------------------------------------------------- direct: exact pass-through
# prevResults with every field the version defines (and one it does not), echoed byte-for-byte
# in meaning: same JSON after key sorting.
netns "${P}d"
ip -n "${P}d" link add eth0 type veth peer name eth1 && ip -n "${P}d" addr add 10.251.0.5/24 dev eth0 &&
	ip -n "${P}d" addr add fd00:251::5/64 dev eth0 nodad && ip -n "${P}d" link set eth0 up &&
	ip -n "${P}d" link set eth1 up || fatal "veth in ${P}d"
MAC=$(ip -n "${P}d" -j link show eth0 | jq -r '.[0].address')
prev_for() { # VERSION
	jq -nc --arg v "$1" --arg mac "$MAC" --arg ns "/run/netns/${P}d" '
		($v | startswith("0.")) as $old | ($v == "1.1.0") as $new |
		{cniVersion: $v,
		 interfaces: [{name: "br0", mac: "0a:00:00:00:00:01"},
		              ({name: "eth0", mac: $mac, sandbox: $ns}
		               + (if $new then {mtu: 1500, socketPath: "/run/x.sock", pciID: "0000:00:03.0"} else {} end))],
		 ips: [({interface: 1, address: "10.251.0.5/24", gateway: "10.251.0.1"} + (if $old then {version: "4"} else {} end)),
		       ({interface: 1, address: "fd00:251::5/64", gateway: "fd00:251::1"} + (if $old then {version: "6"} else {} end))],
		 routes: [{dst: "0.0.0.0/0", gw: "10.251.0.1"},
		          ({dst: "192.0.2.0/24"} + (if $new then {mtu: 1400, advmss: 1360, priority: 10, table: 100, scope: 0} else {} end))],
		 dns: {nameservers: ["10.96.0.10", "fd00::10"], domain: "cluster.local", search: ["a.svc", "svc"], options: ["ndots:5"]}}'
}
for v in $ALL_VERSIONS; do
	prev=$(prev_for "$v")
	jq -n --arg v "$v" --arg s "$STATE" --argjson p "$prev" \
		'{cniVersion: $v, name: "'"$P"'-direct", type: "relink", stateDir: $s, prevResult: $p, "x-vendor": true}' >"$T/d.json"
	relink_raw ADD "$T/d.json" CNI_CONTAINERID=direct CNI_NETNS="/run/netns/${P}d" CNI_IFNAME=eth0 \
		CNI_ARGS="IgnoreUnknown=true;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=virt-launcher-vm-abcde;K8S_POD_UID=u;K8S_POD_INFRA_CONTAINER_ID=direct"
	expect_rc0 "$v: direct ADD with a full prevResult"
	expect_eq "$v: stdout is prevResult, unchanged" "$(jq -cS . <<<"$OUT" 2>&1)" "$(jq -cS . <<<"$prev")"
done
for v in $ALL_VERSIONS; do
	jq -n --arg v "$v" --arg s "$STATE" \
		'{cniVersion: $v, name: "'"$P"'-direct", type: "relink", stateDir: $s}' >"$T/d-noprev.json"
	relink_raw ADD "$T/d-noprev.json" CNI_CONTAINERID=noprev CNI_NETNS="/run/netns/${P}d" CNI_IFNAME=eth0
	expect_error "$v: ADD without prevResult is an error" any
done

# ---------------------------------------------------------------- DEL edge cases
jq -n --arg s "$STATE" '{cniVersion: "1.0.0", name: "'"$P"'-direct", type: "relink", stateDir: $s}' >"$T/del.json"
relink_raw DEL "$T/del.json" CNI_CONTAINERID=direct CNI_IFNAME=eth0
expect_rc0 "DEL without CNI_NETNS and without prevResult"
relink_raw DEL "$T/del.json" CNI_CONTAINERID=direct CNI_NETNS= CNI_IFNAME=eth0
expect_rc0 "DEL with an empty CNI_NETNS, already deleted"
relink_raw DEL "$T/del.json" CNI_CONTAINERID=never-seen CNI_NETNS=/run/netns/${P}gone CNI_IFNAME=eth0
expect_rc0 "DEL of an unknown container whose netns is gone"
jq -n --arg s "$STATE" '{cniVersion: "1.0.0", name: "'"$P"'-unused", type: "relink", stateDir: $s}' >"$T/del2.json"
relink_raw DEL "$T/del2.json" CNI_CONTAINERID=x CNI_IFNAME=eth0
expect_rc0 "DEL on a network relink never saw"

# ---------------------------------------------------------------- errors
relink_raw ADD "$T/d.json"
expect_error "missing CNI_CONTAINERID/CNI_NETNS/CNI_IFNAME: code 4" 4
expect_eq "... all three named in one error" \
	"$(jq -r '(.msg + " " + (.details // "")) as $m | [("CNI_CONTAINERID","CNI_NETNS","CNI_IFNAME") | select(. as $k | $m | contains($k))] | length' <<<"$OUT" 2>&1)" 3
relink_raw FROB "$T/d.json" CNI_CONTAINERID=x CNI_NETNS="/run/netns/${P}d" CNI_IFNAME=eth0
expect_error "unknown CNI_COMMAND: code 4" 4
jq '.cniVersion = "9.9.9"' "$T/d.json" >"$T/v999.json"
relink_raw ADD "$T/v999.json" CNI_CONTAINERID=x CNI_NETNS="/run/netns/${P}d" CNI_IFNAME=eth0
expect_error "unsupported cniVersion: code 1" 1
printf '{"cniVersion":"1.0.0","name":' >"$T/bad.json"
relink_raw ADD "$T/bad.json" CNI_CONTAINERID=x CNI_NETNS="/run/netns/${P}d" CNI_IFNAME=eth0
expect_error "undecodable config: code 6" 6
jq 'del(.name)' "$T/d.json" >"$T/noname.json"
relink_raw ADD "$T/noname.json" CNI_CONTAINERID=x CNI_NETNS="/run/netns/${P}d" CNI_IFNAME=eth0
expect_error "config without a network name: code 7" 7
expect_eq "error cniVersion is the config's when it is supported" \
	"$(jq -r .cniVersion <<<"$OUT" 2>&1)" "1.1.0"

# ---------------------------------------------------------------- STATUS, GC (1.1.0)
jq -n --arg s "$STATE" '{cniVersion: "1.1.0", name: "'"$P"'-gc", type: "relink", stateDir: $s}' >"$T/s.json"
relink_raw STATUS "$T/s.json"
expect_rc0 "1.1.0: STATUS ready"
expect_eq "1.1.0: STATUS prints nothing" "$OUT" ""
jq '.cniVersion = "1.0.0"' "$T/s.json" >"$T/s100.json"
relink_raw STATUS "$T/s100.json"
expect_error "STATUS with a 1.0.0 config: code 1" 1
jq --arg s "/dev/null/state" '.stateDir = $s' "$T/s.json" >"$T/s-bad.json"
relink_raw STATUS "$T/s-bad.json"
expect_error "1.1.0: STATUS with an unusable state dir: code 50" 50

for c in keep1 keep2 stale1 stale2; do
	jq --argjson p "$(prev_for 1.1.0)" '. + {prevResult: $p}' "$T/s.json" >"$T/gc-add.json"
	relink_raw ADD "$T/gc-add.json" CNI_CONTAINERID="$c" CNI_NETNS="/run/netns/${P}d" CNI_IFNAME=eth0
	[ "$RC" -eq 0 ] || not_ok "1.1.0: ADD $c for GC" "exit $RC: $OUT"
done
jq '. + {"cni.dev/valid-attachments": [{containerID: "keep1", ifname: "eth0"}, {containerID: "keep2", ifname: "eth0"}]}' \
	"$T/s.json" >"$T/gc.json"
relink_raw GC "$T/gc.json"
expect_rc0 "1.1.0: GC with two valid attachments"
expect_eq "1.1.0: GC prints nothing" "$OUT" ""
for c in keep1 keep2 stale1 stale2; do
	relink_raw CHECK "$T/gc-add.json" CNI_CONTAINERID="$c" CNI_NETNS="/run/netns/${P}d" CNI_IFNAME=eth0
	echo "$c:$RC"
done >"$T/gc-check"
expect_eq "1.1.0: after GC, CHECK passes for kept and fails for collected attachments" \
	"$(tr '\n' ' ' <"$T/gc-check")" "keep1:0 keep2:0 stale1:1 stale2:1 "
jq '.cniVersion = "1.0.0"' "$T/gc.json" >"$T/gc100.json"
relink_raw GC "$T/gc100.json"
expect_error "GC with a 1.0.0 config: code 1" 1

finish
