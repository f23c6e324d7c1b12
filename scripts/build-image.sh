#!/bin/bash
# Build the relink OCI image without a registry or a base image: buildah from scratch with the
# Debian package's binaries (dist/relink_<VERSION>_amd64.deb, `make deb`), exactly the shared
# libraries they load (ldd, resolved on this Debian 12 build host, which is the package's target),
# and busybox-static for the DaemonSet's init container (/bin/sh, cp, chmod, mv).
#
#   scripts/build-image.sh [IMAGE]     default IMAGE: localhost/relink:<VERSION>
#
# Layout (what examples/kubernetes/relink-daemonset.yaml runs): /usr/sbin/relinkd and
# /usr/lib/cni/relink as packaged, /usr/local/bin/relinkd and /usr/local/lib/relink/relink pointing
# at them. Also writes the image as an OCI archive to dist/relink_<VERSION>_oci.tar (podman load -i).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=$(cat "$ROOT/VERSION")
IMAGE=${1:-localhost/relink:$VERSION}
DEB=$ROOT/dist/relink_${VERSION}_amd64.deb
STAGE=$ROOT/build/image
die() { echo "build-image: $*" >&2; exit 1; }
for t in buildah dpkg-deb ldd; do command -v $t >/dev/null || die "$t missing (scripts/setup.sh)"; done
[ -s "$DEB" ] || die "no $DEB (make deb)"
[ -x /bin/busybox ] || die "no /bin/busybox (busybox-static)"

rm -rf "$STAGE"
R=$STAGE/root
mkdir -p "$R/usr/bin" "$R/usr/lib" "$R/usr/local/bin" "$R/usr/local/lib/relink" "$R/tmp" "$R/etc" "$R/run"
chmod 1777 "$R/tmp"
# Debian's merged /usr: the paths ldd prints (/lib/x86_64-linux-gnu/…, /lib64/ld-linux…) resolve.
for d in bin sbin lib lib64; do ln -s "usr/$d" "$R/$d"; done
mkdir -p "$R/usr/lib64" "$R/usr/sbin"
dpkg-deb -x "$DEB" "$STAGE/pkg"
install -m 0755 "$STAGE/pkg/usr/sbin/relinkd" "$R/usr/sbin/relinkd"
mkdir -p "$R/usr/lib/cni"
install -m 0755 "$STAGE/pkg/usr/lib/cni/relink" "$R/usr/lib/cni/relink"
ln -s /usr/sbin/relinkd "$R/usr/local/bin/relinkd"
ln -s /usr/lib/cni/relink "$R/usr/local/lib/relink/relink"
# Exactly the libraries the two binaries load, under the names the dynamic linker looks for.
libs=$(ldd "$R/usr/sbin/relinkd" "$R/usr/lib/cni/relink" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $1 !~ /:$/ {print $1}' | sort -u)
[ -n "$libs" ] || die "ldd found no libraries"
for l in $libs; do
	dst=$R$(readlink -f "$(dirname "$l")")/$(basename "$l")
	mkdir -p "$(dirname "$dst")"
	cp -L "$l" "$dst"
done
install -m 0755 /bin/busybox "$R/usr/bin/busybox"
for a in sh cp chmod mv cat ls; do ln -s busybox "$R/usr/bin/$a"; done
printf 'root:x:0:0:root:/:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\n' >"$R/etc/group"
cp "$STAGE/pkg/usr/share/doc/relink/copyright" "$R/copyright"

ctr=$(buildah from scratch)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
buildah copy --quiet "$ctr" "$R/" / >/dev/null
buildah config --entrypoint '["/usr/sbin/relinkd"]' --cmd '' \
	--label org.opencontainers.image.title=relink \
	--label org.opencontainers.image.version="$VERSION" \
	--label org.opencontainers.image.description="relink CNI plugin and relinkd (from relink_${VERSION}_amd64.deb)" \
	--os linux --arch amd64 "$ctr"
buildah commit --quiet --rm "$ctr" "$IMAGE" >/dev/null
trap - EXIT
mkdir -p "$ROOT/dist"
rm -f "$ROOT/dist/relink_${VERSION}_oci.tar"
buildah push --quiet "$IMAGE" "oci-archive:$ROOT/dist/relink_${VERSION}_oci.tar:$IMAGE" >/dev/null
echo "$IMAGE"
