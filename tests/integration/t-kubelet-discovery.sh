#!/bin/bash
# relinkd started as the DaemonSet starts it (--kubevirt --kubelet-root K, in its own netns like a
# hostNetwork pod, the kubelet dir mounted with HostToContainer propagation) finds the node's
# launchers by itself. No VMs: the daemons run no domains.
#
#   netns $P"h"  relinkd --kubevirt --kubelet-root $K --state-dir $T/state --metrics-file $T/m.prom
#   K = $T/kubelet (a shared bind mount: later mounts under it reach relinkd's mount namespace)
#
#   netns $P"a"  launcher A: non-root (libvirt-qemu) session libvirtd, XDG_RUNTIME_DIR=$T/a/run
#                $T/a/run/libvirt/{libvirt-sock, virtqemud-sock (hard link: one daemon, two names)}
#                bind-mounted at $K/pods/<uidA>/volumes/kubernetes.io~empty-dir/libvirt-runtime
#   netns $P"b"  launcher B: root system libvirtd, socket libvirt-sock in $T/b/sock, bind-mounted at
#                $K/pods/<uidB>/…/libvirt-runtime
#   later:
#   netns $P"d"  launcher D: a socket that never accepts, listen backlog full ($K/pods/<uidD>/…/virtqemud-sock)
#   netns $P"e"  launcher E: a socket that accepts and never answers (libvirt's open blocks for good)
#   netns $P"c"  launcher C: like A, only virtqemud-sock (KubeVirt's name), appears after relinkd started
#   then B's pod dir is removed (relinkd drops it), then B's daemon dies (nothing more about B);
#   then relinkd again with --kubevirt + --watch on the kubelet glob (each launcher once), and with --watch alone.
#
# Every host socket path is longer than a UNIX socket address (108 bytes).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
rl_init
both_connected() { log_has "conn=$UA connected " && log_has "conn=$UC connected "; }   # A and C followed
PID_a="" PID_b="" PID_c="" hostns=""
RELINKD=${RELINKD:-$ROOT/bin/relinkd}
[ -x "$RELINKD" ] || _fatal "no relinkd at $RELINKD (run make)"
# shellcheck source=tests/integration/lib-launcher.sh
. "$ROOT/tests/integration/lib-launcher.sh"
kl_init

# relinkd's private link directory (mkdtemp under /run), one link per connection attempt
ALIAS_RE='/run/relinkd\.[0-9]+/[0-9]+'
# connected_line UID: relinkd's "connected" line for that pod (exactly one expected).
connected_line() { grep -E "conn=$1 connected pod=$1 " "$LOG"; }
# check_launcher TAG UID PID SOCKNAME: connected once, to that socket name, with the daemon's pid and netns.
check_launcher() {
	local tag=$1 uid=$2 pid=$3 name=$4 line
	expect_eq "$tag: connected once" "$(log_count "conn=$uid connected ")" 1
	line=$(connected_line "$uid")
	expect_eq "$tag: peer pid is the daemon" "$(sed -E 's/.* peer_pid=([0-9]+) .*/\1/' <<<"$line")" "$pid"
	expect_eq "$tag: netns is the daemon's (dev:ino)" "$(sed -E 's/.* netns=([0-9]+:[0-9]+) .*/\1/' <<<"$line")" \
		"$(netns_id "$pid")"
	expect_eq "$tag: socket is the kubelet path of its pod" "$(sed -E 's/.* socket=([^ ]+) .*/\1/' <<<"$line")" \
		"$K/pods/$uid/$RT/$name"
	check "$tag: through a short alias, session URI" \
		log_has "conn=$uid connected .* uri=qemu\+unix:///session\?socket=$ALIAS_RE/$name\$"
	check "$tag: its domains are logged" log_has "conn=$uid pod=$uid domains=-\$"
}

UA=$(uuid) UB=$(uuid) UC=$(uuid) UD=$(uuid) UE=$(uuid)
session_launcher a "$UA" || _fatal "session launcher A: $(tail -3 "$T/a/libvirtd.log")"
system_launcher b "$UB" || _fatal "system launcher B: $(tail -3 "$T/b/libvirtd.log")"
n=$(printf '%s' "$K/pods/$UA/$RT/virtqemud-sock" | wc -c)
check "host socket path is longer than a UNIX socket address ($n bytes)" test "$n" -gt 108
check "launchers run in their own netns" test "$(netns_id "$PID_a")" != "$(netns_id "$PID_b")"

# A link directory left by a relinkd that was SIGKILLed (its pid is gone): swept at start.
sh -c 'exit 0' &
dead=$!
wait $dead
stale=/run/relinkd.$dead
if [ ! -e "$stale" ] && mkdir -m 0700 "$stale" && ln -s "$T" "$stale/1"; then :; else stale=""; fi

# relinkd as the DaemonSet runs it: hostNetwork (own netns here), hostPID, kubelet dir HostToContainer.
netns_new hostns h
ip netns exec "$hostns" "$RELINKD" --kubevirt --kubelet-root "$K" --state-dir "$T/state" \
	--metrics-file "$T/m.prom" >"$LOG" 2>&1 &
RPID=$!
started $RPID
check "relinkd connected to launcher A (session, non-root)" wait_for 20 log_has "conn=$UA connected "
check "relinkd connected to launcher B (system, root)" wait_for 20 log_has "conn=$UB connected "
check_launcher "A (session daemon owned by libvirt-qemu, two names)" "$UA" "$PID_a" virtqemud-sock
check_launcher "B (root system daemon, libvirt-sock)" "$UB" "$PID_b" libvirt-sock
check "the daemon of A is not root" test "$(stat -c %U "/proc/$PID_a")" = libvirt-qemu
check "a dead relinkd's link directory was swept (${stale:-none made})" test -n "$stale" -a ! -e "$stale"
check "its own link directory is relinkd.<pid>, mode 0700" test "$(stat -c %a "/run/relinkd.$RPID" 2>&1)" = 700

# D: listening but never accepting, backlog already full: probing it must not freeze the loop.
stuck_launcher backlog d "$UD" || _fatal "backlog-full launcher D: $(cat "$T/d/stuck.log")"
check "backlog-full launcher D: probe fails without blocking, logged" \
	wait_for 10 log_has "conn=$UD socket peer probe failed: listen backlog full"

# E: accepts and never answers (a stuck virtqemud): the probe succeeds, libvirt's open blocks for good.
stuck_launcher mute e "$UE" || _fatal "stuck launcher E: $(cat "$T/e/stuck.log")"
check "stuck launcher E: discovered" wait_for 5 log_has "conn=$UE discovered "

# C appears later, with KubeVirt's socket name only.
session_launcher c "$UC" || _fatal "session launcher C: $(tail -3 "$T/c/libvirtd.log")"
rm -f "$T/c/run/libvirt/libvirt-sock"
t0=$(date +%s%N)
check "relinkd follows launcher C that appeared later" wait_for 20 log_has "conn=$UC connected "
ms=$((($(date +%s%N) - t0) / 1000000))
check "... within a second of its socket appearing, D and E notwithstanding (${ms} ms)" test "$ms" -lt 1000
check_launcher "C (appeared later, virtqemud-sock only)" "$UC" "$PID_c" virtqemud-sock
check "D is retried with backoff, not connected" no_log "conn=$UD connected"
f=$(metric relinkd_connect_failures_total)
check "D's failures are counted (relinkd_connect_failures_total $f)" test "${f:-0}" -ge 1
check "E: its attempt is logged as overdue after 5 s, peer seen" \
	wait_for 8 log_has "conn=$UE still connecting after 5000 ms \(daemon not answering\)"
check "E: never connected" no_log "conn=$UE connected"
expect_eq "metrics: 3 connections open" "$(metric relinkd_connections)" 3
expect_eq "metrics: 5 launchers followed (A, B, C, D, E)" "$(metric relinkd_connections_followed)" 5

# B's pod is deleted: the kubelet removes its dir (the daemon is still up for a moment).
pod_remove "$UB"
check "relinkd drops launcher B when its pod dir is removed" \
	wait_for 10 log_has "conn=$UB pod=$UB socket $K/pods/$UB/$RT/libvirt-sock is gone, dropping it"
kill "$PID_b"
daemon_gone "$PID_b"
mark=$(wc -l <"$LOG")
sleep 1
check "nothing more about B after its daemon died" no_log_after "$mark" "conn=$UB"
check "A and C still connected (no close logged)" no_log "conn=($UA|$UC) (connection closed|daemon gone)"
expect_eq "metrics: 2 connections open" "$(metric relinkd_connections)" 2

# D's and E's pods go too: dropped although they never connected (E's attempt is still blocked).
pod_remove "$UD"
pod_remove "$UE"
check "relinkd drops launcher D when its pod dir is removed" wait_for 10 log_has "conn=$UD pod=$UD socket .* is gone"
check "relinkd drops launcher E when its pod dir is removed" wait_for 10 log_has "conn=$UE pod=$UE socket .* is gone"
expect_eq "metrics: 2 launchers followed" "$(metric relinkd_connections_followed)" 2

# A's daemon restarts (same pod volume, new socket): relinkd reconnects, with the new daemon's netns.
session_restart a || _fatal "restart A: $(tail -3 "$T/a/libvirtd.log")"
check "A restarted: relinkd reconnects" wait_for 15 log_count_is "conn=$UA connected " 2
check "... after logging the close" log_has "conn=$UA connection closed \(eof\), reconnecting|conn=$UA daemon gone"
check "... to the new daemon" log_has "conn=$UA connected pod=$UA peer_pid=$PID_a netns=$(netns_id "$PID_a") "

# A's daemon stalls (SIGSTOP) with its connection open: shutting down must not wait for it.
kill -STOP "$PID_a"
t0=$(date +%s%N)
kill -TERM "$RPID"
wait "$RPID"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
expect_eq "relinkd exits 0 on SIGTERM, E's attempt still blocked, A's daemon stopped" "$rc" 0
check "... within 2 s (${ms} ms)" test "$ms" -lt 2000
kill -CONT "$PID_a"
check "... saying so" log_has "1 connection attempt\(s\) still blocked"
adir=$(grep -E -o -m1 "socket=/run/relinkd\.[0-9]+/" "$LOG" | sed 's/^socket=//')
check "... and removing its link directory ($adir)" test -n "$adir" -a ! -e "$adir"
check "no error lines" no_log "relinkd: error"
[ "$failed" -eq 0 ] || sed 's/^/#   log: /' "$LOG"

# --watch on the kubelet glob (long paths, session daemons), combined with --kubevirt: A and C are
# matched by both, and by both of A's names, and still followed once each.
LOG1=$LOG LOG=$T/relinkd-watch.log
ip netns exec "$hostns" "$RELINKD" --kubevirt --kubelet-root "$K" --state-dir "$T/state" \
	--watch "$K/pods/*/$RT/libvirt-sock" --watch "$K/pods/*/$RT/virtqemud-sock" >"$LOG" 2>&1 &
RPID=$!
started $RPID
check "--watch + --kubevirt: connected to A and C" \
	wait_for 20 both_connected
sleep 0.5    # two more rescans
expect_eq "... each once" "$(log_count "conn=($UA|$UC) connected ")" 2
expect_eq "... one discovery line each" "$(log_count "conn=($UA|$UC) discovered ")" 2
kill -TERM "$RPID"
wait "$RPID"
expect_eq "... exits 0" "$?" 0

LOG=$T/relinkd-watch-only.log
ip netns exec "$hostns" "$RELINKD" --state-dir "$T/state" --watch "$K/pods/*/$RT/virtqemud-sock" >"$LOG" 2>&1 &
RPID=$!
started $RPID
check "--watch alone on the long kubelet paths: connected to A and C" \
	wait_for 20 both_connected
check "... session daemon A through the alias, its pod UID from the path" \
	log_has "conn=$UA connected pod=$UA peer_pid=$PID_a netns=$(netns_id "$PID_a") socket=$K/pods/$UA/$RT/virtqemud-sock uri=qemu\+unix:///session\?socket=$ALIAS_RE/virtqemud-sock\$"
check "... discovered via watch" log_has "conn=$UA discovered pod=$UA socket=.* via=watch"
kill -TERM "$RPID"
wait "$RPID"
expect_eq "... exits 0" "$?" 0
[ "$failed" -eq 0 ] || sed 's/^/#   log: /' "$LOG1" "$T"/relinkd-watch*.log
finish
