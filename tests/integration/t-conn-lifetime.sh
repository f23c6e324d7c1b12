#!/bin/bash
# Connection lifetime (issue 11, "a drain crashes it"): launchers' daemons die and their sockets vanish
# while relinkd's close callbacks, close timers and reconnect timers for them are pending, several
# launchers at once, round after round. relinkd is built with -fsanitize=address,undefined (into
# build/asan, the normal build is untouched); any sanitizer report or relinkd death fails the test.
#
#   netns $P"h"   build/asan/bin/relinkd --kubevirt --kubelet-root $K --rescan-ms 50
#   per round r:  launchers r<r>l0..l5 (session daemons owned by libvirt-qemu and root system daemons),
#                 each at $K/pods/<uid>/volumes/kubernetes.io~empty-dir/libvirt-runtime, all connected; then,
#                 all at once, each one vanishes in one of three orders:
#                   0  daemon SIGKILLed and pod dir removed at the same instant (close callback + rescan race)
#                   1  pod dir removed, then the daemon SIGKILLed (conn forgotten while the connection is up)
#                   2  daemon SIGKILLed, 0.3 s later the pod dir removed (conn forgotten with its reconnect
#                      timer pending)
#                 plus a mute launcher (accepts, never answers: a connection attempt blocked in libvirt's open)
#                 killed as its pod dir goes, and a backlog-full one (probe fails, retried) whose pod dir goes;
#                 relinkd must log every one of them dropped and stay alive.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
rl_init
# shellcheck source=tests/integration/lib-launcher.sh
. "$ROOT/tests/integration/lib-launcher.sh"
kl_init
hostns=""
ROUNDS=${ROUNDS:-4}
PER_ROUND=6

RELINKD=${RELINKD_ASAN:-}
if [ -z "$RELINKD" ]; then
	RELINKD=$ROOT/build/asan/bin/relinkd
	make -C "$ROOT" --no-print-directory SANITIZE=address,undefined BUILD=build/asan BIN=build/asan/bin \
		build/asan/bin/relinkd >"$T/build.log" 2>&1 || _fatal "ASan build failed: $(tail -5 "$T/build.log")"
fi
[ -x "$RELINKD" ] || _fatal "no relinkd at $RELINKD"
check "relinkd is built with AddressSanitizer" eval "nm -D '$RELINKD' | grep __asan_init >/dev/null"

SANITIZER_RE='AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer'
netns_new hostns h
ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ip netns exec "$hostns" "$RELINKD" --kubevirt --kubelet-root "$K" --state-dir "$T/state" \
	--rescan-ms 50 --backoff-max-ms 1000 --metrics-file "$T/m.prom" --log-level debug >"$LOG" 2>&1 &
RPID=$!
started "$RPID"
alive() { kill -0 "$RPID" 2>/dev/null; }

# vanish MODE X UID: make launcher X's daemon and socket go away in the given order (see the top).
vanish() {
	local pid_var=PID_$2
	local pid=${!pid_var}
	case $1 in
	0) kill -KILL "$pid" & pod_remove "$3"; wait ;;
	1) pod_remove "$3"; kill -KILL "$pid" ;;
	2) kill -KILL "$pid"; sleep 0.3; pod_remove "$3" ;;
	esac
}

for ((r = 1; r <= ROUNDS; r++)); do
	uids=()
	for ((i = 0; i < PER_ROUND; i++)); do
		x=r${r}l$i
		u=$(uuid)
		uids+=("$u")
		if ((i % 2)); then
			system_launcher "$x" "$u" || _fatal "launcher $x: $(tail -3 "$T/$x/libvirtd.log")"
		else
			session_launcher "$x" "$u" || _fatal "launcher $x: $(tail -3 "$T/$x/libvirtd.log")"
		fi
	done
	all_connected() { local u; for u in "${uids[@]}"; do log_has "conn=$u connected " || return 1; done; }
	check "round $r: relinkd connected to all $PER_ROUND launchers" wait_for 30 all_connected
	# and two stuck ones: an attempt blocked in libvirt's open, a probe failing on a full backlog
	um=$(uuid) ub=$(uuid)
	stuck_launcher mute "r${r}m" "$um" || _fatal "stuck launcher: $(cat "$T/r${r}m/stuck.log")"
	stuck_launcher backlog "r${r}b" "$ub" || _fatal "backlog launcher: $(cat "$T/r${r}b/stuck.log")"
	check "round $r: the backlog-full one is probed and retried" \
		wait_for 5 log_has "conn=$ub socket peer probe failed: listen backlog full"
	pid_var=PID_r${r}m
	check "round $r: the mute one's attempt reached its daemon" eval "[ \$(ls /proc/${!pid_var}/fd | wc -l) -gt 4 ]"
	vp=()
	for ((i = 0; i < PER_ROUND; i++)); do
		vanish $((i % 3)) "r${r}l$i" "${uids[i]}" &
		vp+=($!)
	done
	pid_var=PID_r${r}m
	kill -KILL "${!pid_var}" & pod_remove "$um" &
	vp+=($!)
	pod_remove "$ub" &
	vp+=($!)
	uids+=("$um" "$ub")
	wait "${vp[@]}"
	all_dropped() { local u; for u in "${uids[@]}"; do log_has "conn=$u pod=$u socket .* is gone, dropping it" || return 1; done; }
	check "round $r: every launcher dropped" wait_for 15 all_dropped
	check "round $r: relinkd alive" alive
	check "round $r: no sanitizer report" no_log "$SANITIZER_RE"
	expect_eq "round $r: no launcher followed any more" "$(metric relinkd_connections_followed)" 0
	for ((i = 0; i < PER_ROUND; i++)); do
		pid_var=PID_r${r}l$i
		daemon_gone "${!pid_var}"
	done
done
closes=$(log_count "(connection closed|daemon gone)")
check "close callbacks were processed for launchers whose daemon died first ($closes)" test "$closes" -ge 1

kill -TERM "$RPID"
wait "$RPID"
rc=$?
expect_eq "relinkd exits 0 on SIGTERM (no leak report at exit)" "$rc" 0
check "no sanitizer report at all" no_log "$SANITIZER_RE"
if [ "$failed" -ne 0 ]; then
	grep -E -A40 "$SANITIZER_RE" "$LOG" | head -80 | sed 's/^/#   /'
	tail -30 "$LOG" | sed 's/^/#   log: /'
fi
finish
