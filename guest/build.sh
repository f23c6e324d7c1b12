#!/bin/sh
# guest/build.sh [OUTDIR] — build the relink test guest: OUTDIR/vmlinuz + OUTDIR/initrd.img.
#
# Kernel: the package linux-image-cloud-amd64 depends on, fetched with `apt-get download` and unpacked
# with `dpkg -x` (never installed). Initramfs (cpio newc, gzip; guest/initramfs.sh): busybox-static, the virtio NIC modules,
# relink-guest (static C helpers: rlog, linkwatch, pinger), /init and the udhcpc script.
# Cached: rebuilt only when the hash of the inputs (this script, initramfs.sh, init, dhcp.sh, *.c, *.h, the kernel
# package version, the busybox version) changes. Needs root (device node in the cpio) and gcc.
set -eu

GUEST_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$GUEST_DIR")
OUT=${1:-$ROOT/.cache/guest}
MODULES="failover net_failover virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_net"

die() { echo "guest/build.sh: $*" >&2; exit 1; }
# shellcheck source=guest/initramfs.sh
. "$GUEST_DIR/initramfs.sh"
[ "$(id -u)" = 0 ] || die "must run as root"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# One build at a time per OUTDIR; others wait and then find the cache fresh.
exec 9>"$OUT/.lock"
flock 9

KPKG=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n1)
[ -n "$KPKG" ] || die "cannot resolve the package linux-image-cloud-amd64 depends on (apt-get update?)"
KVER=$(apt-cache policy "$KPKG" | sed -n 's/^ *Candidate: //p')
[ -n "$KVER" ] && [ "$KVER" != "(none)" ] || die "no candidate version for '$KPKG'"
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] && "$BUSYBOX" --help 2>&1 | head -n1 | grep -q BusyBox || die "busybox-static is not installed"
BBVER=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || echo unknown)

STAMP=$( { cat "$GUEST_DIR/build.sh" "$GUEST_DIR/initramfs.sh" "$GUEST_DIR/init" "$GUEST_DIR/dhcp.sh" "$GUEST_DIR"/*.c "$GUEST_DIR"/*.h
          echo "$KPKG $KVER busybox $BBVER"; } | sha256sum | cut -d' ' -f1)
if [ -f "$OUT/stamp" ] && [ "$(cat "$OUT/stamp")" = "$STAMP" ] && [ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initrd.img" ]; then
        echo "$OUT/vmlinuz"
        echo "$OUT/initrd.img"
        exit 0
fi

WORK="$OUT/work"
rm -rf "$WORK/root" "$WORK/kernel"
mkdir -p "$WORK/deb" "$WORK/kernel" "$WORK/root"

# Kernel package: keep the .deb of the current version, drop others.
DEB=$(ls "$WORK/deb/${KPKG}_"*.deb 2>/dev/null | head -n1 || true)
case "$DEB" in
*"_$(echo "$KVER" | sed 's/:/%3a/')_"*) ;;
*)      rm -f "$WORK/deb/"*.deb
        ( cd "$WORK/deb" && apt-get download -o APT::Sandbox::User=root "$KPKG=$KVER" ) >&2 || die "apt-get download '$KPKG' failed"
        DEB=$(ls "$WORK/deb/${KPKG}_"*.deb | head -n1) ;;
esac
dpkg -x "$DEB" "$WORK/kernel"
KREL=${KPKG#linux-image-}
VMLINUZ="$WORK/kernel/boot/vmlinuz-$KREL"
[ -f "$VMLINUZ" ] || die "no vmlinuz in '$DEB'"

# Initramfs tree.
R="$WORK/root"
mkdir -p "$R/proc" "$R/sys" "$R/run" "$R/tmp" "$R/etc/relink"
initramfs_busybox "$R"
initramfs_modules "$R" "$WORK/kernel" "$KREL" $MODULES
${CC:-gcc} -static -Os -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wwrite-strings -Wno-unused-parameter -Werror \
        -ffunction-sections -fdata-sections -Wl,--gc-sections -s \
        -o "$R/bin/relink-guest" "$GUEST_DIR"/*.c
for a in rlog linkwatch pinger; do ln -s relink-guest "$R/bin/$a"; done
install -m 0755 "$GUEST_DIR/init" "$R/init"
install -m 0755 "$GUEST_DIR/dhcp.sh" "$R/etc/relink/dhcp.sh"
initramfs_nodes "$R"
initramfs_pack "$R" "$OUT/initrd.img.tmp"
cp "$VMLINUZ" "$OUT/vmlinuz.tmp"
mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
mv "$OUT/initrd.img.tmp" "$OUT/initrd.img"
echo "$KPKG $KVER" >"$OUT/kernel-version"
echo "$STAMP" >"$OUT/stamp"
rm -rf "$WORK/root" "$WORK/kernel"
echo "$OUT/vmlinuz"
echo "$OUT/initrd.img"
