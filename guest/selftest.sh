#!/bin/bash
# guest/selftest.sh — boot the relink test guest under plain QEMU (TCG) and check its console contract.
#
#   netns rlg-<pid>:  tap0 10.99.0.1/24 ──┬── dnsmasq (DHCP only; tap0: static lease, router, MTU 1400,
#                     tap1 10.99.1.1/24 ──┘             option 121; tap1: static lease, router only)
#                       │      │
#                     qemu-system-x86_64 -accel tcg -m 128
#                       ├─ virtio-net-pci id=nic0 netdev=n0 → eth0 10.99.0.10/24 (MAC …:56),
#                       │                                     10.99.0.11/24 after a re-plug with MAC …:57
#                       └─ (networkd run) hot-plugged id=nic1 netdev=n1 → eth1 10.99.1.10/24 (MAC …:58)
#
# Flaps with the QEMU monitor (`set_link n0 off|on`), re-plugs with `device_del` / `device_add`.
# Needs root, qemu-system-x86, dnsmasq-base. Prints ok/not ok lines and "N passed, N failed".
set -u

GUEST_DIR=$(cd "$(dirname "$0")" && pwd)
NS=rlg-$$
DIR=$(mktemp -d "/tmp/rlg-$$.XXXXXX")
MAC1=52:54:00:12:34:56 IP1=10.99.0.10
MAC2=52:54:00:12:34:57 IP2=10.99.0.11
MAC3=52:54:00:12:34:58 IP3=10.99.1.10 GW3=10.99.1.1
GW=10.99.0.1
PASS=0 FAIL=0 QEMU_PID= MONCAT_PID= DNSMASQ_PID=

cleanup() {
        halt
        [ -n "$DNSMASQ_PID" ] && kill "$DNSMASQ_PID" 2>/dev/null && wait "$DNSMASQ_PID" 2>/dev/null
        ip netns del "$NS" 2>/dev/null
        [ -n "${KEEP:-}" ] && echo "# logs kept in $DIR" || rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { echo "ok - $*"; PASS=$((PASS + 1)); }
not_ok() { echo "not ok - $*"; FAIL=$((FAIL + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

mapfile -t OUT < <("$GUEST_DIR/build.sh") || true
KERNEL=${OUT[0]:-} INITRD=${OUT[1]:-}
[ -s "$KERNEL" ] && [ -s "$INITRD" ] || { echo "not ok - build"; echo "0 passed, 1 failed"; exit 1; }

LOG= MARK=0
# Contract lines after MARK (the log is appended to across a run).
lines() { tail -n +$((MARK + 1)) "$LOG" 2>/dev/null | tr -d '\r' | grep -a '^RELINK '; }
mark() { MARK=$(wc -l <"$LOG"); }
# wait_for REGEX TIMEOUT_S: a contract line after MARK matching "RELINK <ms> REGEX"
wait_for() {
        local deadline=$(( $(now_ms) + $2 * 1000 ))
        while [ "$(now_ms)" -lt "$deadline" ]; do
                lines | grep -E "^RELINK [0-9]+ $1\$" >/dev/null && return 0
                sleep 0.1
        done
        return 1
}
absent() { ! lines | grep -E "^RELINK [0-9]+ $1\$" >/dev/null; }
mon() { timeout 5 sh -c 'echo "$1" >"$2"' - "$*" "$DIR/mon.in"; }

# boot NAME CMDLINE_EXTRA [NIC]: start QEMU (in the netns when NIC=1)
boot() {
        local name=$1 extra=$2 nic=${3:-1}
        LOG=$DIR/$name.serial MARK=0
        : >"$LOG"
        rm -f "$DIR/mon.in" "$DIR/mon.out"; mkfifo "$DIR/mon.in" "$DIR/mon.out"
        local net=(-nic none)
        [ "$nic" = 1 ] && net=(-netdev tap,id=n0,ifname=tap0,script=no,downscript=no
                               -device virtio-net-pci,netdev=n0,id=nic0,mac=$MAC1
                               -netdev tap,id=n1,ifname=tap1,script=no,downscript=no)
        BOOT_T0=$(now_ms)
        ip netns exec "$NS" qemu-system-x86_64 -accel tcg -m 128 -display none -no-reboot -nodefaults \
                -serial "file:$LOG" -monitor "pipe:$DIR/mon" "${net[@]}" \
                -kernel "$KERNEL" -initrd "$INITRD" \
                -append "console=ttyS0 net.ifnames=0 $extra" >"$DIR/$name.qemu" 2>&1 &
        QEMU_PID=$!
        ( exec cat "$DIR/mon.out" >"$DIR/$name.monitor" ) &
        MONCAT_PID=$!
}
halt() {
        [ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null && wait "$QEMU_PID" 2>/dev/null
        [ -n "$MONCAT_PID" ] && kill "$MONCAT_PID" 2>/dev/null && wait "$MONCAT_PID" 2>/dev/null
        QEMU_PID= MONCAT_PID=
}
# flap SECONDS: link down for SECONDS, then up
flap() { mark; mon "set_link n0 off"; sleep "$1"; mon "set_link n0 on"; }

ip netns add "$NS" || { echo "not ok - netns"; exit 1; }
ip -n "$NS" link set lo up
ip -n "$NS" tuntap add tap0 mode tap
ip -n "$NS" addr add "$GW/24" dev tap0
ip -n "$NS" link set tap0 up
ip -n "$NS" tuntap add tap1 mode tap
ip -n "$NS" addr add "$GW3/24" dev tap1
ip -n "$NS" link set tap1 up
ip netns exec "$NS" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --port=0 \
        --interface=tap0 --interface=tap1 --bind-interfaces --dhcp-authoritative \
        --dhcp-leasefile="$DIR/leases" \
        --dhcp-range=set:a,10.99.0.0,static,255.255.255.0,infinite \
        --dhcp-range=set:b,10.99.1.0,static,255.255.255.0,infinite \
        --dhcp-host="$MAC1,$IP1,infinite" --dhcp-host="$MAC2,$IP2,infinite" --dhcp-host="$MAC3,$IP3,infinite" \
        --dhcp-option=tag:a,option:router,$GW --dhcp-option=tag:a,option:mtu,1400 \
        --dhcp-option=tag:a,option:classless-static-route,$GW/32,0.0.0.0,0.0.0.0/0,$GW \
        --dhcp-option=tag:b,option:router,$GW3 \
        --log-dhcp --log-facility="$DIR/dnsmasq.log" &
DNSMASQ_PID=$!

LEASE1="lease dev=eth0 mac=$MAC1 ip=$IP1/24 router=$GW mtu=1400"
LEASE2="lease dev=eth0 mac=$MAC2 ip=$IP2/24 router=$GW mtu=1400"

# ---- boot without a NIC -------------------------------------------------------------------------------------
boot nonic "relink.stack=networkd" 0
check "no NIC: boot line" wait_for "boot stack=networkd" 30
check "no NIC: ready" wait_for "ready" 15
echo "# no NIC: ready at uptime $(lines | awk '$3 == "ready" { print $2 }') ms, $(( $(now_ms) - BOOT_T0 )) ms wall"
halt

# ---- common part per stack: boot, lease, ping, re-plug with a new MAC ----------------------------------------
boot_and_lease() {       # stack extra
        boot "$1" "relink.stack=$1 relink.ping=$GW $2"
        check "$1: boot line" wait_for "boot stack=$1" 30
        check "$1: nic-add eth0" wait_for "nic-add dev=eth0 mac=$MAC1" 15
        check "$1: dhcp-start reason=boot" wait_for "dhcp-start dev=eth0 reason=boot" 5
        check "$1: ready" wait_for "ready" 5
        if wait_for "$LEASE1" 20; then
                ok "$1: lease (prefix, router via option 121, MTU 1400)"
                echo "# $1: lease at uptime $(lines | awk '$3 == "lease" { print $2; exit }') ms," \
                     "$(( $(now_ms) - BOOT_T0 )) ms wall after QEMU start (±100 ms)"
        else
                not_ok "$1: lease"; lines | sed 's/^/#   /'
        fi
        check "$1: first ping reply logs outage_ms=0" wait_for "ping-ok target=$GW outage_ms=0" 10
}
replug() {               # stack
        mark; mon "device_del nic0"
        check "$1: unplug → nic-del" wait_for "nic-del dev=eth0" 15
        check "$1: unplug → lease-drop reason=nic-del" wait_for "lease-drop dev=eth0 reason=nic-del" 5
        sleep 0.5
        mark; mon "device_add virtio-net-pci,netdev=n0,id=nic0,mac=$MAC2"
        check "$1: re-plug → nic-add eth0 (new MAC)" wait_for "nic-add dev=eth0 mac=$MAC2" 15
        check "$1: re-plug → dhcp-start reason=hotplug" wait_for "dhcp-start dev=eth0 reason=hotplug" 5
        check "$1: re-plug → lease" wait_for "$LEASE2" 15
        check "$1: re-plug → ping back" wait_for "ping-ok target=$GW outage_ms=[0-9]+" 10
}

# ---- networkd: any flap renews -------------------------------------------------------------------------------
boot_and_lease networkd ""
flap 1
check "networkd: carrier down" wait_for "carrier dev=eth0 state=down" 5
check "networkd: lease-drop reason=carrier" wait_for "lease-drop dev=eth0 reason=carrier" 5
check "networkd: ping-lost" wait_for "ping-lost target=$GW" 5
check "networkd: carrier up" wait_for "carrier dev=eth0 state=up" 5
check "networkd: dhcp-start reason=carrier" wait_for "dhcp-start dev=eth0 reason=carrier" 5
check "networkd: renewed lease" wait_for "$LEASE1" 10
check "networkd: ping-ok with outage_ms" wait_for "ping-ok target=$GW outage_ms=[1-9][0-9]*" 10
replug networkd
mark; mon "device_add virtio-net-pci,netdev=n1,id=nic1,mac=$MAC3"
check "networkd: second NIC → nic-add eth1" wait_for "nic-add dev=eth1 mac=$MAC3" 15
check "networkd: second NIC → lease via router option" \
        wait_for "lease dev=eth1 mac=$MAC3 ip=$IP3/24 router=$GW3 mtu=1500" 15
sleep 1
check "networkd: second NIC's default route leaves eth0's ping alone" absent "ping-lost .*"
halt

# ---- nm (carrier_wait_ms=2000): a 1 s flap changes nothing, a 3 s flap renews ---------------------------------
boot_and_lease nm "relink.carrier_wait_ms=2000"
flap 1
check "nm: carrier down" wait_for "carrier dev=eth0 state=down" 5
check "nm: carrier up" wait_for "carrier dev=eth0 state=up" 5
sleep 2.5
check "nm: 1 s flap → no lease-drop" absent "lease-drop .*"
check "nm: 1 s flap → no dhcp-start" absent "dhcp-start .*"
flap 3
check "nm: 3 s flap → lease-drop reason=nm-timeout" wait_for "lease-drop dev=eth0 reason=nm-timeout" 5
check "nm: 3 s flap → dhcp-start reason=carrier" wait_for "dhcp-start dev=eth0 reason=carrier" 5
check "nm: 3 s flap → renewed lease" wait_for "$LEASE1" 10
check "nm: lease-drop came ≥ 2000 ms after carrier down" eval '[ $(lines | awk "/ lease-drop /{print \$2}") -ge $(( $(lines | awk "/ carrier dev=eth0 state=down/{print \$2}") + 2000 )) ]'
replug nm
halt

# ---- nm with the default carrier-wait-timeout (6000 ms): 3 s flap ignored, 7 s flap renews ---------------------
boot nm6 "relink.stack=nm"
check "nm default: lease" wait_for "$LEASE1" 40
flap 3
check "nm default: carrier up" wait_for "carrier dev=eth0 state=up" 5
sleep 1
check "nm default: 3 s flap → no lease-drop" absent "lease-drop .*"
flap 7
check "nm default: 7 s flap → lease-drop reason=nm-timeout" wait_for "lease-drop dev=eth0 reason=nm-timeout" 5
check "nm default: 7 s flap → renewed lease" wait_for "$LEASE1" 10
halt

# ---- ifupdown: carrier ignored ---------------------------------------------------------------------------------
boot_and_lease ifupdown ""
flap 3
check "ifupdown: carrier down" wait_for "carrier dev=eth0 state=down" 5
check "ifupdown: carrier up" wait_for "carrier dev=eth0 state=up" 5
check "ifupdown: ping back without DHCP" wait_for "ping-ok target=$GW outage_ms=[1-9][0-9]*" 10
check "ifupdown: no lease-drop" absent "lease-drop .*"
check "ifupdown: no dhcp-start" absent "dhcp-start .*"
replug ifupdown
halt

# Every contract line is whole.
check "all console contract lines well-formed" eval '! cat "$DIR"/*.serial | tr -d "\r" | grep -a "RELINK" | grep -avE "^RELINK [0-9]+ [a-z-]+( [a-z_]+=[^ ]*)*\$" >/dev/null'

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
