# shellcheck shell=bash
# cluster/guest-debian.sh — real Debian 12 guests in the cluster-in-a-box (extends cluster/lib.sh; source it
# after lib.sh). The guests are guest/debian/build.sh's images: systemd, the stack's own DHCP client,
# predictable NIC names (ens*), RELINK lines from relink-report (guest/debian/README.md).
#
#   dg_images networkd nm ifupdown          # build (cached) → DG_DIR/{vmlinuz,initrd.img,<stack>.img}
#   dg_vm_create NODE VMI [vm_create options] -- --stack nm [--mem 384] [--ping IP]
#   m=$(vm_log_mark VMI); migrate VMI NODE; vm_oops VMI "$m" && echo "guest kernel oops"
#   dg_wait_lease VMI FROM IP TIMEOUT_S     # the guest configured IP (any NIC) after console line FROM
#
# Differences from lib.sh's busybox VMs: a virtio root disk (a per-VM qcow2 overlay on the stack's raw
# image, $RUN/vms/<vmi>/disk.qcow2), 384 MiB, `root=/dev/vda` instead of the guest's init options. lib.sh
# does the rest (profiles, launchers, hooks, migration with --unsafe): this file adds the guest OS
# (`vm_start … --os debian …`, vm_os_debian) and the image builds.
#
# Knobs: DG_DIR (default $RL_ROOT/.cache/debian), DG_MEM_MIB (default 384).

DG_DIR=${DG_DIR:-$RL_ROOT/.cache/debian}
DG_MEM_MIB=${DG_MEM_MIB:-384}

# dg_images STACK... — build every STACK's image (cached by guest/debian/build.sh); 1 on failure.
dg_images() {
	local s
	for s; do
		"$RL_ROOT/guest/debian/build.sh" "$s" "$DG_DIR" >/dev/null || { rl_err "guest/debian/build.sh $s failed"; return 1; }
	done
}

# vm_os_debian POD VMI STACK — vm_start --os debian: the Debian guest's kernel and initramfs, root on a
# virtio disk (a qcow2 overlay of the stack's image), DG_MEM_MIB.
vm_os_debian() {
	local v=$RUN/vms/$2
	[ -r "$DG_DIR/$3.img" ] || { rl_err "vm_start: no image for stack '$3' in $DG_DIR (dg_images)"; return 1; }
	# The overlay names the build itself (STACK-<hash>.img), not the STACK.img symlink a rebuild moves.
	qemu-img create -q -f qcow2 -F raw -b "$(readlink -f "$DG_DIR/$3.img")" "$v/disk.qcow2" ||
		{ rl_err "qemu-img create for $2 failed"; return 1; }
	VM_MEM=$DG_MEM_MIB VM_KERNEL=$DG_DIR/vmlinuz VM_INITRD=$DG_DIR/initrd.img
	VM_CMDLINE="loglevel=5 root=/dev/vda" VM_FILES=("$v/disk.qcow2")
	VM_DEVICES="    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$v/disk.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <controller type='usb' model='none'/>
"
}

# dg_vm_create NODE VMI [vm_create options] [-- vm_start options] — lib.sh's vm_create (pod, launcher,
# libvirtd, spec/profile) with a Debian VM.
dg_vm_create() {
	local node=$1 vmi=$2 copts=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do copts+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	vm_create "$node" "$vmi" "${copts[@]}" -- --os debian "$@"
}

# dg_wait_lease VMI FROM IP TIMEOUT_S — wait for "lease dev=<any> … ip=IP/<len>" after console line FROM.
dg_wait_lease() {
	vm_wait_log "$1" "$2" " lease dev=[^ ]+ mac=[^ ]+ ip=${3//./\\.}/" "$4"
}

# dg_nic_name VMI [FROM] — the name of the NIC in the guest's latest lease line (e.g. ens3).
dg_nic_name() {
	vm_log_since "$1" "${2:-0}" | grep -E ' lease dev=' | tail -1 | sed -n 's/.* lease dev=\([^ ]*\).*/\1/p'
}

# dg_ping_us NODE IP TIMEOUT_S — ping IP from NODE's netns every 0.1 s until it answers; prints the host
# time (µs) of the first reply. 1 on timeout.
dg_ping_us() {
	local ns deadline
	ns=$(node_ns "$1")
	deadline=$(($(rl_ms) + $3 * 1000))
	until ip netns exec "$ns" ping -n -q -c1 -W0.2 "$2" >/dev/null 2>&1; do
		[ "$(rl_ms)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
	echo "${EPOCHREALTIME/./}"
}
