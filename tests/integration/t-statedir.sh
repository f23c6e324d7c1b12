#!/bin/bash
# relinkd and its state dir (issue 11, faults): one relinkd per state dir, and a state dir relinkd
# cannot use is refused at start-up with the reason, never discovered later, domain by domain.
# No VMs: relinkd follows a socket that does not exist (it retries with backoff), which is enough to
# start, hold the claim, and stop.
#
# The claim is an flock on the state dir itself (the DaemonSet mounts it read-only; relinkd writes nothing in it).
#   A  relinkd on $T/sd: started, nothing written into $T/sd
#   B  a second relinkd on $T/sd: exit 1 at once, "in use by another relinkd (pid A holds its lock)", its
#      metrics file never written; A unaffected. The same through a symlink, and through a read-only bind
#      mount of the directory (the DaemonSet's view of the host's directory)
#   C  A SIGKILLed: a new relinkd takes the state dir over at once (the kernel dropped A's lock)
#   D  held by another process (flock(1)): refused, naming that PID (from /proc/locks)
#   E  missing (parents too): created mode 0700, a warning naming it
#   F  a regular file, a symlink to a file: "not a directory", exit 1
#   G  group-writable, owned by another user: refused with the store's reason, exit 1
#   H  mode 000: root (relinkd's normal user) reads it anyway and starts; relinkd as the directory's
#      owner (non-root) cannot open it: "cannot open the state dir ... Permission denied", exit 1
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
rl_init
RELINKD=${RELINKD:-$ROOT/bin/relinkd}
[ -x "$RELINKD" ] || _fatal "no relinkd at $RELINKD (run make)"
command -v setpriv >/dev/null || _fatal "setpriv(1) missing"

NOSOCK="qemu+unix:///system?socket=$T/nothing-here"

# start NAME DIR [extra options]: relinkd in the background on DIR, log $T/NAME.log; sets RPID.
start() {
	local name=$1 dir=$2
	shift 2
	"$RELINKD" --state-dir "$dir" --connect "$NOSOCK" --backoff-max-ms 500 "$@" >"$T/$name.log" 2>&1 &
	RPID=$!
	bg_started "$RPID"
}
# started NAME: wait (5 s) for relinkd's "started" line.
# shellcheck disable=SC2317  # called through check
started() {
	local i
	for i in $(seq 100); do
		grep -q "info started " "$T/$1.log" && return 0
		sleep 0.05
	done
	return 1
}
# refused NAME DIR ERE [extra options]: relinkd must exit 1 within 5 s with an error line matching ERE.
refused() {
	local name=$1 dir=$2 re=$3 rc
	shift 3
	timeout 5 "$RELINKD" --state-dir "$dir" --connect "$NOSOCK" "$@" >"$T/$name.log" 2>&1
	rc=$?
	if [ $rc -eq 1 ] && grep -Eq "^relinkd: error $re" "$T/$name.log" && ! grep -q "info started" "$T/$name.log"; then
		ok "$name: exit 1, $(grep -m1 '^relinkd: error' "$T/$name.log" | cut -c1-150)"
	else
		not_ok "$name: exit 1 with an error matching '$re'" "rc=$rc" "$(cat "$T/$name.log")"
	fi
}
# stop PID: SIGTERM, exit 0.
stop() {
	kill -TERM "$1"
	wait "$1"
}

# A: the first relinkd claims the state dir.
SD=$T/sd
mkdir -m 0700 "$SD"
start A "$SD" --metrics-file "$T/a.prom"
A=$RPID
check "A: started" started A
expect_eq "A: nothing written into the state dir" "$(ls -A "$SD")" ""

# B: a second one on the same dir refuses, touching nothing of A's.
refused B "$SD" "state dir '$SD' is in use by another relinkd \(pid $A holds its lock\)$" --metrics-file "$T/b.prom"
check "B: its metrics file was never written" test ! -e "$T/b.prom"
check "B: A still running" kill -0 "$A"
ln -s "$SD" "$T/sd-alias"
refused B2 "$T/sd-alias/" "state dir '$T/sd-alias/' is in use by another relinkd \(pid $A holds its lock\)$"
mkdir "$T/ro"
if mount --bind "$SD" "$T/ro" && mount -o remount,bind,ro "$T/ro"; then
	refused B3 "$T/ro" "state dir '$T/ro' is in use by another relinkd \(pid $A holds its lock\)$"
	umount "$T/ro"
else
	not_ok "B3: a read-only bind mount of the state dir" "mount failed"
fi

# C: A dies without cleaning up; the next relinkd takes over at once.
kill -KILL "$A"
wait "$A" 2>/dev/null
start C "$SD"
C=$RPID
check "C: after A's SIGKILL a new relinkd starts on the same dir" started C
# ... and a relinkd on a read-only mount of it can hold the claim, too.
if mount --bind "$SD" "$T/ro" && mount -o remount,bind,ro "$T/ro"; then
	refused C2 "$T/ro" "state dir '$T/ro' is in use by another relinkd \(pid $C holds its lock\)$"
	stop "$C"
	expect_eq "C: SIGTERM, exit 0" "$?" 0
	start C3 "$T/ro"
	check "C3: relinkd on a read-only mount of the state dir: started" started C3
	refused C4 "$SD" "state dir '$SD' is in use by another relinkd \(pid $RPID holds its lock\)$"
	stop "$RPID"
	umount "$T/ro"
else
	not_ok "C2: a read-only bind mount of the state dir" "mount failed"
	stop "$C"
fi

# D: held by some other process.
flock -x "$SD" sleep 30 >/dev/null 2>&1 &
FL=$!
bg_started "$FL"
for _ in $(seq 50); do flock -n "$SD" true || break; sleep 0.05; done
refused D "$SD" "state dir '$SD' is in use by another relinkd \(pid $FL holds its lock\)$"
pkid=$(pgrep -P "$FL")
kill "$FL"
[ -n "$pkid" ] && kill "$pkid"
wait "$FL" 2>/dev/null

# E: missing, with missing parents: created 0700 and said so.
start E "$T/new/a/b"
E=$RPID
check "E: a missing state dir: started" started E
expect_eq "E: created mode 0700" "$(stat -c %a "$T/new/a/b" 2>/dev/null)" 700
check "E: a warning naming it" grep -q "^relinkd: warn state dir '$T/new/a/b' did not exist: created it (mode 0700)" \
	"$T/E.log"
stop "$E"

# F: not a directory.
echo x >"$T/file"
refused F "$T/file" "state dir '$T/file' is not a directory$"
ln -s "$T/file" "$T/file-link"
refused F2 "$T/file-link" "state dir '$T/file-link' is not a directory$"
refused F3 "$T/file/sub" "state dir '$T/file/sub' is not a directory$"

# G: a state dir others could write: its records would steer relinkd's actions.
mkdir -m 0770 "$T/gw"
chmod 0770 "$T/gw"
refused G "$T/gw" "state dir '$T/gw' refused: group- or world-writable \(the records in it drive relinkd's actions\)$"
mkdir -m 0700 "$T/nobodys"
chown nobody "$T/nobodys"
refused G2 "$T/nobodys" "state dir '$T/nobodys' refused: not owned by root"

# H: mode 000. root has CAP_DAC_OVERRIDE: the store is usable, so relinkd runs.
mkdir -m 0700 "$T/m000"
chmod 000 "$T/m000"
start H "$T/m000"
H=$RPID
check "H: mode 000 as root: started" started H
stop "$H"
# As the directory's owner, not root: cannot even open it.
chmod 0711 "$T"
chown nobody "$T/m000"
timeout 5 setpriv --reuid nobody --regid nogroup --clear-groups \
	"$RELINKD" --state-dir "$T/m000" --connect "$NOSOCK" >"$T/H2.log" 2>&1
rc=$?
uid=$(id -u nobody)
if [ $rc -eq 1 ] && grep -q "^relinkd: error cannot open the state dir '$T/m000' (as uid $uid): Permission denied$" "$T/H2.log"; then
	ok "H2: mode 000, relinkd as its owner (uid $uid): exit 1, cannot open it, Permission denied"
else
	not_ok "H2: mode 000 as the owner: exit 1, Permission denied" "rc=$rc" "$(cat "$T/H2.log")"
fi
chmod 0700 "$T"

finish
