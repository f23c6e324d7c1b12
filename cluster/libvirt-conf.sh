# shellcheck shell=bash
# cluster/libvirt-conf.sh — the configuration of a system-mode libvirtd run inside a test pod (a root
# launcher), shared by the cluster-in-a-box (cluster/lib.sh) and the integration tests' launchers
# (tests/integration/lib-launcher.sh). Why each setting: stdio_handler = "file" makes QEMU write its own
# log (no virtlogd); no security driver, cgroups or mount namespace (the pod netns gives the daemon its
# private mounts already); QEMU runs as root and libvirt chowns no file.

# libvirt_system_conf ETC_DIR SOCK_DIR UUID [COMMENT] — write ETC_DIR/libvirtd.conf and ETC_DIR/qemu.conf.
libvirt_system_conf() {
	local etc=$1 sock=$2 uuid=$3
	mkdir -p "$etc" || return 1
	cat >"$etc/libvirtd.conf" <<EOF
# ${4:-relink test launcher} (system daemon)
unix_sock_dir = "$sock"
auth_unix_rw = "none"
auth_unix_ro = "none"
host_uuid = "$uuid"
log_outputs = "3:stderr"
EOF
	cat >"$etc/qemu.conf" <<EOF
stdio_handler = "file"
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
EOF
}
