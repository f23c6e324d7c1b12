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
# image, $RUN/vms/<vmi>/disk.qcow2), 384 MiB, `root=/dev/vda` instead of the guest's init options, and
# migration with --unsafe (libvirt refuses to live-migrate a VM with a disk on local storage; here both
# launcher daemons run on one host and share the overlay file, so it is safe).
# How: lib.sh's vm_start and pod_virsh are wrapped (below), so vm_create, migrate and everything else of
# lib.sh (profiles, launchers, hooks) work unchanged: `vm_start … --os debian …` starts a Debian domain,
# and `pod_virsh POD migrate …` gets --unsafe (harmless for a VM without a disk).
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

# dg_vm_start POD VMI --stack S [--mem MIB] [--ping IP] [--cmdline "extra"]
#   Transient domain "default_<vmi>": TCG, pc, qemu64, direct kernel boot of the Debian guest's kernel and
#   initramfs, root on a virtio disk (qcow2 overlay), one virtio NIC per pod network on the launcher's taps
#   with the pod interface's MAC, serial console appended to $RUN/vms/<vmi>/console.log.
dg_vm_start() {
	local pod=$1 vmi=$2 stack="" mem=$DG_MEM_MIB ping="" extra="" v d dom net ifname
	shift 2
	while [ $# -gt 0 ]; do
		case $1 in
		--stack) stack=$2; shift ;;
		--mem) mem=$2; shift ;;
		--ping) ping=$2; shift ;;
		--cmdline) extra=$2; shift ;;
		*) rl_err "dg_vm_start: unknown option '$1'"; return 1 ;;
		esac
		shift
	done
	[ -r "$DG_DIR/$stack.img" ] || { rl_err "dg_vm_start: no image for stack '$stack' in $DG_DIR (dg_images)"; return 1; }
	v=$RUN/vms/$vmi
	d=$(pod_dir "$pod")
	dom=$(vm_domain "$vmi")
	mkdir -p "$v"
	# The overlay names the build itself (STACK-<hash>.img), not the STACK.img symlink a rebuild moves.
	qemu-img create -q -f qcow2 -F raw -b "$(readlink -f "$DG_DIR/$stack.img")" "$v/disk.qcow2" ||
		{ rl_err "qemu-img create for $vmi failed"; return 1; }
	while read -r net ifname; do
		(
			# shellcheck disable=SC1090
			. "$d/nic-$ifname.env"
			printf "    <interface type='ethernet'>\n      <mac address='%s'/>\n      <target dev='%s' managed='no'/>\n      <model type='virtio'/>\n    </interface>\n" "$MAC" "$TAP"
		)
	done <"$d/nets" >"$v/nics.xml"
	cat >"$v/domain.xml" <<EOF
<domain type='qemu'>
  <name>$dom</name>
  <uuid>$(rl_uuid)</uuid>
  <memory unit='MiB'>$mem</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$DG_DIR/vmlinuz</kernel>
    <initrd>$DG_DIR/initrd.img</initrd>
    <cmdline>console=ttyS0 loglevel=5 root=/dev/vda${ping:+ relink.ping=$ping}${extra:+ $extra}</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='custom' match='exact' check='none'><model fallback='forbid'>qemu64</model></cpu>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$v/disk.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
$(cat "$v/nics.xml")
    <serial type='file'>
      <source path='$v/console.log' append='on'/>
      <target port='0'/>
    </serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
	echo "$pod" >"$v/pod"
	echo "$stack" >"$v/stack"
	: >>"$v/console.log"
	pod_qemu_own "$pod" "$v/console.log" "$v/disk.qcow2"
	console_ts_start "$vmi"
	if ! pod_virsh "$pod" create "$v/domain.xml" >/dev/null; then
		rl_err "virsh create $dom in $pod failed"
		return 1
	fi
	vm_track_qemu "$vmi"
	rl_say "Debian VM $dom started in $pod (stack $stack, $mem MiB)"
}

# vm_start POD VMI --os debian … → dg_vm_start; anything else → lib.sh's own vm_start.
eval "$(declare -f vm_start | sed '1s/^vm_start /dg_lib_vm_start /')"
vm_start() {
	if [ "${3:-}" = --os ] && [ "${4:-}" = debian ]; then
		dg_vm_start "$1" "$2" "${@:5}"
	else
		dg_lib_vm_start "$@"
	fi
}

# pod_virsh POD migrate … → with --unsafe (see the top); every other call unchanged.
eval "$(declare -f pod_virsh | sed '1s/^pod_virsh /dg_lib_pod_virsh /')"
pod_virsh() {
	if [ "${2:-}" = migrate ]; then
		dg_lib_pod_virsh "$1" migrate --unsafe "${@:3}"
	else
		dg_lib_pod_virsh "$@"
	fi
}

# dg_vm_create NODE VMI [vm_create options] [-- dg_vm_start options] — lib.sh's vm_create (pod, launcher,
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
