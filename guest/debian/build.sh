#!/bin/bash
# guest/debian/build.sh STACK [OUTDIR] — a real Debian 12 guest for the real-guest test tier.
#
#   STACK: networkd (systemd-networkd) | nm (NetworkManager) | ifupdown (ifupdown + ISC dhclient)
#   OUTDIR (default .cache/debian):
#     STACK.img    raw ext4 root file system (sparse; a symlink to this build's STACK-<hash>.img); boot it
#                  as /dev/vda (virtio), one qcow2 overlay per VM
#     vmlinuz      the Debian cloud kernel of guest/build.sh (same package, same version)
#     initrd.img   busybox initramfs: insmod the virtio modules (blk + net), mount /dev/vda, switch_root
#   Prints the three paths, one per line.
#
# Root file system: `mmdebstrap --variant=minbase bookworm` from the machine's own Debian sources
# (the bookworm entries of /etc/apt/sources.list{,.d/*}), plus systemd/udev/iproute2/ping and the stack's
# packages, plus rootfs/common and rootfs/STACK (configuration, relink-report.service) and relink-guest
# (the static rlog/linkwatch/pinger helpers of the busybox guest). No kernel modules in the image: the
# initramfs loads every driver the guest needs. Downloaded .debs are kept in OUTDIR/work/debs.
# Cached: STACK.img is rebuilt only when the hash of its inputs changes (this script, rootfs/, the
# helpers' sources, the candidate versions of the packages asked for). Needs root, mmdebstrap, e2fsprogs.
set -euo pipefail

DEB_DIR=$(cd "$(dirname "$0")" && pwd)
GUEST_DIR=$(dirname "$DEB_DIR")
ROOT=$(dirname "$GUEST_DIR")
STACK=${1:-}
OUT=${2:-$ROOT/.cache/debian}
SUITE=bookworm
BOOT_MODULES="failover net_failover virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk virtio_net"
BASE_PACKAGES="systemd systemd-sysv udev iproute2 iputils-ping"
IMAGE_SIZE=1G

die() { echo "guest/debian/build.sh: $*" >&2; exit 1; }
say() { echo "guest/debian/build.sh: $*" >&2; }
# shellcheck source=guest/initramfs.sh
. "$GUEST_DIR/initramfs.sh"

case "$STACK" in
networkd) PACKAGES="" ;;                                     # systemd-networkd is part of systemd
nm)       PACKAGES="network-manager" ;;
ifupdown) PACKAGES="ifupdown isc-dhcp-client" ;;
*)        die "usage: build.sh networkd|nm|ifupdown [OUTDIR]" ;;
esac
[ "$(id -u)" = 0 ] || die "must run as root"
for t in mmdebstrap mkfs.ext4 cpio gzip; do
        command -v "$t" >/dev/null || die "missing '$t' (scripts/setup.sh)"
done
mkdir -p "$OUT/work"
OUT=$(cd "$OUT" && pwd)
WORK=$OUT/work

# One build at a time per OUTDIR (shared .deb cache); others wait and then find their image fresh.
exec 9>"$OUT/.lock"
flock 9

# ---- kernel: the busybox guest's (guest/build.sh resolves, downloads and caches it) ----------------------
"$GUEST_DIR/build.sh" >/dev/null || die "guest/build.sh failed"
GOUT=$ROOT/.cache/guest
read -r KPKG KVER <"$GOUT/kernel-version" || die "no $GOUT/kernel-version"
KDEB=$(ls "$GOUT/work/deb/${KPKG}_"*.deb 2>/dev/null | head -n1 || true)
if [ -z "$KDEB" ]; then
        mkdir -p "$WORK/kdeb"
        rm -f "$WORK/kdeb/"*.deb
        (cd "$WORK/kdeb" && apt-get download -o APT::Sandbox::User=root "$KPKG=$KVER") >&2 || die "apt-get download '$KPKG' failed"
        KDEB=$(ls "$WORK/kdeb/${KPKG}_"*.deb | head -n1)
fi
KREL=${KPKG#linux-image-}

BOOT_STAMP=$( { cat "$DEB_DIR/build.sh" "$GUEST_DIR/initramfs.sh" "$DEB_DIR/init"; echo "$KPKG $KVER $(dpkg-query -W -f='${Version}' busybox-static)"; } |
        sha256sum | cut -d' ' -f1)
if [ "$(cat "$OUT/boot.stamp" 2>/dev/null)" != "$BOOT_STAMP" ] || [ ! -s "$OUT/initrd.img" ] || [ ! -s "$OUT/vmlinuz" ]; then
        say "initramfs for $KREL"
        rm -rf "$WORK/kernel" "$WORK/initrd"
        mkdir -p "$WORK/kernel" "$WORK/initrd/proc" "$WORK/initrd/sys"
        dpkg -x "$KDEB" "$WORK/kernel"
        R=$WORK/initrd
        initramfs_busybox "$R"
        initramfs_modules "$R" "$WORK/kernel" "$KREL" $BOOT_MODULES
        install -m 0755 "$DEB_DIR/init" "$R/init"
        initramfs_nodes "$R"
        initramfs_pack "$R" "$OUT/initrd.img.tmp"
        cp "$WORK/kernel/boot/vmlinuz-$KREL" "$OUT/vmlinuz.tmp"
        mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
        mv "$OUT/initrd.img.tmp" "$OUT/initrd.img"
        echo "$BOOT_STAMP" >"$OUT/boot.stamp"
        rm -rf "$WORK/kernel" "$WORK/initrd"
fi

# ---- root file system ------------------------------------------------------------------------------------
# The machine's own Debian sources for the suite, as one deb822 file (other vendors' entries left out).
sources() {
        local f
        for f in /etc/apt/sources.list.d/*.sources; do
                [ -e "$f" ] || continue
                # Paragraphs whose Types has "deb" and whose Suites name SUITE or SUITE-<pocket>.
                awk -v suite="$SUITE" 'BEGIN { RS = ""; ORS = "\n\n" }
                        { t = 0; s = 0; n = split($0, l, "\n")
                          for (i = 1; i <= n; i++) {
                                if (l[i] ~ /^Types:/ && l[i] ~ /[ \t]deb([ \t]|$)/) t = 1
                                if (l[i] ~ /^Suites:/) { m = split(l[i], w, /[ \t]+/)
                                        for (j = 2; j <= m; j++) if (w[j] == suite || index(w[j], suite "-") == 1) s = 1 } }
                          if (t && s) print }' "$f"
        done
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
                [ -e "$f" ] || continue
                # One-line entries: "deb [options] URI SUITE[-pocket] components…" → deb822.
                awk -v suite="$SUITE" '$1 == "deb" { o = ""; i = 2
                        if ($2 ~ /^\[/) { while ($i !~ /\]$/) { o = o " " $i; i++ } o = o " " $i; i++ }
                        uri = $i; st = $(i + 1)
                        if (st != suite && index(st, suite "-") != 1) next
                        c = ""; for (k = i + 2; k <= NF; k++) c = c " " $k
                        printf "Types: deb\nURIs: %s\nSuites: %s\nComponents:%s\n", uri, st, c
                        if (match(o, /signed-by=[^] ]*/)) printf "Signed-By: %s\n", substr(o, RSTART + 10, RLENGTH - 10)
                        printf "\n" }' "$f"
        done
}
sources >"$WORK/$SUITE.sources"
grep -q '^URIs:' "$WORK/$SUITE.sources" || die "no '$SUITE' entry in the machine's apt sources"

INCLUDE=$(echo "$BASE_PACKAGES $PACKAGES" | tr -s ' ' ',' | sed 's/^,//; s/,$//')
VERSIONS=$(apt-cache policy $BASE_PACKAGES $PACKAGES 2>/dev/null | awk '/^[^ ]/ { p = $1 } /Candidate:/ { print p, $2 }')
[ -n "$VERSIONS" ] || die "apt-cache knows none of: $BASE_PACKAGES $PACKAGES (apt-get update?)"
STAMP=$( { cat "$DEB_DIR/build.sh"; (cd "$DEB_DIR/rootfs" && find common "$STACK" -type f | LC_ALL=C sort |
        while read -r f; do echo "$f"; cat "$f"; done); cat "$GUEST_DIR"/*.c "$GUEST_DIR"/*.h;
        echo "$SUITE $VERSIONS"; cat "$WORK/$SUITE.sources"; } | sha256sum | cut -d' ' -f1)
# Each build gets its own file (STACK-<hash>.img) and STACK.img points to the latest: VMs of a running test
# keep their overlay's backing file (a migration target opens it again) while a newer image is built.
IMG=$OUT/$STACK.img
if [ "$(cat "$OUT/$STACK.stamp" 2>/dev/null)" = "$STAMP" ] && [ -s "$IMG" ]; then
        printf '%s\n' "$OUT/vmlinuz" "$OUT/initrd.img" "$IMG"
        exit 0
fi

say "building the $STACK image (mmdebstrap --variant=minbase $SUITE + $INCLUDE)"
T0=$(date +%s)
TREE=$WORK/tree-$STACK
rm -rf "$TREE"
mkdir -p "$WORK/debs"
# relink-guest: the busybox guest's static helpers (rlog, linkwatch, pinger).
${CC:-gcc} -static -Os -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wwrite-strings -Wno-unused-parameter -Werror \
        -ffunction-sections -fdata-sections -Wl,--gc-sections -s \
        -o "$WORK/relink-guest" "$GUEST_DIR"/*.c
mmdebstrap --quiet --variant=minbase --include="$INCLUDE" \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-include=/usr/share/locale/locale.alias' --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
        --setup-hook="sync-in '$WORK/debs' /var/cache/apt/archives/" \
        --customize-hook="sync-out /var/cache/apt/archives '$WORK/debs'" \
        --customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb' \
        "$SUITE" "$TREE" "$WORK/$SUITE.sources" >&2 || die "mmdebstrap failed"

# Configuration: files, helpers, services.
cp -a "$DEB_DIR/rootfs/common/." "$TREE/"
cp -a "$DEB_DIR/rootfs/$STACK/." "$TREE/"
[ "$STACK" != nm ] || chmod 0600 "$TREE/etc/NetworkManager/system-connections/"*.nmconnection
install -m 0755 "$WORK/relink-guest" "$TREE/usr/local/sbin/relink-guest"
for a in rlog linkwatch pinger; do ln -sf relink-guest "$TREE/usr/local/sbin/$a"; done
mkdir -p "$TREE/etc/relink"
echo "$STACK" >"$TREE/etc/relink/stack"
echo "relink-$STACK" >"$TREE/etc/hostname"
echo "/dev/vda / ext4 rw,errors=remount-ro 0 1" >"$TREE/etc/fstab"
: >"$TREE/etc/machine-id"                      # a fresh machine ID (and DHCP DUID) per VM at boot
rm -f "$TREE/var/lib/dbus/machine-id"
chroot "$TREE" systemctl enable relink-report.service >/dev/null 2>&1
case "$STACK" in
networkd) chroot "$TREE" systemctl enable systemd-networkd.service >/dev/null 2>&1 ;;
nm)       chroot "$TREE" systemctl enable NetworkManager.service >/dev/null 2>&1 ;;
ifupdown) ;;                                    # networking.service + udev's ifup@ are enabled by the package
esac
# No login prompt on the console (it would run into the next RELINK line); nothing periodic that would
# steal CPU from a TCG guest during a test.
for u in serial-getty@ttyS0.service getty@tty1.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
         dpkg-db-backup.timer man-db.timer systemd-tmpfiles-clean.timer; do
        chroot "$TREE" systemctl mask "$u" >/dev/null 2>&1 || true
done

NEW=$OUT/$STACK-${STAMP:0:12}.img
rm -f "$NEW.tmp"
truncate -s "$IMAGE_SIZE" "$NEW.tmp"
mkfs.ext4 -q -F -L relink-root -d "$TREE" "$NEW.tmp"
mv "$NEW.tmp" "$NEW"
ln -sfn "$(basename "$NEW")" "$IMG.tmp"
mv -T "$IMG.tmp" "$IMG"
echo "$STAMP" >"$OUT/$STACK.stamp"
rm -rf "$TREE"
# Older builds: keep the previous one (a test started before this build may still use it), drop the rest.
ls -t "$OUT/$STACK"-*.img 2>/dev/null | tail -n +3 | xargs -r rm -f
say "$STACK image built in $(($(date +%s) - T0)) s ($(du -h --apparent-size "$NEW" | cut -f1) sparse, $(du -h "$NEW" | cut -f1) used)"
printf '%s\n' "$OUT/vmlinuz" "$OUT/initrd.img" "$IMG"
