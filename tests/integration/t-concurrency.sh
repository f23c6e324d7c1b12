#!/bin/bash
# Many ADD/DEL/GC at once, for different containers and networks: nothing lost, nothing corrupt,
# no temporary file left, every call exits 0.
#
#   pod netns $P"p": eth0 <-veth-> net1 (pod_veth); every attachment points at it
#   networks $P-c0 .. $P-c3, seeded with s0..s7@eth0 each, then in parallel:
#     c0, c1: ADD n0..n15 (eth0/net1 alternating), DEL s0..s3, ADD s5 ten times over
#     c2:     GC keeping s0..s3 + n0..n7 while n0..n7 are being ADDed
#     c3:     six GCs keeping everything while n0..n7 are being ADDed
. "$(dirname "$0")/lib.sh"
rl_init

veth_pod
PREV_ETH0=$(prev_result 1.1.0 "$pod" eth0)
PREV_NET1=$(prev_result 1.1.0 "$pod" net1)
mkdir -p "$T/par"

# Seed: s0..s7@eth0 in every network, sequentially.
seeded=0
for c in 0 1 2 3; do
	plugin_conf 1.1.0 "$P-c$c" "$PREV_ETH0" >"$T/c$c-eth0.json"
	plugin_conf 1.1.0 "$P-c$c" "$PREV_NET1" >"$T/c$c-net1.json"
	for s in 0 1 2 3 4 5 6 7; do
		relink_call ADD "$T/c$c-eth0.json" CNI_CONTAINERID="s$s" CNI_NETNS="$NETNS" CNI_IFNAME=eth0
		[ "$RC" -eq 0 ] && seeded=$((seeded + 1))
	done
done
expect_eq "seeded 32 records" "$seeded" 32

n_jobs=0
job() { # VERB STDIN ENV... (runs in the background; result in $T/par/<n>.rc)
	local id=$n_jobs verb=$1 in=$2
	shift 2
	n_jobs=$((n_jobs + 1))
	env -i PATH=/usr/bin:/bin CNI_COMMAND="$verb" CNI_PATH="$CNI_PATH_T" "$@" "$RELINK" <"$in" \
		>"$T/par/$id.out" 2>"$T/par/$id.err" &
	bg_started $!
	echo "$verb $* <$(basename "$in")" >"$T/par/$id.what"
}
gc_input() { # NETWORK CONTAINER... -> file (all on eth0)
	local net=$1 f=$T/gc-$1-$RANDOM.json
	shift
	plugin_conf 1.1.0 "$net" |
		jq --args '. + {"cni.dev/valid-attachments": [$ARGS.positional[] | {containerID: ., ifname: "eth0"}]}' \
			"$@" >"$f"
	echo "$f"
}
ifn() { if [ $(($1 % 2)) -eq 0 ]; then echo eth0; else echo net1; fi; }

GC2=$(gc_input "$P-c2" s0 s1 s2 s3 n0 n1 n2 n3 n4 n5 n6 n7)
GC3=$(gc_input "$P-c3" s0 s1 s2 s3 s4 s5 s6 s7 n0 n1 n2 n3 n4 n5 n6 n7)
pids_before=${#_pids[@]}
for i in $(seq 0 15); do
	for c in 0 1; do
		job ADD "$T/c$c-$(ifn "$i").json" CNI_CONTAINERID="n$i" CNI_NETNS="$NETNS" CNI_IFNAME="$(ifn "$i")"
	done
	if [ "$i" -lt 8 ]; then
		job ADD "$T/c2-eth0.json" CNI_CONTAINERID="n$i" CNI_NETNS="$NETNS" CNI_IFNAME=eth0
		job ADD "$T/c3-eth0.json" CNI_CONTAINERID="n$i" CNI_NETNS="$NETNS" CNI_IFNAME=eth0
	fi
	if [ "$i" -lt 4 ]; then
		job DEL "$T/c0-eth0.json" CNI_CONTAINERID="s$i" CNI_NETNS="$NETNS" CNI_IFNAME=eth0
		job DEL "$T/c1-eth0.json" CNI_CONTAINERID="s$i" CNI_IFNAME=eth0
	fi
	[ "$i" -eq 3 ] && job GC "$GC2"
	[ $((i % 3)) -eq 0 ] && job GC "$GC3"
	[ "$i" -lt 10 ] && job ADD "$T/c$((i % 2))-eth0.json" CNI_CONTAINERID=s5 CNI_NETNS="$NETNS" CNI_IFNAME=eth0
done
for pid in "${_pids[@]:pids_before}"; do
	wait "$pid"
	echo $? >"$T/par/pid-$pid.rc"
done
bad=$(grep -lvx 0 "$T"/par/pid-*.rc | wc -l)
expect_eq "all $n_jobs parallel calls exited 0" "$bad" 0
if [ "$bad" -ne 0 ]; then
	for f in "$T"/par/*.err; do [ -s "$f" ] && echo "#   $(cat "${f%.err}.what"): $(head -c 300 "$f")"; done | head -20
fi
nonempty=0
for f in "$T"/par/*.out; do
	id=$(basename "$f" .out)
	case $(cat "$T/par/$id.what") in
	ADD*) jq -e '.interfaces[0].name' "$f" >/dev/null 2>&1 || nonempty=$((nonempty + 1)) ;;
	*) [ -s "$f" ] && nonempty=$((nonempty + 1)) ;;
	esac
done
expect_eq "ADD printed prevResult, DEL/GC printed nothing" "$nonempty" 0

records() { (cd "$STATE/$1" && ls -1 -- *.json 2>/dev/null) | sort | tr '\n' ' '; }
want_new() { # ids... -> expected names for ADD n* with alternating ifname
	local i
	for i in "$@"; do echo "n$i@$(ifn "$i").json"; done
}
want() { printf '%s\n' "$@" | sort | tr '\n' ' '; }
for c in 0 1; do
	expect_eq "$P-c$c: s0..s3 deleted, s4..s7 kept, n0..n15 added" "$(records "$P-c$c")" \
		"$(want $(want_new $(seq 0 15)) s4@eth0.json s5@eth0.json s6@eth0.json s7@eth0.json)"
done
expect_eq "$P-c2: GC removed s4..s7, kept s0..s3 and the concurrently added n0..n7" "$(records "$P-c2")" \
	"$(want s{0..3}@eth0.json n{0..7}@eth0.json)"
expect_eq "$P-c3: GCs removed nothing" "$(records "$P-c3")" "$(want s{0..7}@eth0.json n{0..7}@eth0.json)"

corrupt=0 total=0
for f in "$STATE"/*/*.json; do
	total=$((total + 1))
	base=$(basename "$f" .json) net=$(basename "$(dirname "$f")")
	jq -e --arg n "$net" --arg c "${base%@*}" --arg i "${base#*@}" \
		'.network == $n and .containerID == $c and .ifname == $i and (.ifindex > 0) and (.mac | length == 17)' \
		"$f" >/dev/null 2>&1 || { corrupt=$((corrupt + 1)); echo "#   corrupt: $f"; }
done
expect_eq "every one of the $total records is complete and names its own file" "$corrupt" 0
expect_eq "no temporary files left" "$(find "$STATE" -type f ! -name '*.json' ! -name .lock | wc -l)" 0
expect_eq "file modes 0600" "$(find "$STATE" -name '*.json' ! -perm 0600 | wc -l)" 0

finish
