#!/bin/bash
# relink ADD vs Go `tuning` ADD (Debian's containernetworking-plugins) vs /bin/true:
# wall time in ONE hyperfine run (same machine state for all three), then peak RSS of each.
#
#   bench/run.sh                  (make bench)
#   RUNS=500 WARMUP=50 ROUNDS=5 bench/run.sh
#   RELINK=/path/to/relink TUNING=/path/to/tuning bench/run.sh
#
# Both plugins get the same prevResult and the same netns (a veth pair in a fresh namespace):
#   pod netns $P"b": eth0 10.250.0.2/24 <-veth-> peer
# tuning is configured with no changes (no sysctl/mac/mtu): it parses, enters the netns, prints
# prevResult. relink does its real ADD: parse, read the link over netlink in the netns, write
# the record atomically under a stateDir in /run, print prevResult.
# Commands run through hyperfine's default shell (needed for the stdin redirect); hyperfine
# measures and subtracts the shell's own start-up time. Output: a table and the ratios.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RELINK=${RELINK:-$ROOT/bin/relink}
TUNING=${TUNING:-/usr/lib/cni/tuning}
RUNS=${RUNS:-300}
WARMUP=${WARMUP:-30}
RSS_RUNS=${RSS_RUNS:-20}
ROUNDS=${ROUNDS:-3}

for x in "$RELINK" "$TUNING" /usr/bin/time; do [ -x "$x" ] || { echo "bench: missing $x" >&2; exit 1; }; done
command -v hyperfine >/dev/null && command -v jq >/dev/null || { echo "bench: needs hyperfine, jq (scripts/setup.sh)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench: run as root (namespaces)" >&2; exit 1; }

P=rl$(printf '%04x' $(((RANDOM * 65599 + $$) & 0xffff)))
NS=${P}b
T=$(mktemp -d "/run/$P-bench.XXXXXX")
cleanup() { ip netns del "$NS" 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT

ip netns add "$NS"
ip -n "$NS" link add eth0 type veth peer name peer0
ip -n "$NS" addr add 10.250.0.2/24 dev eth0
ip -n "$NS" link set eth0 up
ip -n "$NS" link set peer0 up
MAC=$(ip -n "$NS" -j link show eth0 | jq -r '.[0].address')
PREV=$(jq -nc --arg mac "$MAC" --arg ns "/run/netns/$NS" '{cniVersion: "1.0.0",
	interfaces: [{name: "eth0", mac: $mac, sandbox: $ns}],
	ips: [{interface: 0, address: "10.250.0.2/24", gateway: "10.250.0.1"}],
	routes: [{dst: "0.0.0.0/0"}], dns: {nameservers: ["10.96.0.10"]}}')
jq -n --argjson p "$PREV" --arg s "$T/state" \
	'{cniVersion: "1.0.0", name: "bench", type: "relink", stateDir: $s, prevResult: $p}' >"$T/relink.json"
jq -n --argjson p "$PREV" '{cniVersion: "1.0.0", name: "bench", type: "tuning", prevResult: $p}' >"$T/tuning.json"

export CNI_COMMAND=ADD CNI_CONTAINERID=bench0 CNI_NETNS=/run/netns/$NS CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni
export CNI_ARGS="IgnoreUnknown=true;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=virt-launcher-vm1-abcde"
# Both must really succeed with this input before anything is timed.
for p in relink tuning; do
	bin=$RELINK
	[ $p = tuning ] && bin=$TUNING
	out=$("$bin" <"$T/$p.json") || { echo "bench: $p ADD failed: $out" >&2; exit 1; }
	[ "$(jq -cS . <<<"$out")" = "$(jq -cS . <<<"$PREV")" ] || { echo "bench: $p did not echo prevResult" >&2; exit 1; }
done
[ -f "$T/state/bench/bench0@eth0.json" ] || { echo "bench: relink wrote no record" >&2; exit 1; }

echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== relink: $RELINK ($(stat -c %s "$RELINK") bytes), tuning: $TUNING ($(stat -c %s "$TUNING") bytes)"

# ROUNDS separate hyperfine runs; each times all three commands together (interleaved machine
# state). Sub-millisecond medians move with the machine's load, so every round is reported.
med() { jq -r --arg n "$2" '.results[] | select(.command == $n) | .median * 1000' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
for r in $(seq "$ROUNDS"); do
	hyperfine --warmup "$WARMUP" --runs "$RUNS" --export-json "$T/h$r.json" --style basic \
		-n "relink ADD" "$RELINK <$T/relink.json" \
		-n "tuning ADD" "$TUNING <$T/tuning.json" \
		-n "/bin/true" "/bin/true <$T/relink.json" 2>&1 | grep -v -e Warning -e '^ *$'
	printf '%s %s %s\n' "$(med "$T/h$r.json" "relink ADD")" "$(med "$T/h$r.json" "tuning ADD")" \
		"$(med "$T/h$r.json" /bin/true)" >>"$T/medians"
done

# Peak RSS (KiB) per command: median of RSS_RUNS runs of GNU time's %M.
rss() {
	local i
	for i in $(seq "$RSS_RUNS"); do
		/usr/bin/time -f %M -o "$T/rss" "$@" <"$T/in" >/dev/null
		cat "$T/rss"
	done | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'
}
cp "$T/relink.json" "$T/in"
rss_relink=$(rss "$RELINK")
cp "$T/tuning.json" "$T/in"
rss_tuning=$(rss "$TUNING")
rss_true=$(rss /bin/true)

echo
printf '%-6s %12s %12s %12s %15s %15s\n' round "relink ms" "tuning ms" "true ms" "relink/tuning" "relink/true"
r=0
while read -r a b c; do
	r=$((r + 1))
	printf '%-6s %12.3f %12.3f %12.3f %15s %15s\n' "$r" "$a" "$b" "$c" "$(ratio "$a" "$b")" "$(ratio "$a" "$c")"
	echo "$(ratio "$a" "$b") $(ratio "$a" "$c")" >>"$T/ratios"
done <"$T/medians"
mid() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
r1=$(cut -d' ' -f1 "$T/ratios" | mid) r2=$(cut -d' ' -f2 "$T/ratios" | mid)
r3=$(ratio "$rss_relink" "$rss_tuning")
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r <= t ? "meets" : "MISSES") }'; }
echo
printf 'peak RSS KiB (median of %s): relink %s, tuning %s, /bin/true %s\n' "$RSS_RUNS" "$rss_relink" "$rss_tuning" "$rss_true"
echo "relink / tuning wall (median of rounds): $r1  (target <= 0.2: $(verdict "$r1" 0.2))"
echo "relink / true   wall (median of rounds): $r2  (target <= 2: $(verdict "$r2" 2))"
echo "relink / tuning RSS:                     $r3  (target <= 0.6: $(verdict "$r3" 0.6))"
