#!/bin/bash
# relinkd status against a live cluster-in-a-box during a migration: its JSON shows the launchers relinkd
# follows, the action in flight while the guest's link is held down, then the verified result.
#
#   node 1 (pods 10.244.1.0/24)                   node 2 (pods 10.244.2.0/24)
#   ┌──────────────────────────────┐   routed     ┌──────────────────────────────┐
#   │ relinkd --status-socket S1   │══════════════│ relinkd --status-socket S2   │
#   │ server VM, pinned ─ ─ ─ ─ ─ ─│─ migrate ─ ─▶│ pinned (new launcher pod)    │
#   └──────────────────────────────┘              └──────────────────────────────┘
#   pinned: MAC pinned by the VM spec, networkd → relinkd flaps (link held down 1 s) and verifies.
#   A poller runs `relinkd status --json --socket S2` every 100 ms across the migration; the test reads its
#   snapshots afterwards (the action in flight), then asks once more (the verified decision).
. "$(dirname "$0")/lib.sh"
e2e_init

sock() { echo "$RUN/n$1/status/s.sock"; }
status() { local n=$1; shift; "$RL_RELINKD" status --socket "$(sock "$n")" "$@"; }
pod_netns_id() { stat -L -c '%d:%i' "/run/netns/$(pod_get "$1" netns)"; }

scenario "world: nodes, relinkd serving status on both, server and a pinned client"
cluster_up || { not_ok "world: nodes"; exit 1; }
relinkd_start 1 --status-socket "$(sock 1)"
relinkd_start 2 --status-socket "$(sock 2)"
vm_create 1 server -- --stack networkd || { not_ok "world: server VM" "$(diag_vm server)"; exit 1; }
SERVER_IP=$(pod_ip "$(vm_pod server)" eth0)
vm_wait_log server 0 ' lease dev=eth0 ' 60 >/dev/null || { not_ok "world: server got its lease" "$(diag_vm server)"; exit 1; }
client_boot pinned 1 --mac "$(rl_mac)" -- --stack networkd --ping "$SERVER_IP" || exit 1
DOM=$(vm_domain pinned)
SRC=$(vm_pod pinned)

json=$(status 1 --json)
check_eq "node 1: status --json answers" "$?" 0
l=$(jq -c --arg u "$(pod_uid "$SRC")" '.launchers[] | select(.pod_uid == $u)' <<<"$json")
check_eq "node 1: follows the client's launcher pod, connected" "$(jq -r .state <<<"$l")" connected
check_eq "node 1: … in the launcher pod's netns (dev:ino)" "$(jq -r .netns <<<"$l")" "$(pod_netns_id "$SRC")"
# One daemon, two names of its socket (libvirt-sock, virtqemud-sock): whichever the rescan found first.
check_re "node 1: … through its kubelet path" "$(jq -r .socket <<<"$l")" "^$(pod_emptydir "$SRC")/(virtqemud|libvirt)-sock\$"
check_eq "node 1: the server's launcher too (2 launchers)" "$(jq '.launchers | length' <<<"$json")" 2
# uid 65534 runs bin/relinkd when it cannot run $RL_RELINKD (make check's sanitize wrapper is in a 0700 dir).
nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
client=$RL_RELINKD
"${nobody[@]}" test -x "$client" || client=$E2E_ROOT/bin/relinkd
out=$("${nobody[@]}" "$client" status --socket "$(sock 1)" 2>&1)
check_eq "a non-root client is refused (exit 1, root only)" "$? $out" \
	"1 relinkd status: cannot connect to '$(sock 1)': Permission denied: relinkd status is for root only"

scenario "migrate pinned to node 2 while polling status"
mkdir -p "$RUN/status-poll"
(
	i=0
	while [ $i -lt 600 ]; do
		# Mostly JSON (the checks), every third one the table (shown below).
		if [ $((i % 3)) = 2 ]; then
			status 2 >"$RUN/status-poll/$(printf %04d $i).txt" 2>&1
		else
			status 2 --json >"$RUN/status-poll/$(printf %04d $i).json" 2>&1
		fi
		i=$((i + 1))
		sleep 0.1
	done
) &
poller=$!
rl_track $poller "status poller"
client_migrate pinned 2 || { kill $poller; exit 1; }
TGT=$MIG_POD
check_ping_back "pinned: ping comes back" pinned 2 30
rl_wait 15 rlines_has pinned 2 " verified "
kill $poller 2>/dev/null
wait $poller 2>/dev/null
check_re "relinkd verified a flap (log)" "$(rlines pinned 2 | grep -m1 ' verified ')" 'verified kind=flap'

# The snapshots taken while the action ran.
inflight=$(cat "$RUN"/status-poll/*.json | jq -c --arg d "$DOM" 'select(.actions | any(.domain == $d))' 2>/dev/null)
n=$(grep -c '' <<<"$inflight")
[ -n "$inflight" ] || n=0
polls=$(find "$RUN/status-poll" -name '*.json' | wc -l)
check_lt "some snapshots caught the action in flight ($n of $polls)" 0 "$n"
a=$(jq -c --arg d "$DOM" '.actions[] | select(.domain == $d)' <<<"$inflight" | head -1)
echo "# action in flight: $a"
check_eq "in flight: exactly one action" "$(head -1 <<<"$inflight" | jq '.actions | length')" 1
check_eq "in flight: a flap on rung 1" "$(jq -r '"\(.kind) \(.rung)"' <<<"$a")" "flap 1"
check_re "in flight: the NIC by PCI address and alias" "$(jq -r '"\(.nic) \(.alias)"' <<<"$a")" \
	'^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-9] [a-z0-9-]+$'
check_eq "in flight: on the target launcher pod's connection" "$(jq -r .pod <<<"$a")" "$(pod_uid "$TGT")"
check_re "in flight: its record" "$(jq -r .record <<<"$a")" "@"
phases=$(jq -r --arg d "$DOM" '.actions[] | select(.domain == $d) | .phase' <<<"$inflight" | sort -u | tr '\n' ' ')
check_re "in flight: seen holding the link down ($phases)" "$phases" 'link-down'
el=$(jq -s -r --arg d "$DOM" '[.[].actions[] | select(.domain == $d) | .elapsed_ms] | "\(min) \(max)"' <<<"$inflight")
check_re "in flight: elapsed_ms counts from the migration event and grows ($el)" "$el" '^[0-9]+ [0-9]+$'
check_lt "… first seen within 15 s of the event" "${el% *}" 15000
[ "$n" -gt 1 ] && check_lt "… grows between snapshots" "${el% *}" "${el#* }"
during=$(jq -c --arg d "$DOM" '[.decisions[] | select(.domain == $d)] | last' <<<"$(head -1 <<<"$inflight")")
check_eq "in flight: its decision is pending" "$(jq -r '"\(.decision) \(.result)"' <<<"$during")" "flap pending"

# After: nothing in flight, the decision verified, the target pod followed.
json=$(status 2 --json)
check_eq "after: nothing in flight" "$(jq '.actions | length' <<<"$json")" 0
d=$(jq -c --arg d "$DOM" '[.decisions[] | select(.domain == $d)] | last' <<<"$json")
echo "# decision: $d"
check_eq "after: the decision, its trigger and result" "$(jq -r '"\(.decision) \(.trigger) \(.result) \(.kind)"' <<<"$d")" \
	"flap migrated verified flap"
check_eq "after: the same decision (seq) as in flight" "$(jq .seq <<<"$d")" "$(jq .seq <<<"$during")"
check_re "after: its evidence (served MAC)" "$(jq -r .evidence <<<"$d")" 'served='
check_lt "after: renewal_ms measured" "$(jq -r .renewal_ms <<<"$d")" 15000
check_re "after: result_at is a time" "$(jq -r .result_at <<<"$d")" '^20[0-9-]+T[0-9:.]+Z$'
l=$(jq -c --arg u "$(pod_uid "$TGT")" '.launchers[] | select(.pod_uid == $u)' <<<"$json")
check_eq "after: node 2 follows the target launcher pod, connected" "$(jq -r .state <<<"$l")" connected
check_eq "after: … in its netns" "$(jq -r .netns <<<"$l")" "$(pod_netns_id "$TGT")"
text=$(status 2)
check_re "table: the verified result" "$text" "result:   verified at [0-9T:.-]+Z kind=flap renewal_ms=[0-9]+"
echo "# the table while the link was held down:"
t=$(grep -l "^Actions in flight: 1" "$RUN"/status-poll/*.txt 2>/dev/null | head -1)
[ -n "$t" ] && sed 's/^/# | /' "$t"
echo "# the table afterwards:"
echo "$text" | sed 's/^/# | /'
