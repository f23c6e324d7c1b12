#!/bin/bash
# relinkd status: the client subcommand and the daemon's root-only UNIX socket, against a relinkd
# following a real (session, non-root) launcher. No VMs: the launcher runs no domains (the e2e test
# tests/e2e/t-status.sh checks actions in flight and decisions during a live migration).
#
#   netns $P"h"  relinkd --kubevirt --kubelet-root $K --status-socket $T/run/status/s.sock
#   netns $P"a"  launcher A: session libvirtd (libvirt-qemu), bind-mounted at $K/pods/<uidA>/…/libvirt-runtime
#   clients: relinkd status [--json] as root, as uid 65534 (setpriv), and raw python sockets (silent,
#   oversized, unknown request)
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
rl_init
PID_a=""
RELINKD=${RELINKD:-$ROOT/bin/relinkd}
[ -x "$RELINKD" ] || _fatal "no relinkd at $RELINKD (run make)"
command -v python3 >/dev/null || _fatal "python3 missing"
# shellcheck source=tests/integration/lib-launcher.sh
. "$ROOT/tests/integration/lib-launcher.sh"
kl_init
SOCK=$T/run/status/s.sock
status() { "$RELINKD" status --socket "$SOCK" "$@"; }
# nobody CMD...: run as uid/gid 65534, no groups
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
# The client uid 65534 runs: $RELINKD, or bin/relinkd when uid 65534 cannot run that (the sanitize tier's
# wrapper lives in a 0700 directory); what is tested there is the daemon's refusal.
NOBODY_RELINKD=$RELINKD
nobody test -x "$RELINKD" || NOBODY_RELINKD=$ROOT/bin/relinkd
# raw MODE [READY [N]]: N (default 1) python clients on $SOCK from one process, each printing what it gets
# (waits up to 6 s); READY is created once all are connected. silent: sends nothing; big: 100 bytes without
# a newline; bogus: "bogus\n".
raw() {
	python3 - "$SOCK" "$1" "${2:-}" "${3:-1}" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[4])):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(6)
    s.connect(sys.argv[1])
    socks.append(s)
if sys.argv[3]:
    open(sys.argv[3], "w").close()
for s in socks:
    if sys.argv[2] == "big":
        s.sendall(b"x" * 100)
    elif sys.argv[2] == "bogus":
        s.sendall(b"bogus\n")
for s in socks:
    data = b""
    while True:
        try:
            b = s.recv(4096)
        except socket.timeout:
            print("TIMEOUT"); break
        if not b:
            break
        data += b
    sys.stdout.write(data.decode())
PY
}

UA=$(uuid)
session_launcher a "$UA" || _fatal "session launcher A: $(tail -3 "$T/a/libvirtd.log")"

# Nothing running yet.
out=$(status 2>&1)
rc=$?
expect_eq "relinkd not running: exit 1 and why" "$rc $out" \
	"1 relinkd status: no status socket at '$SOCK': is relinkd running (and serving it: --status-socket)?"
out=$("$RELINKD" status --bogus 2>&1)
expect_eq "unknown option: usage error (exit 2)" "$? $(head -1 <<<"$out")" "2 relinkd status: unknown option '--bogus'"
out=$("$RELINKD" --kubevirt --status-socket run/s.sock 2>&1)
expect_eq "--status-socket must be absolute (exit 2)" "$? $(head -1 <<<"$out")" \
	"2 relinkd: --status-socket 'run/s.sock': expected an absolute path"
mkdir -m 0755 "$T/open"
out=$("$RELINKD" --kubevirt --kubelet-root "$K" --state-dir "$T/state" --status-socket "$T/open/s.sock" 2>&1)
rc=$?
if [ $rc -eq 1 ] && grep -q "error --status-socket $T/open/s.sock: its directory '$T/open' must be owned by uid 0 with mode 0700 (it is uid 0, mode 0755)" <<<"$out"; then
	ok "a socket directory others can enter: start-up failure (exit 1) with the reason"
else
	not_ok "a socket directory others can enter: start-up failure" "rc=$rc" "$out"
fi

start_relinkd() {
	ip netns exec "$P"h "$RELINKD" --kubevirt --kubelet-root "$K" --state-dir "$T/state" --status-socket "$SOCK" \
		--log-level debug >>"$LOG" 2>&1 &
	RPID=$!
	started $RPID
}
netns_new hostns h
start_relinkd
check "relinkd serves status" wait_for 10 log_has "status: serving \`relinkd status\` on $SOCK\$"
check "relinkd connected to launcher A" wait_for 20 log_has "conn=$UA connected "
expect_eq "socket: root's, mode 0600" "$(stat -c '%U %a %F' "$SOCK")" "root 600 socket"
expect_eq "its directory (created): root's, mode 0700" "$(stat -c '%U %a' "$T/run/status")" "root 700"

# --json: the launcher, its netns, state and since when.
json=$(status --json)
expect_eq "--json: exit 0, valid JSON" "$?$(jq -e . <<<"$json" >/dev/null; echo " $?")" "0 0"
expect_eq "--json: pid and version" "$(jq -r '"\(.pid) \(.version)"' <<<"$json")" "$RPID $(cat "$ROOT/VERSION")"
expect_eq "--json: one launcher" "$(jq '.launchers | length' <<<"$json")" 1
l=$(jq -c --arg u "$UA" '.launchers[] | select(.pod_uid == $u)' <<<"$json")
expect_eq "--json: launcher A connected, via kubevirt" "$(jq -r '"\(.state) \(.origin)"' <<<"$l")" "connected kubevirt"
expect_eq "--json: launcher A's netns is its daemon's (dev:ino)" "$(jq -r .netns <<<"$l")" "$(netns_id "$PID_a")"
check "--json: launcher A's socket is in its pod's libvirt-runtime volume ($(jq -r .socket <<<"$l"))" \
	grep -qE "^$K/pods/$UA/$RT/(virtqemud|libvirt)-sock\$" <<<"$(jq -r .socket <<<"$l")"
since=$(jq -r .since <<<"$l")
check "--json: since is an RFC 3339 time in the last minute ($since)" \
	test $(($(date +%s) - $(date -d "$since" +%s))) -lt 60
expect_eq "--json: no actions, no decisions (no domains)" "$(jq -c '[.actions, .decisions]' <<<"$json")" "[[],[]]"

text=$(status)
expect_eq "table: exit 0" "$?" 0
check "table: the launcher line" grep -qE "^  $UA +connected +$(netns_id "$PID_a") +[0-9T:.-]+Z +[0-9]+m?s +$K/pods/$UA/" <<<"$text"
check "table: sections" grep -qPz "Launchers followed: 1\n.*\n.*\n\nActions in flight: 0\n\nLast decisions: 0 " <<<"$text"

# Root only: the file permissions stop a non-root client at connect, …
out=$(nobody "$NOBODY_RELINKD" status --socket "$SOCK" 2>&1)
rc=$?
expect_eq "uid 65534: refused (exit 1), says root only" "$rc $out" \
	"1 relinkd status: cannot connect to '$SOCK': Permission denied: relinkd status is for root only"
# … and relinkd itself refuses a non-root peer (SO_PEERCRED) should the permissions be opened.
chmod 0755 "$T/run" "$T/run/status"
chmod 0666 "$SOCK"
out=$(nobody "$NOBODY_RELINKD" status --json --socket "$SOCK" 2>&1)
rc=$?
chmod 0700 "$T/run/status"
chmod 0600 "$SOCK"
expect_eq "uid 65534 through opened permissions: relinkd refuses it (exit 1, error line)" "$rc $out" \
	"1 relinkd status: relinkd refused: permission denied: relinkd status is for root only (peer uid 65534)"
check "relinkd logs the refusal" log_has "warn status: refused peer pid=[0-9]+ uid=65534: root only"

# A client that connects and sends nothing does not stall relinkd: others are answered meanwhile; it
# is dropped after the deadline (2 s) with an error line.
raw silent "$T/silent.ready" >"$T/silent.out" 2>&1 &
silent=$!
if wait_for 10 test -e "$T/silent.ready"; then ok "a silent client connected"; else
	not_ok "a silent client connected" "$(cat "$T/silent.out")"; fi
t0=$(date +%s%N)
json=$(status --json)
ms=$((($(date +%s%N) - t0) / 1000000))
expect_eq "while a silent client is connected: another client is answered" "$(jq -r '.launchers[0].state' <<<"$json")" connected
check "… at once (${ms} ms)" test "$ms" -lt 1000
wait $silent
expect_eq "the silent client is dropped with an error line" "$(cat "$T/silent.out")" "error: no request within 2000 ms"
check "relinkd logs the drop" log_has "status: dropped client pid=[0-9]+: no request within 2000 ms"
# At most 16 clients at once: a 17th is told so at once; once the 16 silent ones are dropped, answers again.
raw silent "$T/many.ready" 16 >"$T/many.out" 2>&1 &
many=$!
if wait_for 10 test -e "$T/many.ready"; then ok "16 silent clients connected"; else
	not_ok "16 silent clients connected" "$(cat "$T/many.out")"; fi
out=$(status 2>&1)
expect_eq "a 17th client: busy (exit 1)" "$? $out" "1 relinkd status: relinkd refused: busy: 16 clients already, try again"
status_answers() { status --json >/dev/null 2>&1; }
check "… and answered again once they are dropped" wait_for 5 status_answers
wait "$many"
expect_eq "… each of the 16 dropped with its error line" "$(sort "$T/many.out" | uniq -c | sed 's/^ *//')" \
	"16 error: no request within 2000 ms"
expect_eq "request of 100 bytes without a newline: refused" "$(raw big)" "error: request too long (max 64 bytes)"
expect_eq "unknown request: refused" "$(raw bogus)" "error: unknown request 'bogus' (expected json or text)"
check "relinkd still running" kill -0 "$RPID"

# A second relinkd (another state dir) on the same socket: start-up failure, the first keeps serving.
out=$(ip netns exec "$P"h "$RELINKD" --kubevirt --kubelet-root "$K" --state-dir "$T/state2" --status-socket "$SOCK" 2>&1)
rc=$?
if [ $rc -eq 1 ] && grep -q "error --status-socket $SOCK: another process (a relinkd?) serves it" <<<"$out"; then
	ok "a second relinkd on the same socket: exit 1 with the reason"
else
	not_ok "a second relinkd on the same socket: exit 1 with the reason" "rc=$rc" "$out"
fi
expect_eq "the first still answers" "$(status --json | jq -r .pid)" "$RPID"

# SIGTERM removes the socket; SIGKILL leaves a stale one, which the client reports and the next relinkd replaces.
kill -TERM "$RPID"
wait "$RPID"
expect_eq "SIGTERM: exit 0" "$?" 0
check "SIGTERM: socket removed" test ! -e "$SOCK"
start_relinkd
check "restarted relinkd serves status" wait_for 10 log_count_is 'status: serving' 2
wait_for 5 test -S "$SOCK"
kill -KILL "$RPID"
wait "$RPID" 2>/dev/null
out=$(status 2>&1)
expect_eq "stale socket (relinkd killed): exit 1, not running" "$? $out" \
	"1 relinkd status: nobody answers at '$SOCK': relinkd is not running"
start_relinkd
check "the next relinkd replaces the stale socket" wait_for 10 log_count_is 'status: serving' 3
status_pid_is() { status --json | jq -e --arg p "$1" '.pid == ($p | tonumber)' >/dev/null; }
check "… and answers" wait_for 10 status_pid_is "$RPID"
finish
