#!/bin/bash
# The Debian package, as an operator gets it: `make deb` (cached: rebuilt only when a source changed)
# gives dist/relink_<VERSION>_amd64.deb with lintian reporting no error; its contents are the promised
# layout; it installs with dpkg into a throw-away Debian 12 root (mmdebstrap minbase + the package's
# dependencies + containernetworking-plugins, cached as a tarball under .cache/deb-root/); there the
# unit is installed but not enabled, /etc/default/relinkd is a conffile, the installed relinkd answers
# --version and --help, the installed man pages render, and the installed relink runs through cnitool
# (ADD/CHECK/DEL with Debian's bridge + host-local from /usr/lib/cni) in the root, in a private netns.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
rl_init
VERSION=$(cat "$ROOT/VERSION")
DEB=$ROOT/dist/relink_${VERSION}_amd64.deb
for t in dpkg-buildpackage lintian mmdebstrap; do
	command -v $t >/dev/null || _fatal "$t missing (scripts/setup.sh)"
done
[ -x "$CNITOOL" ] || _fatal "no cnitool at $CNITOOL (scripts/setup.sh)"

if make -C "$ROOT" --no-print-directory -s deb >"$T/make.log" 2>&1 && [ -s "$DEB" ]; then
	ok "make deb -> dist/relink_${VERSION}_amd64.deb"
else
	not_ok "make deb" "$(tail -20 "$T/make.log")"
	finish
fi
lint=$ROOT/build/deb/lintian.log
expect_eq "lintian: no error or warning tags" "$(grep -E '^[EW]: ' "$lint")" ""
expect_eq "package version = VERSION" "$(dpkg-deb -f "$DEB" Package Version Architecture | tr '\n' ' ')" \
	"Package: relink Version: $VERSION Architecture: amd64 "
dpkg-deb -c "$DEB" | awk '{print $1, $6}' | sed 's|^\(.\)[^ ]* \./|\1 /|' >"$T/contents"
for f in "- /usr/lib/cni/relink" "- /usr/sbin/relinkd" "- /lib/systemd/system/relinkd.service" "- /etc/default/relinkd" \
	"- /usr/share/man/man8/relink.8.gz" "- /usr/share/man/man8/relinkd.8.gz" \
	"- /usr/share/doc/relink/examples/10-podnet.conflist" "- /usr/share/doc/relink/examples/relinkd.service" \
	"- /usr/share/doc/relink/examples/kubernetes/relink-daemonset.yaml" "- /usr/share/doc/relink/copyright"; do
	check "package holds ${f#- }" grep -qx -- "$f" "$T/contents"
done
expect_eq "nothing under /usr/local or /opt" "$(grep -E ' /(usr/local|opt)/' "$T/contents")" ""
dpkg-deb --fsys-tarfile "$DEB" | tar -xO ./lib/systemd/system/relinkd.service >"$T/unit"
expect_eq "unit runs /usr/sbin/relinkd, reads /etc/default/relinkd" \
	"$(grep -E '^(ExecStart|EnvironmentFile)=' "$T/unit" | sed 's/ .*//')" \
	"EnvironmentFile=-/etc/default/relinkd"$'\n'"ExecStart=/usr/sbin/relinkd"

# The throw-away root: minbase + the .deb's Depends + CNI plugins, cached by package list and sources.
DEPS=$(dpkg-deb -f "$DEB" Depends | sed 's/ *([^)]*)//g; s/ //g')
INCLUDE="$DEPS,containernetworking-plugins,init-system-helpers"
SOURCES=/etc/apt/sources.list.d/debian.sources
[ -f "$SOURCES" ] || _fatal "no $SOURCES for mmdebstrap"
CACHE=$ROOT/.cache/deb-root
mkdir -p "$CACHE"
stamp=$( { echo "minbase bookworm $INCLUDE"; cat "$SOURCES"; } | sha256sum | cut -c1-16)
TAR=$CACHE/root-$stamp.tar
(
	flock 9
	[ -s "$TAR" ] && exit 0
	mmdebstrap --quiet --variant=minbase --include="$INCLUDE" \
		--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
		bookworm "$CACHE/tmp-$stamp.tar" "$SOURCES" && mv "$CACHE/tmp-$stamp.tar" "$TAR"
) 9>"$CACHE/.lock" >"$T/mmdebstrap.log" 2>&1 || _fatal "mmdebstrap: $(tail -5 "$T/mmdebstrap.log")"
R=$T/root
mkdir -p "$R"
tar -xf "$TAR" -C "$R" || _fatal "cannot unpack $TAR"
cp "$DEB" "$R/tmp/relink.deb"
# dpkg --path-exclude would drop our docs and man pages: the root's dpkg.cfg.d from mmdebstrap excludes them.
rm -f "$R"/etc/dpkg/dpkg.cfg.d/99mmdebstrap
if chroot "$R" dpkg -i /tmp/relink.deb >"$T/dpkg.log" 2>&1; then
	ok "dpkg -i in a Debian 12 root: dependencies satisfied, maintainer scripts run"
else
	not_ok "dpkg -i in a Debian 12 root" "$(tail -15 "$T/dpkg.log")"
fi
expect_eq "dpkg: installed" "$(chroot "$R" dpkg-query -W -f='${Status} ${Version}' relink)" "install ok installed $VERSION"
expect_eq "/etc/default/relinkd is a conffile" \
	"$(chroot "$R" dpkg-query -W -f='${Conffiles}' relink | awk 'NF {print $1}')" "/etc/default/relinkd"
expect_eq "the unit is not enabled" "$(find "$R/etc/systemd/system" -name 'relinkd.service' 2>/dev/null)" ""
expect_eq "installed relinkd --version" "$(chroot "$R" /usr/sbin/relinkd --version; echo "rc=$?")" \
	"relinkd $VERSION"$'\n'"rc=0"
chroot "$R" /usr/sbin/relinkd --help >"$T/help" 2>&1
rc=$?
expect_eq "installed relinkd --help: exit 0, usage first" "rc=$rc $(head -1 "$T/help" | cut -c1-38)" \
	"rc=0 Usage: relinkd --state-dir DIR [--kube"
for p in relink relinkd; do
	w=$(zcat "$R/usr/share/man/man8/$p.8.gz" | LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z 2>&1)
	expect_eq "installed $p(8) renders without warnings" "$w" ""
done
check "installed relinkd links only libraries present in the root (ldd in the root)" \
	eval "! chroot '$R' ldd /usr/sbin/relinkd | grep -q 'not found'"

# The installed plugin through cnitool, inside the root (its /usr/lib/cni has Debian's plugins and
# relink), in a node netns with its own mount namespace: nothing touches the host's network or mounts.
cp "$CNITOOL" "$R/usr/local/bin/cnitool"
netns_new node n
netns_new pod p
mkdir -p "$R/etc/cni/net.d" "$R/run/netns"
: >"$R/run/netns/$pod"
cat >"$R/etc/cni/net.d/10-debnet.conflist" <<EOF2
{
  "cniVersion": "1.0.0", "name": "debnet",
  "plugins": [
    { "type": "bridge", "bridge": "${P}br", "isGateway": true,
      "ipam": {"type": "host-local", "subnet": "10.99.0.0/24", "routes": [{"dst": "0.0.0.0/0"}]} },
    { "type": "relink", "stateDir": "/run/cni/relink" }
  ]
}
EOF2
in_root() { # CMD...: run in the root, in the node netns, with /proc, /sys and the pod netns visible
	ip netns exec "$node" unshare -m sh -c '
		r=$1; pod=$2; shift 2
		mount -t proc proc "$r/proc" && mount -t sysfs sys "$r/sys" &&
			mount --bind "/run/netns/$pod" "$r/run/netns/$pod" &&
			exec chroot "$r" env CNI_PATH=/usr/lib/cni NETCONFPATH=/etc/cni/net.d "$@"' sh "$R" "$pod" "$@"
}
CID=$(cnitool_cid "/run/netns/$pod")
if in_root cnitool add debnet "/run/netns/$pod" >"$T/add.json" 2>&1; then
	ok "installed relink: cnitool add (bridge + host-local + relink from /usr/lib/cni)"
else
	not_ok "installed relink: cnitool add" "$(cat "$T/add.json")"
fi
rec=$R/run/cni/relink/debnet/$CID@eth0.json
expect_eq "record written by the installed plugin (network, ifname, IPv4)" \
	"$(jq -r '[.network, .ifname, .ips[0].address] | join(" ")' "$rec" 2>&1)" "debnet eth0 10.99.0.2"
expect_eq "its MAC is the pod's eth0" "$(jq -r .mac "$rec" 2>&1)" \
	"$(ip -n "$pod" -j link show eth0 | jq -r '.[0].address')"
if in_root cnitool check debnet "/run/netns/$pod" >"$T/check.out" 2>&1; then
	ok "installed relink: cnitool check"
else
	not_ok "installed relink: cnitool check" "$(cat "$T/check.out")"
fi
if in_root cnitool del debnet "/run/netns/$pod" >"$T/del.out" 2>&1 && [ ! -e "$rec" ]; then
	ok "installed relink: cnitool del removes the record"
else
	not_ok "installed relink: cnitool del removes the record" "$(cat "$T/del.out")"
fi
expect_eq "the host's network was not touched (no ${P}br outside the node netns)" \
	"$(ip -o link show "${P}br" 2>/dev/null)" ""
finish
