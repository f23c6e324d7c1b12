#!/bin/bash
# Install everything relink's build, tests and demo need on Debian 12, idempotently.
#
#   scripts/setup.sh            packages + cnitool
#   scripts/setup.sh --check    exit 0 when nothing is missing (no changes)
#
# cnitool is not packaged: it is built from Debian's own libcni source package
# (golang-github-appc-cni) in GOPATH mode, into $RELINK_TOOLS (default .tools/).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=${RELINK_TOOLS:-$ROOT/.tools}

PACKAGES=(
	# build
	gcc libc6-dev make pkg-config libcjson-dev libnl-3-dev libnl-route-3-dev libvirt-dev libxml2-dev libcmocka-dev
	# CNI peers + cnitool build
	containernetworking-plugins golang-go golang-github-appc-cni-dev
	# VMs, pods, DHCP
	qemu-system-x86 libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients dnsmasq-base
	busybox-static nftables iproute2 cpio gzip kmod
	# real Debian guests (guest/debian/build.sh, tests/realguest/): root file system, image, overlays
	mmdebstrap e2fsprogs qemu-utils
	# fuzzing (tests/fuzz/, make fuzz): clang with the libFuzzer/ASan/UBSan runtimes, llvm-symbolizer for reports
	clang libclang-rt-14-dev llvm
	# tests, benchmarks
	hyperfine jq time procps util-linux iputils-ping gdb
	# manifest checks (tests/integration/t-examples.sh)
	python3 python3-yaml systemd binutils diffutils
	# packaging: man pages, make deb + lintian, metrics over HTTP, the OCI image (t-man, t-deb, t-image)
	groff-base groff man-db dpkg-dev debhelper fakeroot lintian libmicrohttpd-dev curl podman buildah runc
)

missing_packages() {
	local p
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || echo "$p"
	done
}

# guest/build.sh (run by the e2e harness) resolves and downloads the guest kernel through the apt
# lists; a machine with every package installed but empty lists (container images) needs an update.
apt_lists_ready() { apt-cache show linux-image-cloud-amd64 >/dev/null 2>&1; }

install_packages() {
	local missing
	missing=$(missing_packages)
	[ -z "$missing" ] && apt_lists_ready && return 0
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	[ -z "$missing" ] && return 0
	echo "setup: installing:" $missing >&2
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# A deb-src twin of the machine's own source list, in a private apt directory,
# so `apt-get source` works without touching the system configuration.
fetch_cni_source() {
	local apt=$TOOLS/apt src
	mkdir -p "$apt/sources.list.d" "$apt/lists/partial" "$TOOLS/src"
	for src in /etc/apt/sources.list.d/*.sources; do
		[ -e "$src" ] || continue
		sed 's/^Types:.*deb\b.*/Types: deb-src/' "$src" >"$apt/sources.list.d/$(basename "$src")"
	done
	if [ -f /etc/apt/sources.list ]; then
		sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >"$apt/sources.list"
	else
		: >"$apt/sources.list"
	fi
	local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=$apt/sources.list.d"
		-o "Dir::State::Lists=$apt/lists" -o "Debug::NoLocking=1")
	apt-get "${opts[@]}" update -qq
	(cd "$TOOLS/src" && apt-get "${opts[@]}" source --download-only -qq golang-github-appc-cni)
	rm -rf "$TOOLS/src/golang-github-appc-cni"
	mkdir -p "$TOOLS/src/golang-github-appc-cni"
	tar -xf "$(ls "$TOOLS"/src/golang-github-appc-cni_*.orig.tar.* | head -1)" \
		-C "$TOOLS/src/golang-github-appc-cni" --strip-components=1
}

build_cnitool() {
	[ -x "$TOOLS/bin/cnitool" ] && return 0
	[ -f "$TOOLS/src/golang-github-appc-cni/cnitool/cnitool.go" ] || fetch_cni_source
	local gopath=$TOOLS/gopath
	rm -rf "$gopath"
	mkdir -p "$gopath/src/cnitool" "$TOOLS/bin"
	cp "$TOOLS/src/golang-github-appc-cni/cnitool/"*.go "$gopath/src/cnitool/"
	(cd "$gopath/src/cnitool" &&
		GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOCACHE="$TOOLS/gocache" \
			go build -o "$TOOLS/bin/cnitool" .)
	echo "setup: built $TOOLS/bin/cnitool" >&2
}

if [ "${1:-}" = --check ]; then
	[ -z "$(missing_packages)" ] && apt_lists_ready && [ -x "$TOOLS/bin/cnitool" ]
	exit
fi

[ "$(id -u)" = 0 ] || { echo "setup: run as root (apt-get, namespaces)" >&2; exit 1; }
install_packages
build_cnitool
