# shellcheck shell=sh
# guest/initramfs.sh — the initramfs steps both guests share (sourced by guest/build.sh and
# guest/debian/build.sh, which define die()): busybox-static with its applets, the kernel modules a
# guest loads itself, the two device nodes /init needs before devtmpfs, and the cpio.
#
#   initramfs_busybox DIR                    /bin/busybox and its applet links in DIR/bin (DIR/sbin → bin)
#   initramfs_modules DIR KROOT KREL MOD...  MOD.ko (decompressed) from KROOT/lib/modules/KREL into DIR/lib/modules
#   initramfs_nodes DIR                      DIR/dev/console and DIR/dev/null
#   initramfs_pack DIR FILE                  DIR as a gzip'd cpio (newc, owned by root, sorted) into FILE

initramfs_busybox() {
        mkdir -p "$1/bin"
        ln -s bin "$1/sbin"
        cp /bin/busybox "$1/bin/busybox"
        for a in $(/bin/busybox --list); do
                [ "$a" = busybox ] || ln -s busybox "$1/bin/$a"
        done
}

initramfs_modules() {
        _d=$1 _k=$2 _rel=$3
        shift 3
        mkdir -p "$_d/lib/modules"
        for m; do
                f=$(find "$_k/lib/modules/$_rel" -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" | head -n1)
                [ -n "$f" ] || die "module '$m' not found in the kernel package ($_k)"
                case "$f" in
                *.xz)  xz -dc "$f" >"$_d/lib/modules/$m.ko" ;;
                *.zst) zstd -dqc "$f" >"$_d/lib/modules/$m.ko" ;;
                *)     cp "$f" "$_d/lib/modules/$m.ko" ;;
                esac
        done
}

initramfs_nodes() {
        mkdir -p "$1/dev"
        mknod -m 0600 "$1/dev/console" c 5 1
        mknod -m 0666 "$1/dev/null" c 1 3
}

initramfs_pack() {
        (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -9 >"$2"
}
