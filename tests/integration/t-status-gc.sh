#!/bin/bash
# STATUS and GC (cniVersion 1.1.0) by direct invocation: no Debian plugin speaks 1.1.0.
#
#   pod netns $P"p": eth0 <-veth-> net1 (pod_veth)
#   state: $P-a/{c1@eth0,c2@eth0,c3@eth0,c3@net1}.json   $P-b/c1@eth0.json
#
# STATUS: ready (exit 0, no output) on a usable store; code 50 with a reason when the state dir
# cannot be created. GC removes exactly the records of its own network that are not in
# cni.dev/valid-attachments, leaves other networks and unreadable files alone.
. "$(dirname "$0")/lib.sh"
rl_init

veth_pod
NA=$P-a NB=$P-b

add() { # NETWORK CID IFNAME
	plugin_conf 1.1.0 "$1" "$(prev_result 1.1.0 "$pod" "$3")" >"$T/add.json"
	relink_call ADD "$T/add.json" CNI_CONTAINERID="$2" CNI_NETNS="/run/netns/$pod" CNI_IFNAME="$3"
	[ "$RC" -eq 0 ] || echo "# ADD $*: exit $RC: $OUT $ERR"
	[ "$RC" -eq 0 ]
}
records() { # NETWORK -> sorted record names, one line
	(cd "$STATE/$1" 2>/dev/null && ls -1 -- *.json 2>/dev/null) | sort | tr '\n' ' '
}
gc() { # NETWORK VALID_JSON_ARRAY (or "absent")
	if [ "$2" = absent ]; then
		plugin_conf 1.1.0 "$1" >"$T/gc.json"
	else
		plugin_conf 1.1.0 "$1" | jq --argjson v "$2" '. + {"cni.dev/valid-attachments": $v}' >"$T/gc.json"
	fi
	relink_call GC "$T/gc.json"
}

# --- STATUS
plugin_conf 1.1.0 "$NA" >"$T/status.json"
relink_call STATUS "$T/status.json"
expect_success "STATUS on a fresh store: ready"
expect_eq "STATUS prints nothing when ready" "$OUT" ""

: >"$T/not-a-dir"
jq --arg s "$T/not-a-dir/state" '.stateDir = $s' "$T/status.json" >"$T/status-bad.json"
relink_call STATUS "$T/status-bad.json"
expect_cni_error "STATUS with an unusable stateDir: code 50" 50
check "STATUS code 50 message says why" test -n "$(jq -r '.msg + (.details // "")' <<<"$OUT" 2>/dev/null)"

# --- GC
check "ADD $NA c1@eth0" add "$NA" c1 eth0
check "ADD $NA c2@eth0" add "$NA" c2 eth0
check "ADD $NA c3@eth0" add "$NA" c3 eth0
check "ADD $NA c3@net1" add "$NA" c3 net1
check "ADD $NB c1@eth0" add "$NB" c1 eth0
expect_eq "five records" "$(records "$NA")| $(records "$NB")" \
	"c1@eth0.json c2@eth0.json c3@eth0.json c3@net1.json | c1@eth0.json "
printf '{"schema": 1, "network": ' >"$STATE/$NA/c9@eth0.json"   # torn/corrupt record
before_b=$(snapshot "$STATE/$NB")

gc "$NA" absent
expect_cni_error "GC without cni.dev/valid-attachments: code 7" 7
expect_eq "GC without cni.dev/valid-attachments removes nothing" "$(records "$NA")" \
	"c1@eth0.json c2@eth0.json c3@eth0.json c3@net1.json c9@eth0.json "

gc "$NA" '[{"containerID":"c1","ifname":"eth0"},{"containerID":"c3","ifname":"net1"},{"containerID":"zz","ifname":"eth0"}]'
expect_success "GC $NA keeping c1@eth0 and c3@net1"
expect_eq "GC prints nothing" "$OUT" ""
expect_eq "GC removed exactly c2@eth0 and c3@eth0 (same container, other ifname kept)" "$(records "$NA")" \
	"c1@eth0.json c3@net1.json c9@eth0.json "
expect_eq "GC left the other network byte-for-byte" "$(snapshot "$STATE/$NB")" "$before_b"
expect_eq "GC left the corrupt file alone" "$(cat "$STATE/$NA/c9@eth0.json")" '{"schema": 1, "network": '

gc "$NA" '[{"containerID":"c1","ifname":"eth0"},{"containerID":"c3","ifname":"net1"}]'
expect_success "GC again with the same list"
expect_eq "second GC is a no-op" "$(records "$NA")" "c1@eth0.json c3@net1.json c9@eth0.json "

gc "$NA" '[]'
expect_success "GC with an empty valid list"
expect_eq "GC with an empty list removed every readable record of $NA" "$(records "$NA")" "c9@eth0.json "
expect_eq "... and still not $NB" "$(records "$NB")" "c1@eth0.json "

gc "$P-never" '[]'
expect_success "GC of a network with no state dir succeeds"

finish
