#!/bin/bash
# The call gate's cost per libvirt call (bench/callgate.c, built by `make test-bins` or `make bench`),
# twice: against libvirt's in-process test driver (test:///default: the call is a few µs, the gate's cost
# stands out) and, as root with libvirtd installed, against the same test driver behind a private
# session libvirtd run as nobody — a real RPC over a UNIX socket, as relinkd makes to a launcher's daemon.
# Nothing system-wide is touched: the daemon's sockets and state live in a temporary directory.
#
#   bench/callgate.sh
#   CALLS=2000 ROUNDS=5 REPEAT=3 bench/callgate.sh
#
# Appends every run to bench/results/relinkd-callgate.tsv (date, rev, load average, per call and mode:
# median, p99, mean in µs).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CALLGATE:-$ROOT/build/bench/callgate}
CALLS=${CALLS:-2000}
ROUNDS=${ROUNDS:-5}
REPEAT=${REPEAT:-3}
TSV=$ROOT/bench/results/relinkd-callgate.tsv
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo -)
export REV

[ -x "$BIN" ] || { echo "bench: missing $BIN (make test-bins)" >&2; exit 1; }

for i in $(seq "$REPEAT"); do
	echo "== in-process test driver, run $i/$REPEAT"
	"$BIN" -n "$CALLS" -r "$ROUNDS" -t "$TSV"
done

if [ "$(id -u)" != 0 ] || ! command -v libvirtd >/dev/null || ! command -v setpriv >/dev/null; then
	echo "bench: no UNIX-socket baseline (needs root to start libvirtd as nobody, libvirtd, setpriv)" >&2
	exit 0
fi

D=$(mktemp -d /tmp/relink-callgate.XXXXXX)
PID=
cleanup() {
	if [ -n "$PID" ]; then
		kill "$PID" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
	fi
	rm -rf "$D"
}
trap cleanup EXIT
chmod 755 "$D"
mkdir -p "$D/run" "$D/cfg" "$D/cache" "$D/home"
chmod 700 "$D/run"
cp "$BIN" "$D/callgate"
chown -R nobody:nogroup "$D"

# setpriv and env exec: $! below is libvirtd's own PID
as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH=/usr/sbin:/usr/bin HOME="$D/home"
	XDG_RUNTIME_DIR="$D/run" XDG_CONFIG_HOME="$D/cfg" XDG_CACHE_HOME="$D/cache" REV="$REV")

"${as_nobody[@]}" libvirtd --timeout 600 >"$D/daemon.log" 2>&1 &
PID=$!
SOCK=$D/run/libvirt/libvirt-sock
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || { echo "bench: the private libvirtd did not come up:" >&2; tail -5 "$D/daemon.log" >&2; exit 1; }

for i in $(seq "$REPEAT"); do
	echo "== test driver behind a session libvirtd (UNIX socket), run $i/$REPEAT"
	(cd "$D" && "${as_nobody[@]}" ./callgate -n "$CALLS" -r "$ROUNDS" -c "test+unix:///default?socket=$SOCK" -t "$D/remote.tsv")
done
# header only when the results file is new
if [ -s "$TSV" ]; then tail -n +2 "$D/remote.tsv" >>"$TSV"; else cat "$D/remote.tsv" >>"$TSV"; fi
