# shellcheck shell=bash
# tests/realguest/lib.sh — the real-guest tier: real Debian 12 guests (guest/debian/) migrated in the
# cluster-in-a-box (cluster/lib.sh + cluster/guest-debian.sh) with relinkd on both nodes.
#
#   . "$(dirname "$0")/lib.sh"
#   rg_init networkd nm ifupdown          # cluster_init, images (cached), prerequisites, nodes, relinkd
#   rg_case NAME STACK new|pin            # declare a case: the VM's MAC comes from the pod / is pinned
#   rg_boot_all NAME...                   # create every VM, then wait for every first lease (parallel boot)
#   rg_migrate_case NAME                  # migrate to node 2; sets RG_OOPS when the guest kernel oopsed
#   rg_run_cases NAME...                  # boot all, migrate each, rerun each oopsed case once on a new VM
#
# A kernel oops in the guest after the migration is a platform fault (TCG live migration can corrupt a
# real guest's memory; guest/debian/README.md): the case is reported "ok - … # SKIP platform fault: …",
# rerun once on a fresh VM, and the closing comment says how often it happened. Never relinkd's failure.

RG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=cluster/lib.sh
. "$RG_ROOT/cluster/lib.sh"
# shellcheck source=cluster/guest-debian.sh
. "$RG_ROOT/cluster/guest-debian.sh"
# shellcheck source=tests/lib-common.sh
. "$RG_ROOT/tests/lib-common.sh"
RL_SAY_PREFIX="# "
RG_T0=$(rl_ms)
RG_BOOT_TIMEOUT=${RG_BOOT_TIMEOUT:-420}     # s, all guests booting at once on 2 cores under TCG
RG_MIGRATIONS=0 RG_OOPSES=0
# relinkd runs with its defaults: the verification windows follow the guest (a silent re-plugged guest is
# waited for --reattach-verify-ms, 20 s; a guest that asked, --answer-ms for the server to answer).
# RG_RELINKD_OPTS adds options (e.g. to compare with other windows).
RG_RELINKD_OPTS=${RG_RELINKD_OPTS-}

check_re() { if [[ $2 =~ $3 ]]; then ok "$1"; else not_ok "$1" "got:  $2" "want: =~ $3"; fi; }

rg_finish() {
	local rc=$?
	cluster_cleanup
	# fd 3 is the test's stdout even when the exit interrupts a function whose output is redirected.
	{
		echo "# platform faults: $RG_OOPSES guest kernel oops(es) in $RG_MIGRATIONS migrations"
		echo "# total $((($(rl_ms) - RG_T0) / 1000)) s"
		echo "$passed passed, $failed failed"
	} >&3
	[ "$failed" -eq 0 ] && [ "$rc" -eq 0 ]
}

# rg_init STACK... — run id + cleanup trap, images, prerequisites, two nodes, relinkd on both.
rg_init() {
	local t0
	cluster_init || { not_ok "cluster_init"; echo "$passed passed, $failed failed"; exit 1; }
	exec 3>&1
	trap 'rg_finish' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	t0=$(rl_ms)
	if ! dg_images "$@" 2>"$RUN/images.err"; then
		not_ok "Debian guest images (guest/debian/build.sh)" "$(tail -5 "$RUN/images.err")"
		exit 1
	fi
	echo "# images ready in $((($(rl_ms) - t0) / 1000)) s: $*"
	if ! cluster_check 2>"$RUN/check.err"; then
		not_ok "prerequisites" "$(cat "$RUN/check.err")"
		exit 1
	fi
	for f in "$RL_RELINKD" /usr/bin/qemu-img; do
		[ -x "$f" ] || { not_ok "prerequisites" "missing $f"; exit 1; }
	done
	cluster_up || { not_ok "world: nodes"; exit 1; }
	# shellcheck disable=SC2086 # word splitting of the option string is intended
	relinkd_start 1 $RG_RELINKD_OPTS
	# shellcheck disable=SC2086
	relinkd_start 2 $RG_RELINKD_OPTS
}

# ---------------------------------------------------------------- cases

declare -A RG_STACK RG_PATH RG_VMI
# rg_case NAME STACK new|pin — new: the VM's MAC is the pod's (a new one on the target: re-attach);
# pin: the VMI pins its MAC (unchanged on the target: flap for networkd; the same-MAC re-plug at once for
# NM/ifupdown, whose DHCP clients relinkd recognised at boot).
rg_case() { RG_STACK[$1]=$2 RG_PATH[$1]=$3 RG_VMI[$1]=$1; }

# rg_create NAME VMI — pod + launcher + libvirtd + Debian VM on node 1.
rg_create() {
	local name=$1 vmi=$2 popts=()
	[ "${RG_PATH[$name]}" = pin ] && popts=(--mac "$(rl_mac)")
	dg_vm_create 1 "$vmi" "${popts[@]}" -- --stack "${RG_STACK[$name]}"
}

# rg_boot_all NAME... — create every case's VM (they boot in parallel), then wait for each one's lease.
# A case whose VM does not come up gets a not ok line and is dropped from RG_UP.
rg_boot_all() {
	local name vmi t0 ip
	t0=$(rl_ms)
	RG_UP=()
	for name; do
		vmi=${RG_VMI[$name]}
		if rg_create "$name" "$vmi"; then
			RG_UP+=("$name")
		else
			not_ok "$name: VM created (${RG_STACK[$name]})" "$(tail -3 "$RUN/vms/$vmi/console.log" 2>/dev/null)"
		fi
	done
	local up=("${RG_UP[@]}")
	RG_UP=()
	for name in "${up[@]}"; do
		vmi=${RG_VMI[$name]}
		ip=$(pod_ip "$(vm_pod "$vmi")" eth0)
		if dg_wait_lease "$vmi" 0 "$ip" $((RG_BOOT_TIMEOUT - ($(rl_ms) - t0) / 1000)) >/dev/null; then
			RG_UP+=("$name")
			echo "# $vmi (${RG_STACK[$name]}): $(dg_nic_name "$vmi") has $ip $((($(rl_ms) - t0) / 1000)) s after the first VM was created"
		else
			not_ok "$name: ${RG_STACK[$name]} guest boots to its pod's address $ip" \
				"last console lines:" "$(tail -n 6 "$RUN/vms/$vmi/console.log" | tr -d '\r')"
		fi
	done
	echo "# ${#RG_UP[@]} of $# guests up in $((($(rl_ms) - t0) / 1000)) s"
}

# rlines VMI NODE FROM — relinkd lines of NODE about VMI's domain after line FROM.
rlines() { tail -n +$(($3 + 1)) "$RUN/n$2/relinkd.log" 2>/dev/null | grep -F "domain=$(vm_domain "$1") "; }

# rg_migrate_case NAME — migrate the case's VM to node 2 and check the outcome. Sets RG_OOPS=1 (and
# prints the SKIP line) when the guest kernel oopsed after the migration.
rg_migrate_case() {
	local name=$1 vmi=${RG_VMI[$1]} stack=${RG_STACK[$1]} path=${RG_PATH[$1]} mark rmark ip done oops \
		dlines ping_us lease_us want_kind
	RG_OOPS=0 RG_RESULT_VERIFIED_MS="" RG_RESULT_LEASE_MS=""
	mark=$(vm_log_mark "$vmi")
	rmark=$(relinkd_mark 2)
	echo "# --- $name: $stack, MAC $([ "$path" = pin ] && echo unchanged || echo changed) ($vmi)"
	if ! migrate "$vmi" 2; then
		not_ok "$name: live migration to node 2" "$(tail -3 "$RUN/vms/$vmi/migrate.out")"
		return 1
	fi
	RG_MIGRATIONS=$((RG_MIGRATIONS + 1))
	ip=$(pod_ip "$MIG_POD" eth0)
	# Outcome: relinkd's verdict, the guest's lease, a ping to the new address — each bounded.
	# The action's last word: verified, or a final FAILED (an interim one says waiting=yes and goes on).
	done=$(relinkd_wait 2 "domain=$(vm_domain "$vmi") .*( verified |it needs attention)" 60 "$rmark")
	dg_wait_lease "$vmi" "$mark" "$ip" 30 >/dev/null
	ping_us=$(dg_ping_us 2 "$ip" 20)
	if oops=$(vm_oops "$vmi" "$mark"); then
		RG_OOPS=1 RG_OOPSES=$((RG_OOPSES + 1))
		ok "$name: relinkd recovers a $stack guest # SKIP platform fault: guest kernel oops after TCG migration ($oops)"
		return 0
	fi
	dlines=$(rlines "$vmi" 2 "$rmark")
	check_re "$name: relinkd decided $([ "$path" = pin ] && echo flap || echo reattach)" \
		"$(grep -m1 -o 'decision=[a-z]*' <<<"$dlines")" "decision=$([ "$path" = pin ] && echo flap || echo reattach)"
	want_kind=reattach
	if [ "$path" = pin ] && [ "$stack" = networkd ]; then
		if [ "$RL_DHCP" != kubevirt ]; then
			# networkd renews on the flap with an INIT-REBOOT REQUEST for its old address. KubeVirt's server
			# (and the harness's kvdhcpd) ACKs it with the pod's address; dnsmasq (RL_DHCP=dnsmasq) drops it on
			# a fresh target, so networkd falls back to DISCOVER only after relinkd's 3 s flap window and
			# relinkd escalates. Either verdict is a recovery there; which one it was is printed.
			want_kind='(flap|reattach)'
			echo "# $name: networkd flap $(grep -q ' escalate ' <<<"$dlines" && echo "escalated to a re-attach (dnsmasq dropped the INIT-REBOOT REQUEST)" || echo "verified without escalation")"
		else
			want_kind=flap      # KubeVirt's semantics: the INIT-REBOOT REQUEST after the flap is ACKed
		fi
		check_re "$name: relinkd knew the networkd client from its boot DHCP and kept the flap" \
			"$(grep -m1 'decision=' <<<"$dlines")" 'client=networkd \(boot\) first=flap '
	elif [ "$path" = pin ]; then
		# NetworkManager (carrier-wait 6 s) and ifupdown (no carrier watch) ignore a 1 s flap; relinkd saw
		# their DHCP clients at boot (trigger/fingerprint.c) and goes straight to the same-MAC re-plug.
		check_re "$name: relinkd knew the $stack client from its boot DHCP and skipped the flap" \
			"$(grep -m1 'decision=' <<<"$dlines")" "client=$([ "$stack" = nm ] && echo nm || echo dhclient) \\(boot\\) first=reattach "
		expect_eq "$name: no futile flap (no escalation)" "$(grep -c ' escalate ' <<<"$dlines")" 0
	fi
	check_re "$name: relinkd verified the ${want_kind//|/ or }" "$done" " verified kind=$want_kind "
	expect_eq "$name: no FAILED verdict" "$(grep -c ' FAILED ' <<<"$dlines")" 0
	if lease_us=$(vm_console_us "$vmi" "$mark" " lease dev=[^ ]+ mac=[^ ]+ ip=${ip//./\\.}/"); then
		ok "$name: guest configured the target pod's address $ip"
		RG_RESULT_LEASE_MS=$(((lease_us - MIG_RESUMED_US) / 1000))
	else
		not_ok "$name: guest configured the target pod's address $ip" "guest:" "$(vm_log_since "$vmi" "$mark" | tail -8)"
	fi
	if [ -n "$ping_us" ]; then
		ok "$name: guest answers on $ip from node 2"
	else
		not_ok "$name: guest answers on $ip from node 2"
	fi
	RG_RESULT_VERIFIED_MS=$(sed -n 's/.* renewal_ms=\([0-9]*\).*/\1/p' <<<"$done")
	# (The ping starts after relinkd's verdict, so it proves reachability, not timing: bench/realguest.sh.)
	echo "# $name: virsh migrate ${MIG_MS} ms; RESUMED_MIGRATED → verified ${RG_RESULT_VERIFIED_MS:-?} ms," \
		"→ guest has $ip ${RG_RESULT_LEASE_MS:-?} ms"
}

# rg_run_cases NAME... — the whole tier: parallel boot, one migration per case, one rerun per oopsed case.
rg_run_cases() {
	local name rerun=()
	rg_boot_all "$@"
	for name in "${RG_UP[@]}"; do
		rg_migrate_case "$name"
		[ "$RG_OOPS" = 1 ] && rerun+=("$name")
	done
	[ ${#rerun[@]} -gt 0 ] || return 0
	echo "# rerunning on fresh VMs after a platform fault: ${rerun[*]}"
	for name in "${rerun[@]}"; do RG_VMI[$name]=$name-r; done
	rg_boot_all "${rerun[@]}"
	for name in "${RG_UP[@]}"; do
		rg_migrate_case "$name"
	done
}
