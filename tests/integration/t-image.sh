#!/bin/bash
# The OCI image (scripts/build-image.sh: buildah from scratch, the .deb's binaries + exactly their
# libraries + busybox for the init container), built here without any registry and run with podman,
# no network: the image's relinkd --version is VERSION, its plugin answers CNI VERSION, its --help loads
# every library, the DaemonSet's init-container command installs the plugin into a host directory
# (and that copy runs on the host), and the DaemonSet names this image.
#
# This sandbox (no systemd, cgroup v1 with a cgroup2 hierarchy holding a controller) needs two podman
# settings: runc, because crun refuses hybrid cgroups ("cgroups in hybrid mode not supported"), and
# rlimits no higher than the hard limits, because podman's default RLIMIT_NOFILE (1048576) is above
# them and the process lacks CAP_SYS_RESOURCE. PODMAN_RUNTIME overrides the runtime.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
rl_init
VERSION=$(cat "$ROOT/VERSION")
IMAGE=localhost/relink:$VERSION
for t in podman buildah; do command -v $t >/dev/null || _fatal "$t missing (scripts/setup.sh)"; done
RUNTIME=${PODMAN_RUNTIME:-runc}
command -v "$RUNTIME" >/dev/null || _fatal "$RUNTIME missing (scripts/setup.sh)"
nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] || [ "$nofile" -gt 1024 ] && nofile=1024
run() { timeout 120 podman --runtime "$RUNTIME" run --rm --network=none \
	--ulimit "nofile=$nofile:$nofile" --ulimit nproc=1024:1024 "$@"; }

if make -C "$ROOT" --no-print-directory -s image >"$T/make.log" 2>&1; then
	ok "make image -> $IMAGE and dist/relink_${VERSION}_oci.tar"
else
	not_ok "make image" "$(tail -20 "$T/make.log")"
	finish
fi
expect_eq "image version label" "$(podman image inspect -f '{{ index .Labels "org.opencontainers.image.version" }}' "$IMAGE")" "$VERSION"
size=$(podman image inspect -f '{{.Size}}' "$IMAGE")
check "image is small: binaries + their libraries only ($((size / 1048576)) MiB < 100 MiB)" test "$size" -lt 104857600
expect_eq "relinkd --version in the image" "$(run "$IMAGE" --version 2>&1; echo "rc=$?")" "relinkd $VERSION"$'\n'"rc=0"
out=$(run "$IMAGE" --help 2>&1)
expect_eq "relinkd --help in the image (every library loads)" "$(head -1 <<<"$out" | cut -c1-14)" "Usage: relinkd"
expect_eq "the plugin's CNI VERSION in the image" \
	"$(run -e CNI_COMMAND=VERSION --entrypoint /usr/local/lib/relink/relink "$IMAGE" 2>&1 | jq -c .supportedVersions)" \
	'["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]'
expect_eq "the plugin's banner in the image names VERSION" \
	"$(run --entrypoint /usr/local/lib/relink/relink "$IMAGE" 2>&1 >/dev/null | head -1)" "CNI relink plugin $VERSION"

# The DaemonSet's init container, as written in the manifest, with a host directory as /host/opt/cni/bin.
DS=$ROOT/examples/kubernetes/relink-daemonset.yaml
mapfile -t initcmd < <(python3 -c 'import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d.get("kind") == "DaemonSet":
        for a in d["spec"]["template"]["spec"]["initContainers"][0]["command"]: print(a)' "$DS")
images=$(python3 -c 'import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d.get("kind") == "DaemonSet":
        s = d["spec"]["template"]["spec"]
        print(" ".join(sorted({c["image"] for c in s["initContainers"] + s["containers"]})))' "$DS")
expect_eq "the DaemonSet names this image" "$images" "$IMAGE"
mkdir -p "$T/host-cni-bin"
run -v "$T/host-cni-bin:/host/opt/cni/bin" --entrypoint "${initcmd[0]}" "$IMAGE" "${initcmd[@]:1}" >"$T/init.log" 2>&1
rc=$?
expect_eq "init container: exit 0, the plugin installed on the host" \
	"rc=$rc $(ls -A "$T/host-cni-bin" | tr '\n' ' ')$(stat -c %a "$T/host-cni-bin/relink" 2>/dev/null)" "rc=0 relink 755"
expect_eq "the installed copy runs on the host" \
	"$(CNI_COMMAND=VERSION "$T/host-cni-bin/relink" | jq -r .cniVersion)" "1.1.0"
finish
