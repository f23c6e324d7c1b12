#!/bin/bash
# The configs in examples/ work as shipped: each is loaded, only its host-global names and paths
# are made private to this run (network name, bridge, host-local dataDir, relink stateDir/logFile),
# then ADD → record present → CHECK (0.4.0+) → DEL → record gone, via cnitool.
#
#   node netns $P"n" (cnitool; bridges / ptp host ends)     pod netns $P"p"
#   examples/10-podnet.conflist      → eth0   (bridge, dual stack)
#   examples/20-ptp-tuning.conflist  → eth1   (ptp + tuning with CAP_ARGS mac)
#   examples/net1-nad.yaml spec.config → net1 (multus secondary, bridge)
# Then the deployment manifests (parsed with python3-yaml, facts compared exactly):
#   examples/kubernetes/relink-daemonset.yaml  hostPID, privileged + SELinux level s0, kubelet pods dir
#       read-only + HostToContainer at <--kubelet-root>/pods, state dir = every example's stateDir, --kubevirt,
#       relinkd accepts the args; the init container, run for real, installs bin/relink into <host>/opt/cni/bin;
#   examples/kubernetes/Containerfile  its `make install` layout holds the paths the DaemonSet runs, its
#       runtime packages provide every library relink and relinkd link against;
#   examples/kubernetes/vm-bridge-migratable.yaml  the migration annotation where KubeVirt reads it (VMI
#       metadata = the VM's spec.template.metadata), bridge binding, the multus network names the NAD;
#   examples/relinkd.service  systemd-analyze verify is silent, relinkd accepts ExecStart's flags.
. "$(dirname "$0")/lib.sh"
rl_init

cnitool_pods
EX=$ROOT/examples

# privatise FILE INDEX > conflist: unique name/bridge, run-local dataDir/stateDir/logFile.
privatise() {
	jq --arg p "$P" --arg i "$2" --arg t "$T" --arg s "$STATE" '
		.name = "\($p)-\(.name)" |
		.plugins |= map(
			(if .bridge then .bridge = "\($p)br\($i)" else . end) |
			(if .ipam then .ipam.dataDir = "\($t)/ipam" else . end) |
			(if .type == "relink" then .stateDir = $s | (if .logFile then .logFile = "\($t)/relink.log" else . end) else . end))' "$1"
}
nad_config() { sed -n '/^  config: |/,$p' "$1" | tail -n +2 | sed 's/^    //'; }

is_conflist() { jq -e '(.plugins | length > 1) and (.name | length > 0)' "$1" >/dev/null; }
check "examples/10-podnet.conflist is a conflist" is_conflist "$EX/10-podnet.conflist"
check "examples/20-ptp-tuning.conflist is a conflist" is_conflist "$EX/20-ptp-tuning.conflist"
nad_config "$EX/net1-nad.yaml" >"$T/nad.json"
check "examples/net1-nad.yaml spec.config is a conflist" is_conflist "$T/nad.json"
expect_eq "every example chains relink last" \
	"$(jq -rs 'map(.plugins[-1].type) | join(" ")' "$EX/10-podnet.conflist" "$EX/20-ptp-tuning.conflist" "$T/nad.json")" \
	"relink relink relink"

i=0
for spec in "$EX/10-podnet.conflist eth0" "$EX/20-ptp-tuning.conflist eth1" "$T/nad.json net1"; do
	read -r file ifname <<<"$spec"
	i=$((i + 1))
	privatise "$file" "$i" >"$NETCONFPATH/$i.conflist"
	net=$(jq -r .name "$NETCONFPATH/$i.conflist")
	ver=$(jq -r .cniVersion "$NETCONFPATH/$i.conflist")
	what=$(basename "$file")
	[ "$file" = "$T/nad.json" ] && what=net1-nad.yaml
	env_=(CNI_IFNAME="$ifname" CNI_ARGS="IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=virt-launcher-vm1-abcde")
	[ "$ifname" = eth1 ] && env_+=(CAP_ARGS='{"mac":"0a:58:0a:f4:02:09"}')
	cnitool_in "$node" add "$net" "$pod" "${env_[@]}"
	expect_success "$what: ADD ($ver, $ifname)"
	rec=$(record_path "$net" "$CID" "$ifname")
	expect_eq "$what: record for $ifname matches the pod" \
		"$(jq -r '"\(.ifindex) \(.mac) \(.mtu) \(.vm)"' "$rec" 2>&1)" "$(ns_link "$pod" "$ifname") default_vm1"
	[ "$ifname" = eth1 ] && expect_eq "$what: tuning set the MAC from CAP_ARGS, relink recorded it" \
		"$(jq -r .mac "$rec" 2>&1) $(ns_link "$pod" eth1 | cut -d' ' -f2)" "0a:58:0a:f4:02:09 0a:58:0a:f4:02:09"
	cnitool_in "$node" check "$net" "$pod" "${env_[@]}"
	expect_success "$what: CHECK"
	cnitool_in "$node" del "$net" "$pod" "${env_[@]}"
	expect_success "$what: DEL"
	check "$what: record removed" test ! -e "$rec"
done

# ---- deployment manifests -------------------------------------------------------------------------------
PY=/usr/bin/python3
KX=$EX/kubernetes
$PY -c 'import yaml' 2>/dev/null || _fatal "python3-yaml missing (scripts/setup.sh)"
RELINKD=${RELINKD:-$ROOT/bin/relinkd}
[ -x "$RELINKD" ] || _fatal "no relinkd at $RELINKD (run make)"

# Facts from the manifests as "key<TAB>value" lines; argv lists NUL-separated in $T/<name>.argv.
$PY - "$EX" "$T" >"$T/facts" 2>"$T/facts.err" <<'PYEOF'
import glob, hashlib, json, os, sys, yaml
ex, out = sys.argv[1], sys.argv[2]
def fact(k, v):
    print(f"{k}\t{v}")
def argv(name, lst):
    with open(os.path.join(out, name + ".argv"), "w") as f:
        f.write("".join(str(a) + "\0" for a in lst))
docs = {}
for path in sorted(glob.glob(ex + "/*.yaml") + glob.glob(ex + "/kubernetes/*.yaml")):
    rel = os.path.relpath(path, ex)
    try:
        ds = [d for d in yaml.safe_load_all(open(path)) if d is not None]
        ok = all(isinstance(d, dict) and d.get("apiVersion") and d.get("kind") and (d.get("metadata") or {}).get("name")
                 for d in ds) and len(ds) > 0
        fact("parse." + rel, "ok" if ok else "document without apiVersion/kind/metadata.name")
        docs[rel] = ds
    except yaml.YAMLError as e:
        fact("parse." + rel, "error: " + str(e).replace("\n", " "))
def one(rel, kind):
    found = [d for d in docs.get(rel, []) if d.get("kind") == kind]
    return found[0] if len(found) == 1 else {}
def opt(args, name, default):
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(name + "="):
            return a[len(name) + 1:]
    return default
def mount_of(pod, ctr, path):
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    for m in ctr.get("volumeMounts", []):
        if m.get("mountPath") == path:
            v = vols.get(m["name"], {})
            src = ("hostPath:" + v["hostPath"]["path"]) if "hostPath" in v else ("emptyDir" if "emptyDir" in v else "?")
            return f'{src} ro={str(bool(m.get("readOnly"))).lower()} prop={m.get("mountPropagation", "None")}'
    return "not mounted"

# DaemonSet
d = one("kubernetes/relink-daemonset.yaml", "DaemonSet")
pod = d.get("spec", {}).get("template", {}).get("spec", {})
fact("ds.kinds", " ".join(x["kind"] for x in docs.get("kubernetes/relink-daemonset.yaml", [])))
fact("ds.hostPID", str(pod.get("hostPID")).lower())
fact("ds.hostNetwork", str(pod.get("hostNetwork")).lower())
fact("ds.priorityClassName", pod.get("priorityClassName"))
fact("ds.tolerates_every_taint", str(any(t.get("operator") == "Exists" and not t.get("key") and not t.get("effect")
                                         for t in pod.get("tolerations", []))).lower())
ctrs = {c["name"]: c for c in pod.get("containers", [])}
c = ctrs.get("relinkd", {})
sc = c.get("securityContext", {})
fact("ds.relinkd.privileged", str(sc.get("privileged")).lower())
fact("ds.relinkd.seLinuxLevel", (sc.get("seLinuxOptions") or {}).get("level"))
res = c.get("resources", {})
fact("ds.relinkd.resources", " ".join(k for k in ("requests.cpu", "requests.memory", "limits.memory")
                                      if k.split(".")[1] in res.get(k.split(".")[0], {})))
args = list(c.get("args", []))
argv("ds-relinkd", list(c.get("command", [])) + args)
kr = opt(args, "--kubelet-root", "/var/lib/kubelet")
sd = opt(args, "--state-dir", "/run/cni/relink")
mf = opt(args, "--metrics-file", "")
fact("ds.relinkd.kubevirt", str("--kubevirt" in args).lower())
fact("ds.relinkd.kubeletRoot", kr)
fact("ds.relinkd.stateDir", sd)
fact("ds.mount.kubeletPods", mount_of(pod, c, kr.rstrip("/") + "/pods"))
fact("ds.mount.stateDir", mount_of(pod, c, sd))
fact("ds.mount.metricsDir", mount_of(pod, c, os.path.dirname(mf)) if mf else "no --metrics-file")
hostpaths = [v["hostPath"]["path"] for v in pod.get("volumes", []) if "hostPath" in v]
fact("ds.hostLibvirtPaths", " ".join(p for p in hostpaths if "libvirt" in p or "kubevirt" in p) or "none")
fact("ds.relinkd.connectOrWatch", " ".join(a for a in args if a.split("=")[0] in ("--connect", "--watch")) or "none")
inits = pod.get("initContainers", [])
fact("ds.initContainers", len(inits))
if inits:
    i = inits[0]
    argv("ds-init", list(i.get("command", [])) + list(i.get("args", [])))
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    with open(os.path.join(out, "init.mounts"), "w") as f:   # mountPath<TAB>hostPath
        for m in i.get("volumeMounts", []):
            v = vols.get(m["name"], {})
            if "hostPath" in v:
                f.write(m["mountPath"] + "\t" + v["hostPath"]["path"] + "\n")
    fact("ds.images", " ".join(sorted({i.get("image"), c.get("image")})))

# VirtualMachine
vm = one("kubernetes/vm-bridge-migratable.yaml", "VirtualMachine")
tmpl = vm.get("spec", {}).get("template", {})
ann = "kubevirt.io/allow-pod-bridge-network-live-migration"
fact("vm.annotation.template", str(ann in ((tmpl.get("metadata") or {}).get("annotations") or {})).lower())
fact("vm.annotation.vmMetadata", str(ann in ((vm.get("metadata") or {}).get("annotations") or {})).lower())
ts = tmpl.get("spec", {})
ifaces = {i["name"]: i for i in ts.get("domain", {}).get("devices", {}).get("interfaces", [])}
bindings = ("bridge", "masquerade", "sriov", "slirp", "macvtap", "passt", "binding")
def binding(name):
    return " ".join(b for b in bindings if b in ifaces.get(name, {})) or "none"
pods = [n["name"] for n in ts.get("networks", []) if "pod" in n]
fact("vm.podNetwork.binding", binding(pods[0]) if len(pods) == 1 else f"{len(pods)} pod networks")
nads = {f'{n["metadata"].get("namespace", "default")}/{n["metadata"]["name"]}'
        for ds_ in docs.values() for n in ds_ if n.get("kind") == "NetworkAttachmentDefinition"}
text = open(ex + "/kubernetes/vm-bridge-migratable.yaml").read()
for n in ts.get("networks", []):
    if "multus" in n:
        ref = n["multus"]["networkName"]
        ref = ref if "/" in ref else vm["metadata"].get("namespace", "default") + "/" + ref
        podif = "pod" + hashlib.sha256(n["name"].encode()).hexdigest()[:11]
        fact("vm.multus." + n["name"], f'{binding(n["name"])} nad={"found" if ref in nads else "missing " + ref}'
             f' podIface={"named" if podif in text else "not named " + podif}')
PYEOF
[ -s "$T/facts.err" ] && not_ok "manifest facts extracted" "$(cat "$T/facts.err")"
declare -A F
while IFS=$'\t' read -r k v; do F[$k]=$v; done <"$T/facts"
fact() { echo "${F[$1]-<missing>}"; }

for f in "$EX"/*.yaml "$KX"/*.yaml; do
	rel=${f#"$EX"/}
	expect_eq "$rel: parses, every document has apiVersion, kind, metadata.name" "$(fact "parse.$rel")" ok
done

# DaemonSet
expect_eq "daemonset: documents" "$(fact ds.kinds)" "ServiceAccount DaemonSet"
expect_eq "daemonset: hostPID (socket peer PID → /proc/PID/ns/net)" "$(fact ds.hostPID)" true
expect_eq "daemonset: hostNetwork (never waits for the CNI chain it installs)" "$(fact ds.hostNetwork)" true
expect_eq "daemonset: priorityClassName" "$(fact ds.priorityClassName)" system-node-critical
expect_eq "daemonset: tolerates every taint" "$(fact ds.tolerates_every_taint)" true
expect_eq "daemonset: relinkd privileged" "$(fact ds.relinkd.privileged)" true
expect_eq "daemonset: relinkd SELinux level s0" "$(fact ds.relinkd.seLinuxLevel)" s0
expect_eq "daemonset: relinkd resources" "$(fact ds.relinkd.resources)" "requests.cpu requests.memory limits.memory"
expect_eq "daemonset: relinkd runs --kubevirt" "$(fact ds.relinkd.kubevirt)" true
expect_eq "daemonset: no --connect/--watch (discovery is --kubevirt's)" "$(fact ds.relinkd.connectOrWatch)" none
kr=$(fact ds.relinkd.kubeletRoot)
expect_eq "daemonset: <--kubelet-root>/pods ($kr/pods) is the host's, read-only, HostToContainer" \
	"$(fact ds.mount.kubeletPods)" "hostPath:$kr/pods ro=true prop=HostToContainer"
# The plugin writes records where its stateDir says (default from netconf/conf.h); relinkd must read there.
plugin_default=$(sed -n 's/^#define CONF_DEFAULT_STATE_DIR "\(.*\)"$/\1/p' "$ROOT/netconf/conf.h")
state_dirs=$(jq -rs --arg d "$plugin_default" '[.[].plugins[] | select(.type == "relink") | (.stateDir // $d)] | unique | join(" ")' \
	"$EX/10-podnet.conflist" "$EX/20-ptp-tuning.conflist" "$T/nad.json")
sd=$(fact ds.relinkd.stateDir)
expect_eq "daemonset: --state-dir is every example's stateDir" "$sd" "$state_dirs"
expect_eq "daemonset: state dir is the host's, same path" "$(fact ds.mount.stateDir)" "hostPath:$sd ro=true prop=None"
expect_eq "daemonset: metrics file's directory is a host directory" "$(fact ds.mount.metricsDir)" \
	"hostPath:/run/relinkd ro=false prop=None"
expect_eq "daemonset: no host libvirt or kubevirt-private path" "$(fact ds.hostLibvirtPaths)" none
check "examples: no /var/run/kubevirt-private (it never holds a libvirt socket)" \
	bash -c '! grep -rn "kubevirt-private" "$1"' _ "$EX"

mapfile -d '' ds_argv <"$T/ds-relinkd.argv"
expect_eq "daemonset: relinkd command" "${ds_argv[0]-}" /usr/local/bin/relinkd
# relinkd_accepts NAME ARGS...: relinkd parses ARGS (with --help appended it only parses, prints usage, exits 0).
relinkd_accepts() {
	local name=$1 rc
	shift
	"$RELINKD" "$@" --help >"$T/help" 2>&1
	rc=$?
	if [ "$rc" = 0 ] && [ "$(head -c 7 "$T/help")" = "Usage: " ]; then ok "$name"; else
		not_ok "$name" "exit $rc: $(head -n 2 "$T/help" | tr '\n' ' ')"; fi
}
relinkd_accepts "daemonset: bin/relinkd accepts the args" "${ds_argv[@]:1}"
"$RELINKD" "${ds_argv[@]:1}" --no-such-option --help >/dev/null 2>&1
expect_eq "daemonset: control: the same args plus an unknown option are refused" "$?" 2

# Image layout: the Containerfile's `make install` line, run into $T/img.
inst=$(sed -n 's/.*make -C \/src install \(.*\)$/\1/p' "$KX/Containerfile")
[[ $inst == *DESTDIR=/out* ]] || not_ok "Containerfile: make install with DESTDIR=/out" "got: $inst"
read -ra inst_args <<<"${inst//DESTDIR=\/out/DESTDIR=$T/img}"
make -s -C "$ROOT" install "${inst_args[@]}" >"$T/install.log" 2>&1
expect_eq "Containerfile: its make install runs" "$? $(cat "$T/install.log")" "0 "
check "image: the DaemonSet's relinkd command exists" test -x "$T/img${ds_argv[0]}"
expect_eq "daemonset: both containers use one image, make image's" "$(fact ds.images)" "localhost/relink:$(cat "$ROOT/VERSION")"
# Runtime packages: every library relink and relinkd are linked against comes from one of them (or libc6).
rt_pkgs=" libc6 $(sed -n '/^FROM debian:12$/,$p' "$KX/Containerfile" | sed -n '/apt-get install/,/&&/p' |
	tr ' \\' '\n\n' | grep -E '^lib[a-z0-9.+-]+$' | tr '\n' ' ')"
for lib in $(objdump -p "$ROOT/bin/relinkd" "$ROOT/bin/relink" | awk '/NEEDED/ {print $2}' | sort -u); do
	path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ {print $NF; exit}')
	real=$(readlink -f "$path")
	pkg=$( { dpkg -S "$path" || dpkg -S "${real#/usr}" || dpkg -S "$real"; } 2>/dev/null | head -1 | cut -d: -f1)
	check "Containerfile: runtime package for $lib (${pkg:-unknown}) is installed" test -n "$pkg" -a -z "${rt_pkgs##* "$pkg" *}"
done

# The init container, run for real: its command with every path under one of its hostPath mounts mapped to
# $T/host<hostPath> and every path the image has mapped to $T/img.
expect_eq "daemonset: one init container" "$(fact ds.initContainers)" 1
mapfile -d '' init_argv <"$T/ds-init.argv"
host_cni=""
while IFS=$'\t' read -r mp hp; do
	mkdir -p "$T/host$hp"
	[ "$hp" = /opt/cni/bin ] && host_cni=$T/host$hp
	for i in "${!init_argv[@]}"; do
		a=${init_argv[$i]}
		[[ $a == "$mp" || $a == "$mp"/* ]] && init_argv[$i]=$T/host$hp${a#"$mp"}
	done
done <"$T/init.mounts"
for i in "${!init_argv[@]}"; do
	a=${init_argv[$i]}
	[[ $a == /* && $a != "$T"/* && -e "$T/img$a" ]] && init_argv[$i]=$T/img$a
done
expect_eq "daemonset: the init container mounts the host's /opt/cni/bin" "${host_cni:+yes}" yes
if [ -n "$host_cni" ]; then
	"${init_argv[@]}" >"$T/init.log" 2>&1
	expect_eq "init container: runs" "$? $(cat "$T/init.log")" "0 "
	check "init container: the host's /opt/cni/bin/relink is bin/relink" cmp -s "$host_cni/relink" "$ROOT/bin/relink"
	expect_eq "init container: installed mode 0755, nothing else left behind" \
		"$(stat -c %a "$host_cni/relink" 2>&1) $(ls -A "$host_cni" | tr '\n' ' ')" "755 relink "
fi

# VirtualMachine
expect_eq "vm: migration annotation in spec.template.metadata.annotations (the VMI's)" \
	"$(fact vm.annotation.template)" true
expect_eq "vm: not (only) in the VirtualMachine's own metadata" "$(fact vm.annotation.vmMetadata)" false
expect_eq "vm: pod network interface uses bridge binding" "$(fact vm.podNetwork.binding)" bridge
expect_eq "vm: multus net1 bridge-bound, NAD in examples, pod interface name in the comment" \
	"$(fact vm.multus.net1)" "bridge nad=found podIface=named"

# systemd unit
unit=$EX/relinkd.service
exec_start=$(sed -n '/^ExecStart=/,/[^\\]$/p' "$unit" | sed 's/\\$//' | tr '\n' ' ' | sed 's/^ExecStart=//; s/ *$//')
$PY -c 'import shlex, sys; sys.stdout.write("".join(a + "\0" for a in shlex.split(sys.argv[1]) if a != "$RELINKD_ARGS"))' \
	"$exec_start" >"$T/unit.argv"
mapfile -d '' unit_argv <"$T/unit.argv"
expect_eq "relinkd.service: ExecStart runs the installed relinkd" "${unit_argv[0]-}" /usr/local/bin/relinkd
relinkd_accepts "relinkd.service: bin/relinkd accepts ExecStart's flags" "${unit_argv[@]:1}"
expect_eq "relinkd.service: --kubevirt" "$(printf '%s\n' "${unit_argv[@]}" | grep -cx -- --kubevirt)" 1
expect_eq "relinkd.service: --state-dir is the DaemonSet's" \
	"$(printf '%s\n' "${unit_argv[@]}" | sed -n '/^--state-dir$/{n;p}')" "$sd"
expect_eq "relinkd.service: extra args from /etc/default/relinkd" \
	"$(grep -cx 'EnvironmentFile=-/etc/default/relinkd' "$unit") ${exec_start##* }" '1 $RELINKD_ARGS'
expect_eq "relinkd.service: no libvirt dependency" "$(grep -ciE '^(After|Wants|Requires|BindsTo|Requisite)=.*libvirt' "$unit")" 0
expect_eq "relinkd.service: capability bounding set" \
	"$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr ' ' '\n' | sort | tr '\n' ' ')" \
	"CAP_DAC_OVERRIDE CAP_NET_ADMIN CAP_NET_RAW CAP_SYS_ADMIN CAP_SYS_PTRACE "
sed "s|^ExecStart=/usr/local/bin/relinkd|ExecStart=$RELINKD|" "$unit" >"$T/relinkd.service"
expect_eq "relinkd.service: systemd-analyze verify says nothing" \
	"$(systemd-analyze verify "$T/relinkd.service" 2>&1)" ""

# The unit's capabilities are enough, and each of CAP_DAC_OVERRIDE and CAP_SYS_PTRACE is needed: relinkd with
# ExecStart's flags (paths moved into $T) under exactly that bounding set, the kubelet pods dir read-only as in
# the DaemonSet, finds a non-root session launcher behind a > 108-byte kubelet path and its netns.
for c in libvirtd setpriv unshare; do command -v $c >/dev/null || _fatal "$c missing"; done
id libvirt-qemu >/dev/null 2>&1 || _fatal "user libvirt-qemu missing (libvirt-daemon creates it)"
chmod 755 "$T"
L=$T/launcher K=$T/kubelet RT=volumes/kubernetes.io~empty-dir/libvirt-runtime
uid=$(cat /proc/sys/kernel/random/uuid)
mkdir -p "$L/run" "$L/home" "$L/cfg" "$L/cache" "$K/pods/$uid/$RT" "$STATE"
chown -R libvirt-qemu: "$L"
lns=""
netns_new lns l
ip netns exec "$lns" setpriv --reuid=libvirt-qemu --regid=libvirt-qemu --clear-groups \
	env -i HOME="$L/home" XDG_RUNTIME_DIR="$L/run" XDG_CONFIG_HOME="$L/cfg" XDG_CACHE_HOME="$L/cache" \
	PATH=/usr/sbin:/usr/bin libvirtd >"$L/libvirtd.log" 2>&1 &
lpid=$!
bg_started $lpid
for _ in $(seq 600); do [ -S "$L/run/libvirt/libvirt-sock" ] && break; sleep 0.1; done
[ -S "$L/run/libvirt/libvirt-sock" ] || _fatal "session libvirtd: $(tail -3 "$L/libvirtd.log")"
chmod 0777 "$L/run/libvirt"   # an emptyDir is 0777; the daemon's socket in it stays 0700, its user's
args=()
for ((i = 1; i < ${#unit_argv[@]}; i++)); do
	a=${unit_argv[$i]}
	args+=("$a")
	case $a in
	--kubelet-root) args+=("$K"); i=$((i + 1)) ;;
	--state-dir) args+=("$STATE"); i=$((i + 1)) ;;
	--metrics-file) args+=("$T/m.prom"); i=$((i + 1)) ;;
	esac
done
unit_caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr 'A-Z ' 'a-z\n' | sed 's/^cap_/+/' | paste -sd,)
# run_capped CAPS PATTERN: relinkd in a private mount namespace (launcher dir bind-mounted at its kubelet path,
# the pods dir and the launcher's dir read-only) under bounding set CAPS, until it logs a line matching PATTERN
# (15 s at most); prints that line, or the log's last lines.
run_capped() {
	local log=$T/capped.log pid line=""
	: >"$log"
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare --mount --propagation private sh -ec 'mount --bind "$3" "$3"; mount -o remount,bind,ro "$3"
		mount --bind "$1" "$2"; mount -o remount,bind,ro "$2"; shift 3; exec "$@"' \
		sh "$L/run/libvirt" "$K/pods/$uid/$RT" "$K/pods" \
		setpriv --bounding-set "-all,$1" --no-new-privs "$RELINKD" "${args[@]}" >"$log" 2>&1 &
	pid=$!
	for _ in $(seq 150); do
		line=$(grep -m1 -E "$2" "$log") && break
		sleep 0.1
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	echo "${line:-no line matching '$2' after 15 s: $(tail -3 "$log" | tr '\n' ' ')}"
}
line=$(run_capped "$unit_caps" "conn=$uid connected ")
expect_eq "relinkd.service caps ($unit_caps): connected to the session launcher, its pid and netns" \
	"$(sed -E 's/.* connected pod=([^ ]+) peer_pid=([0-9]+) netns=([0-9:]+) .*/\1 \2 \3/' <<<"$line")" \
	"$uid $lpid $(stat -L -c %d:%i "/proc/$lpid/ns/net")"
# docs/kubevirt.md lists every metric relinkd writes, with its type (the file the capped run just wrote).
bt='`'
while read -r _ _ name type; do
	check "docs/kubevirt.md lists metric $name ($type)" \
		grep -qE "^\| $bt$name(\{[^$bt]*\})?$bt \| $type \|" "$ROOT/docs/kubevirt.md"
done < <(grep '^# TYPE ' "$T/m.prom" 2>/dev/null || echo "# TYPE no-metrics-file-written -")
# The alerts and the dashboard query only metrics relinkd exports (histograms by their _bucket/_sum/
# _count series), besides kube-state-metrics' kube_pod_info; the four alerts are there.
python3 - "$ROOT/examples/kubernetes/relink-monitoring.yaml" "$ROOT/examples/grafana-relinkd.json" >"$T/mon" <<'PY'
import json, re, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
rules = [r for d in docs if d["kind"] == "PrometheusRule" for g in d["spec"]["groups"] for r in g["rules"]]
print("alerts " + " ".join(r["alert"] for r in rules))
exprs = [r["expr"] for r in rules]
dash = json.load(open(sys.argv[2]))
exprs += [t["expr"] for p in dash["panels"] for t in p["targets"]]
exprs += [v["query"] for v in dash["templating"]["list"] if v["type"] == "query"]
print("panels %d" % len(dash["panels"]))
for m in sorted({n for e in exprs for n in re.findall(r"\b[a-z_]+_[a-z_]+(?=[{\[(),\s]|$)", e)
                 if n.startswith(("relinkd_", "kube_"))}):
    print("metric " + re.sub(r"_(bucket|sum|count)$", "", m) if m.startswith("relinkd_") and
          re.search(r"_seconds_(bucket|sum|count)$", m) else "metric " + m)
PY
expect_eq "relink-monitoring.yaml: the four alerts" "$(sed -n 's/^alerts //p' "$T/mon")" \
	"RelinkActionFailed RelinkLauncherUnreachable RelinkNoLauncherFollowed RelinkNicsMissing"
check "grafana-relinkd.json: 8 panels" grep -qx "panels 8" "$T/mon"
n=0
while read -r _ name; do
	n=$((n + 1))
	case $name in
	kube_pod_info) ok "alerts/dashboard: $name is kube-state-metrics'" ;;
	*) check "alerts/dashboard: $name is a metric relinkd exports" grep -q "^# TYPE $name " "$T/m.prom" ;;
	esac
done < <(sed -n 's/^metric /& /p' "$T/mon" | sort -u)
check "alerts/dashboard name at least 9 metrics ($n)" test "$n" -ge 9
expect_eq "daemonset: --metrics-listen on the port the PodMonitor scrapes" \
	"$(printf '%s\n' "${ds_argv[@]}" | sed -n 's/^--metrics-listen=//p')" "0.0.0.0:9595"
for drop in dac_override sys_ptrace; do
	line=$(run_capped "$(sed "s/+$drop,\?//; s/,$//" <<<"$unit_caps")" "conn=$uid (connected |.*Permission denied)")
	check "control: without $drop the launcher is not reached ($line)" \
		bash -c '[[ $1 != *" connected "* && $1 == *"Permission denied"* ]]' _ "$line"
done

# The rest of the unit's capabilities, on relinkd's own DHCP probe (setns into the pod netns, a veth there,
# packet sockets): the served MAC is answered under exactly the bounding set, and not without each of
# CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_NET_RAW. Pod: k6t-eth0 + tap0 + a dnsmasq answering one MAC.
DRIVER=$ROOT/build/tests/tools/dhcpprobe-run
[ -x "$DRIVER" ] || make -s -C "$ROOT" build/tests/tools/dhcpprobe-run >/dev/null 2>&1 || _fatal "cannot build $DRIVER"
command -v dnsmasq >/dev/null || _fatal "dnsmasq missing (scripts/setup.sh)"
ppod=""
netns_new ppod q
ip netns exec "$ppod" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$ppod" link add k6t-eth0 type bridge && ip -n "$ppod" tuntap add dev tap0 mode tap &&
	ip -n "$ppod" link set tap0 master k6t-eth0 && ip -n "$ppod" addr add 169.254.75.10/32 dev k6t-eth0 &&
	ip -n "$ppod" link set k6t-eth0 up && ip -n "$ppod" link set tap0 up || _fatal "probe pod topology"
vm_mac=02:5a:7e:00:00:07
ip netns exec "$ppod" dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --interface=k6t-eth0 \
	--bind-interfaces --except-interface=lo --dhcp-authoritative --dhcp-range=10.244.2.0,static,255.255.255.0,infinite \
	--shared-network=k6t-eth0,10.244.2.0 --dhcp-host=$vm_mac,10.244.2.7,infinite --dhcp-ignore='tag:!known' \
	--dhcp-leasefile="$T/leases" --pid-file= >"$T/dnsmasq.log" 2>&1 &
bg_started $!
probe_capped() { # CAPS → the driver's first line (or its error)
	setpriv --bounding-set "-all,$1" --no-new-privs "$DRIVER" -t 1000 "/run/netns/$ppod" tap0 "$vm_mac" 2>&1 | head -n 1
}
for _ in $(seq 50); do # until dnsmasq listens
	line=$(probe_capped "$unit_caps")
	[[ $line == *answered=yes* ]] && break
	sleep 0.1
done
expect_eq "relinkd.service caps: relinkd's DHCP probe in the pod netns gets the served MAC's offer" \
	"$(cut -d' ' -f1-3 <<<"$line")" "mac=$vm_mac answered=yes offer=10.244.2.7"
for drop in sys_admin net_admin net_raw; do
	line=$(probe_capped "$(sed "s/+$drop,\?//; s/,$//" <<<"$unit_caps")")
	check "control: without $drop the probe cannot run ($line)" \
		bash -c '[[ $1 != *"answered=yes"* && $1 == *"ermi"* ]]' _ "$line"
done
# With /proc/sys read-only (an unprivileged container, a unit with ProtectKernelTunables=) the probe cannot
# write its veth's disable_ipv6 and silences IPv6 through netlink instead (address generation mode none):
# it still gets the offer.
# shellcheck disable=SC2016 # expanded by the inner shell
line=$(unshare --mount --propagation private sh -c 'mount --bind /proc/sys /proc/sys &&
	mount -o remount,bind,ro /proc/sys && exec "$@"' sh "$DRIVER" -t 1000 "/run/netns/$ppod" tap0 "$vm_mac" 2>&1 | head -n 1)
expect_eq "with /proc/sys read-only the probe still gets the served MAC's offer" \
	"$(cut -d' ' -f1-3 <<<"$line")" "mac=$vm_mac answered=yes offer=10.244.2.7"
finish
