#!/bin/bash
# Operators decide and see: a VM's and a network's policy, and observe-only, on live migrations.
#
#   node 1 (pods 10.244.1.0/24)                        node 2 (pods 10.244.2.0/24)
#   ┌───────────────────────────────────┐  routed     ┌───────────────────────────────────┐
#   │ relinkd --kubevirt (acting)       │═════════════│ relinkd --kubevirt --observe      │
#   │ server VM                         │             │                                   │
#   │ obs18, obs19 ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─│─ migrate ─ ▶│ obs18, obs19: decided, logged,    │
#   │ obs18, obs19 acted on  ◀ ─ ─ ─ ─ ─│─ migrate ─ ─│   never touched                   │
#   │ pflap, pnone, pobs: nothing done ◀│─ migrate ─ ─│ pflap, pnone, pobs                │
#   └───────────────────────────────────┘             └───────────────────────────────────┘
#   pflap: profile kubevirt-1.8 (the target serves the new pod's MAC: the guest needs a re-attach) with the
#          VM's policy "flap" (multus cni-args → args.cni.relinkPolicy) → relinkd must not re-plug.
#   pnone: profile kubevirt-1.9 (a flap would do) on a network whose relink conf says relinkPolicy "none".
#   pobs:  profile kubevirt-1.9 on a network whose relink conf says relinkObserve true: observed, not acted on,
#          by the acting relinkd.
#   obs18/obs19: kubevirt-1.8 / 1.9 with no policy, migrated to the observing node, then back to the
#          acting one: the "would …" decisions equal what the acting relinkd decides, and the observed
#          migration leaves the guests untouched (NIC MAC, NIC count, link state; no hot-plug or carrier
#          event in the guest).
. "$(dirname "$0")/lib.sh"
e2e_init

# nic_count VMI / link_down VMI — the live domain's <interface>s; its interfaces whose link is set down.
nic_count() { pod_virsh "$(vm_pod "$1")" domiflist "$(vm_domain "$1")" | grep -c .; }
link_down() { pod_virsh "$(vm_pod "$1")" dumpxml "$(vm_domain "$1")" | grep -c "<link state=.down."; }
# metric NODE LINE-PREFIX — the value of a metric line of NODE's relinkd.
metric() { awk -v k="$2" 'index($0, k " ") == 1 { print $2 }' "$RUN/n$1/relinkd.prom" 2>/dev/null; }
metric_is() { [ "$(metric "$1" "$2")" = "$3" ]; }   # NODE NAME VALUE
# decision VMI NODE — "decision=… served=…" of VMI's last decision line on NODE since RMARK.
decision() { rlines "$1" "$2" | grep 'decision=' | tail -1 | grep -oE '(decision|served)=[^ ]+' | paste -sd' '; }
# untouched VMI OLDMAC NICS — the guest kept its NIC as it was.
untouched() {
	check_eq "$1: NIC MAC unchanged (live domain)" "$(vm_nic_mac "$1" eth0)" "$2"
	check_eq "$1: NIC count unchanged" "$(nic_count "$1")" "$3"
	check_eq "$1: no NIC link set down" "$(link_down "$1")" 0
	check_eq "$1: guest saw no hot-plug, carrier or DHCP restart" \
		"$(since "$1" | grep -cE ' (nic-del|nic-add|carrier|dhcp-start) ')" 0
}

scenario "world: relinkd acting on node 1, observing on node 2; server and four clients"
cluster_up || { not_ok "world: nodes"; exit 1; }
relinkd_start 1
relinkd_start 2 --observe
vm_create 1 server -- --stack networkd || { not_ok "world: server VM" "$(diag_vm server)"; exit 1; }
SERVER_IP=$(pod_ip "$(vm_pod server)" eth0)
vm_create 1 obs18 --profile kubevirt-1.8 -- --stack networkd --ping "$SERVER_IP" || { not_ok "obs18: created"; exit 1; }
vm_create 1 obs19 --profile kubevirt-1.9 -- --stack networkd --ping "$SERVER_IP" || { not_ok "obs19: created"; exit 1; }
vm_create 2 pflap --profile kubevirt-1.8 --cni-args '{"relinkPolicy":"flap"}' -- --stack networkd ||
	{ not_ok "pflap: created"; exit 1; }
vm_create 2 pnone --profile kubevirt-1.9 --relink-conf '{"relinkPolicy":"none"}' -- --stack networkd ||
	{ not_ok "pnone: created"; exit 1; }
vm_create 2 pobs --profile kubevirt-1.9 --relink-conf '{"relinkObserve":true}' -- --stack networkd ||
	{ not_ok "pobs: created"; exit 1; }
for vmi in server pflap pnone pobs; do
	vm_wait_log "$vmi" 0 ' lease dev=eth0 ' 120 >/dev/null || { not_ok "$vmi: got its lease" "$(diag_vm "$vmi")"; exit 1; }
done
for vmi in obs18 obs19; do
	vm_wait_log "$vmi" 0 ' ping-ok ' 120 >/dev/null || { not_ok "$vmi: pings the server" "$(diag_vm "$vmi")"; exit 1; }
done
check_eq "pflap: the record keeps the VM's policy (args.cni)" \
	"$(jq -c .policy "$(pod_record "$(vm_pod pflap)" podnet eth0)")" \
	'{"network":"any","vm":"flap","networkObserve":false,"vmObserve":false}'
check_eq "pnone: the record keeps the network's policy (conf)" \
	"$(jq -r .policy.network "$(pod_record "$(vm_pod pnone)" podnet eth0)")" none
check_re "node 2 (observing) did not write pflap's first-sight identity" \
	"$(tail -n +1 "$RUN/n2/relinkd.log" | grep -F "domain=$(vm_domain pflap) " | grep -m1 'first-sight')" \
	'first-sight trigger=[a-z]+ observe=daemon: would record identity \(not written\)'

# ---------------------------------------------------------------- policies, acting relinkd
scenario "policies: pflap (VM: flap), pnone (network: none), pobs (network: observe) migrate to the acting node 1"
declare -A OLDMAC NICS MARKS RMARKS
for vmi in pflap pnone pobs; do
	OLDMAC[$vmi]=$(vm_nic_mac "$vmi" eth0) NICS[$vmi]=$(nic_count "$vmi")
	client_migrate "$vmi" 1 || exit 1
	MARKS[$vmi]=$MARK RMARKS[$vmi]=$RMARK
done
for vmi in pflap pnone; do
	MARK=${MARKS[$vmi]} RMARK=${RMARKS[$vmi]}
	rl_wait 30 rlines_has "$vmi" 1 " policy-denied "
done
MARK=${MARKS[pflap]} RMARK=${RMARKS[pflap]}
check_re "pflap: relinkd decided reattach (the target serves the new pod's MAC), policy flap from the VM" \
	"$(rlines pflap 1 | grep -m1 'decision=')" 'decision=reattach .*served=record .*policy=flap\(vm\)$'
check_re "pflap: relinkd says the policy forbids the re-attach and does nothing" \
	"$(rlines pflap 1 | grep -m1 ' policy-denied ')" \
	'policy-denied kind=reattach policy=flap\(vm\): policy flap\(vm\) forbids reattach: the guest keeps its NIC'
check_eq "pflap: no action started" "$(rlines pflap 1 | grep -cE ' (escalate|verified|FAILED|aborted|link-down|re-plug|detach) ')" 0
untouched pflap "${OLDMAC[pflap]}" "${NICS[pflap]}"
MARK=${MARKS[pnone]} RMARK=${RMARKS[pnone]}
check_re "pnone: relinkd decided flap, policy none from the network" \
	"$(rlines pnone 1 | grep -m1 'decision=')" 'decision=flap .*policy=none\(network\)$'
check_re "pnone: relinkd says the policy forbids the flap" \
	"$(rlines pnone 1 | grep -m1 ' policy-denied ')" 'policy-denied kind=flap policy=none\(network\): policy none\(network\) forbids flap'
check_eq "pnone: no action started" "$(rlines pnone 1 | grep -cE ' (escalate|verified|FAILED|aborted|link-down|re-plug|detach) ')" 0
untouched pnone "${OLDMAC[pnone]}" "${NICS[pnone]}"
MARK=${MARKS[pobs]} RMARK=${RMARKS[pobs]}
rl_wait 30 rlines_has pobs 1 " observed observe=network: would "
check_re "pobs: relinkd decided flap, observing for the network" \
	"$(rlines pobs 1 | grep -m1 'decision=')" 'decision=flap .*served=nic .*policy=any\(default\) observe=network$'
check_re "pobs: 'would flap', the domain not touched" "$(rlines pobs 1 | grep -m1 ' observed ')" \
	"observed observe=network: would flap mac_new=${OLDMAC[pobs]} .*the domain is not touched"
rl_wait 5 false       # an acting relinkd's flap (1 s hold) would have shown by now
check_eq "pobs: no action started" "$(rlines pobs 1 | grep -cE ' (escalate|verified|FAILED|aborted|link-down|re-plug|detach) ')" 0
untouched pobs "${OLDMAC[pobs]}" "${NICS[pobs]}"
rl_wait 5 metric_is 1 'relinkd_policy_denied_total{kind="flap"}' 1
check_eq "node 1 counts the denied re-attach" "$(metric 1 'relinkd_policy_denied_total{kind="reattach"}')" 1
check_eq "node 1 counts the denied flap" "$(metric 1 'relinkd_policy_denied_total{kind="flap"}')" 1
check_eq "node 1 counts the observed flap" "$(metric 1 'relinkd_observed_total{decision="flap"}')" 1

# ---------------------------------------------------------------- observe-only
scenario "observe: obs18 (MAC changes) and obs19 (MAC kept) migrate to the observing node 2"
declare -A OBSERVED
for vmi in obs18 obs19; do
	OLDMAC[$vmi]=$(vm_nic_mac "$vmi" eth0) NICS[$vmi]=$(nic_count "$vmi")
	client_migrate "$vmi" 2 || exit 1
	MARKS[$vmi]=$MARK RMARKS[$vmi]=$RMARK
done
for vmi in obs18 obs19; do
	MARK=${MARKS[$vmi]} RMARK=${RMARKS[$vmi]}
	rl_wait 30 rlines_has "$vmi" 2 " observed observe=daemon: would "
	OBSERVED[$vmi]=$(decision "$vmi" 2)
	echo "# $vmi: $(rlines "$vmi" 2 | grep -m1 ' observed ' | sed 's/.* \(observed .*\)/\1/')"
done
MARK=${MARKS[obs18]} RMARK=${RMARKS[obs18]}
check_re "obs18: decision logged with its evidence, observe=daemon" "$(rlines obs18 2 | grep -m1 'decision=')" \
	'decision=reattach .*served=record probe=nic:unanswered,record:answered.* observe=daemon$'
check_re "obs18: 'would reattach' with the MAC it would plug" "$(rlines obs18 2 | grep -m1 ' observed ')" \
	"observed observe=daemon: would reattach mac_new=$(pod_mac "$(vm_pod obs18)" eth0) "
MARK=${MARKS[obs19]} RMARK=${RMARKS[obs19]}
check_re "obs19: decision logged with its evidence, observe=daemon" "$(rlines obs19 2 | grep -m1 'decision=')" \
	'decision=flap .*served=nic .* observe=daemon$'
check_re "obs19: 'would flap' keeping the MAC" "$(rlines obs19 2 | grep -m1 ' observed ')" \
	"observed observe=daemon: would flap mac_new=${OLDMAC[obs19]} "
rl_wait 10 false      # what an acting relinkd would have done by now (flap 1 s + verify) did not happen
for vmi in obs18 obs19; do
	MARK=${MARKS[$vmi]} RMARK=${RMARKS[$vmi]}
	# every line about a NIC (decisions, actions' steps) but debug ones; lifecycle lines have no nic=
	check_eq "$vmi: about its NIC, nothing but the decision and the observation from node 2" \
		"$(rlines "$vmi" 2 | grep -v ' debug ' | grep ' nic=' | grep -vE 'decision=| observed observe=daemon: would ')" ""
	untouched "$vmi" "${OLDMAC[$vmi]}" "${NICS[$vmi]}"
done
check_eq "node 2 counts the observed re-attach" "$(metric 2 'relinkd_observed_total{decision="reattach"}')" 1
check_eq "node 2 counts the observed flap" "$(metric 2 'relinkd_observed_total{decision="flap"}')" 1
check_eq "node 2 started no action at all" \
	"$(grep '^relinkd_actions_total' "$RUN/n2/relinkd.prom" | awk '{ s += $2 } END { print s + 0 }')" 0

scenario "observe vs. acting: obs18 and obs19 migrate back to the acting node 1"
for vmi in obs18 obs19; do
	client_migrate "$vmi" 1 || exit 1
	MARKS[$vmi]=$MARK RMARKS[$vmi]=$RMARK
done
for vmi in obs18 obs19; do
	MARK=${MARKS[$vmi]} RMARK=${RMARKS[$vmi]}
	rl_wait 60 rlines_has "$vmi" 1 " verified | FAILED "
	check_eq "$vmi: the observed decision is what the acting relinkd decides" "$(decision "$vmi" 1)" "${OBSERVED[$vmi]}"
	check_re "$vmi: the acting relinkd verified its action" "$(rlines "$vmi" 1 | grep -E ' verified | FAILED ' | tail -1)" ' verified '
	check_ping_back "$vmi: ping comes back" "$vmi" 1 60
done
MARK=${MARKS[obs18]}
check_eq "obs18: acting re-attach plugged the new pod's MAC" "$(vm_nic_mac obs18 eth0)" "$(pod_mac "$(vm_pod obs18)" eth0)"
MARK=${MARKS[obs19]}
check_eq "obs19: acting flap kept the MAC" "$(vm_nic_mac obs19 eth0)" "${OLDMAC[obs19]}"
