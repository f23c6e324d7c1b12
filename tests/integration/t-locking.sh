#!/bin/bash
# The per-network lock (<stateDir>/<network>/.lock, flock: ADD/DEL shared, GC exclusive), held
# from outside the plugin the way a long GC would hold it.
#
#   pod netns $P"p": eth0 <-veth-> net1 (pod_veth)
#   state: $T/state/$P-l/{held@eth0,late@eth0}.json
#
# - ADD while a GC-style exclusive lock is held briefly: ADD waits, then succeeds.
# - ADD while it is held past the plugin's 10 s limit: code 11 (try again later), nothing written.
# - Shared holders (other ADD/DEL) never block ADD.
. "$(dirname "$0")/lib.sh"
rl_init
command -v flock >/dev/null || _fatal "flock (util-linux) missing"

veth_pod
NET=$P-l
plugin_conf 1.0.0 "$NET" "$(prev_result 1.0.0 "$pod" eth0)" >"$T/add.json"
add() { relink_call ADD "$T/add.json" CNI_CONTAINERID="$1" CNI_NETNS="$NETNS" CNI_IFNAME=eth0; }

add first
expect_success "first ADD creates the network directory and its lock file"
LOCK=$STATE/$NET/.lock
check "lock file exists" test -f "$LOCK"

# hold MODE: a background holder of the lock until $T/release appears; returns once it holds it.
hold() {
	rm -f "$T/held" "$T/release"
	(
		exec 9<>"$LOCK"
		flock "$1" 9 && : >"$T/held"
		while [ ! -e "$T/release" ]; do sleep 0.02; done
	) &
	bg_started $!
	HOLDER=$!
	while [ ! -e "$T/held" ] && kill -0 "$HOLDER" 2>/dev/null; do sleep 0.01; done
	[ -e "$T/held" ]
}
release() { : >"$T/release"; wait "$HOLDER"; }

check "shared lock taken from outside" hold -s
add shared
expect_success "ADD next to a shared holder"
release

check "exclusive (GC) lock taken from outside" hold -x
(sleep 1; : >"$T/release") &
bg_started $!
t0=$(date +%s%N)
add waited
expect_success "ADD waits for a 1 s exclusive holder, then succeeds"
ms=$((($(date +%s%N) - t0) / 1000000))
check "... after about a second (${ms} ms)" test "$ms" -ge 900 -a "$ms" -lt 9000
check "... and wrote its record" test -f "$(record_path "$NET" waited eth0)"
wait "$HOLDER"

check "exclusive lock taken again" hold -x
before=$(snapshot "$STATE")
t0=$(date +%s%N)
add late
ms=$((($(date +%s%N) - t0) / 1000000))
expect_cni_error "ADD under a lock held too long: code 11" 11
check "... after the 10 s limit (${ms} ms)" test "$ms" -ge 9500 -a "$ms" -lt 20000
expect_eq "... nothing written" "$(snapshot "$STATE")" "$before"
release
add late
expect_success "ADD succeeds once the lock is free"

finish
