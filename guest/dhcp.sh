#!/bin/sh
# udhcpc script of the relink test guest (installed as /etc/relink/dhcp.sh).
# Applies address/prefix, MTU (option 26) and either the classless static routes (option 121; RFC 3442: the
# router option is then ignored) or a default route via the router; logs the contract's `lease` line.
# lease-drop is logged by /init, which knows why the lease went away.

case "$1" in
deconfig)
        ip route flush dev "$interface" 2>/dev/null
        ip addr flush dev "$interface" 2>/dev/null
        ;;
bound|renew)
        # One metric per NIC (eth0 → 100, eth1 → 101 …): a second NIC's default route does not displace eth0's.
        metric=$((100 + ${interface#eth}))
        [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
        if [ "$1" = bound ]; then
                ip addr flush dev "$interface"
        fi
        ip addr replace "$ip/${mask:-32}" dev "$interface"
        gw=none
        if [ -n "$staticroutes" ]; then
                set -- $staticroutes
                while [ $# -ge 2 ]; do
                        if [ "$2" = 0.0.0.0 ]; then
                                ip route replace "$1" dev "$interface" metric "$metric"
                        else
                                ip route replace "$1" via "$2" dev "$interface" onlink metric "$metric"
                        fi
                        [ "$1" = 0.0.0.0/0 ] && gw=$2
                        shift 2
                done
        elif [ -n "$router" ]; then
                set -- $router
                gw=$1
                ip route replace default via "$gw" dev "$interface" onlink metric "$metric"
        fi
        read -r m </sys/class/net/"$interface"/address
        read -r u </sys/class/net/"$interface"/mtu
        rlog lease dev="$interface" mac="$m" ip="$ip/${mask:-32}" router="$gw" mtu="$u"
        ;;
esac
exit 0
