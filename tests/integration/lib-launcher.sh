# shellcheck shell=bash
# KubeVirt-style launchers for relinkd tests (sourced after lib.sh and rl_init, never run): a kubelet
# root whose pod dirs hold each launcher's libvirt-runtime volume, with a libvirt daemon behind it.
#
#   kl_init                      K=$T/kubelet (a shared bind mount, so mounts made under it later reach a
#                                relinkd started in its own mount namespace, as HostToContainer does);
#                                cleanup: daemons killed, mounts undone (reverse order), then lib.sh's
#   session_launcher X UID       non-root (libvirt-qemu) session libvirtd in netns $P"X"; its run dir
#                                ($T/X/run/libvirt: libvirt-sock + hard link virtqemud-sock) bind-mounted at
#                                $K/pods/UID/$RT; PID_X = the daemon's pid
#   session_restart X            its daemon stopped and started again on the same run dir (new socket)
#   system_launcher X UID        root system-mode libvirtd in netns $P"X" (own /etc,/run,/var/lib,/var/log
#                                libvirt), socket libvirt-sock in $T/X/sock bind-mounted at $K/pods/UID/$RT
#   daemon_gone PID              wait (5 s) until a killed daemon has exited
#   stuck_launcher MODE X UID   a daemon that is stuck, in netns $P"X": MODE backlog = listens, never accepts,
#                                listen backlog already full; MODE mute = accepts, never answers. Socket
#                                virtqemud-sock in $T/X/sock bind-mounted at $K/pods/UID/$RT; PID_X = its pid
#   pod_remove UID               what the kubelet does when the pod is deleted: unmount, remove the dir
#   wait_for SECONDS CMD...      poll CMD every 0.1 s
#   log_has/no_log PATTERN, log_count PATTERN, no_log_after LINE PATTERN    on $LOG (grep -E)
#   metric NAME                  value of a metric in $T/m.prom
# shellcheck source=cluster/libvirt-conf.sh
. "$ROOT/cluster/libvirt-conf.sh"    # libvirt_system_conf: the same root-launcher config as the cluster-in-a-box
RT=volumes/kubernetes.io~empty-dir/libvirt-runtime
K="" LOG=""
_mounts=() _mypids=()

kl_cleanup() {
	local i
	set +e
	for i in "${_mypids[@]}"; do kill "$i" 2>/dev/null; done
	for i in "${_mypids[@]}"; do wait_for 5 pid_gone "$i"; done
	for ((i = ${#_mounts[@]} - 1; i >= 0; i--)); do
		mountpoint -q "${_mounts[i]}" || continue
		umount "${_mounts[i]}" 2>/dev/null || umount -l "${_mounts[i]}" 2>/dev/null
	done
	cleanup
}

kl_init() {
	local c d
	for c in libvirtd setpriv perl mountpoint; do command -v $c >/dev/null || _fatal "$c missing"; done
	id libvirt-qemu >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin libvirt-qemu ||
		_fatal "cannot create user libvirt-qemu"
	for d in /etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt; do
		[ -d "$d" ] || mkdir -p "$d" || _fatal "mkdir $d"
	done
	trap kl_cleanup EXIT
	chmod 755 "$T"       # the non-root daemons traverse it
	K=$T/kubelet
	LOG=$T/relinkd.log
	mkdir -p "$K/pods" "$T/cache"
	chown libvirt-qemu: "$T/cache"
	mount --bind "$K" "$K" || _fatal "bind mount of $K"
	_mounts+=("$K")
	mount --make-shared "$K" || _fatal "make $K shared"
}

# started PID: killed and reaped on exit. A daemon the test kills itself is disowned (no job notices).
started() { _mypids+=("$1"); }
daemon_started() { _mypids+=("$1"); disown "$1"; }
mounted() { _mounts+=("$1"); }

wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}
log_has() { grep -E -- "$1" "$LOG" >/dev/null; }
no_log() { ! grep -E -- "$1" "$LOG" >/dev/null; }
log_count() { grep -E -c -- "$1" "$LOG"; }
log_count_is() { [ "$(log_count "$1")" -eq "$2" ]; }
no_log_after() { ! tail -n +$(($1 + 1)) "$LOG" | grep -E -- "$2" >/dev/null; }
metric() { sed -n "s/^$1 //p" "$T/m.prom"; }
uuid() { cat /proc/sys/kernel/random/uuid; }
netns_id() { stat -L -c '%d:%i' "/proc/$1/ns/net"; }

session_launcher() {
	local x=$1 uid=$2 d=$T/$1 lns
	netns_new lns "$x"
	session_daemon "$x" "$lns" || return 1
	mkdir -p "$K/pods/$uid/$RT" && mount --bind "$d/run/libvirt" "$K/pods/$uid/$RT" || return 1
	mounted "$K/pods/$uid/$RT"
}

# session_restart X: stop launcher X's session daemon and start a new one on the same run dir (what a
# crashed and restarted virtqemud looks like through the same pod volume). Sets PID_X.
session_restart() {
	local x=$1 pid_var=PID_$1
	kill "${!pid_var}" && daemon_gone "${!pid_var}" || return 1
	rm -f "$T/$x/run/libvirt/virtqemud-sock"
	session_daemon "$x" "$P$x"
}

session_daemon() {
	local x=$1 lns=$2 d=$T/$1
	mkdir -p "$d/run" "$d/home" "$d/cfg"
	chown -R libvirt-qemu: "$d"
	ip netns exec "$lns" setpriv --reuid=libvirt-qemu --regid=libvirt-qemu --clear-groups \
		env -i HOME="$d/home" XDG_RUNTIME_DIR="$d/run" XDG_CONFIG_HOME="$d/cfg" XDG_CACHE_HOME="$T/cache" \
		PATH=/usr/sbin:/usr/bin libvirtd >"$d/libvirtd.log" 2>&1 &
	printf -v "PID_$x" '%s' $!
	daemon_started $!
	wait_for 60 test -S "$d/run/libvirt/libvirt-sock" || return 1
	ln "$d/run/libvirt/libvirt-sock" "$d/run/libvirt/virtqemud-sock"
}

system_launcher() {
	local x=$1 uid=$2 d=$T/$1 lns
	netns_new lns "$x"
	mkdir -p "$d/etc" "$d/run" "$d/lib" "$d/log" "$d/sock"
	libvirt_system_conf "$d/etc" "$d/sock" "$(uuid)" "$x"
	# shellcheck disable=SC2016 # expanded by the inner shell
	ip netns exec "$lns" sh -c '
		mount --bind "$1/etc" /etc/libvirt && mount --bind "$1/run" /run/libvirt &&
		mount --bind "$1/lib" /var/lib/libvirt && mount --bind "$1/log" /var/log/libvirt &&
		exec libvirtd -f /etc/libvirt/libvirtd.conf -p "$1/libvirtd.pid"' sh "$d" >"$d/libvirtd.log" 2>&1 &
	printf -v "PID_$x" '%s' $!
	daemon_started $!
	wait_for 60 test -S "$d/sock/libvirt-sock" || return 1
	mkdir -p "$K/pods/$uid/$RT" && mount --bind "$d/sock" "$K/pods/$uid/$RT" || return 1
	mounted "$K/pods/$uid/$RT"
}

stuck_launcher() {
	local mode=$1 x=$2 uid=$3 d=$T/$2 lns
	netns_new lns "$x"
	mkdir -p "$d/sock" "$K/pods/$uid/$RT"
	# shellcheck disable=SC2016 # perl code
	ip netns exec "$lns" perl -MIO::Socket::UNIX -MSocket -e '
		my ($mode, $path, $ready) = @ARGV;
		my $l = IO::Socket::UNIX->new(Type => SOCK_STREAM, Local => $path,
			Listen => $mode eq "backlog" ? 0 : 16) or die "listen: $!";
		my @c;
		if ($mode eq "backlog") {
			while (1) {
				my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM) or die;
				$s->blocking(0);
				last unless connect($s, pack_sockaddr_un($path));
				push @c, $s;
			}
		}
		open(my $f, ">", $ready) or die; close $f;
		if ($mode eq "backlog") { sleep 3600 } else { while (my $s = $l->accept) { push @c, $s } }' \
		"$mode" "$d/sock/virtqemud-sock" "$d/ready" >"$d/stuck.log" 2>&1 &
	printf -v "PID_$x" '%s' $!
	daemon_started $!
	wait_for 10 test -e "$d/ready" || return 1
	mount --bind "$d/sock" "$K/pods/$uid/$RT" || return 1
	mounted "$K/pods/$uid/$RT"
}

pid_gone() { ! kill -0 "$1" 2>/dev/null; }
daemon_gone() { wait_for 5 pid_gone "$1"; }

pod_remove() {
	if mountpoint -q "$K/pods/$1/$RT"; then umount "$K/pods/$1/$RT" || return 1; fi
	rm -rf "${K:?}/pods/$1"
}
