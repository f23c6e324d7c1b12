#!/bin/bash
# Real Debian 12 guests, every stack × both paths: relinkd brings each back on the target pod's address.
#
#   node 1 (pods 10.244.1.0/24)                        node 2 (pods 10.244.2.0/24)
#   ┌────────────────────────────────────┐   routed   ┌────────────────────────────────────┐
#   │ relinkd                            │════════════│ relinkd                            │
#   │ 6 launcher pods, one Debian VM     │            │ the same VMs in new launcher pods  │
#   │ each (qcow2 overlay, 384 MiB) ─ ─ ─│─ migrate ─▶│ (same overlay file: --unsafe)      │
#   └────────────────────────────────────┘            └────────────────────────────────────┘
#   *-new: the VM's MAC is the pod's → a new MAC on the target → relinkd re-attaches the NIC.
#   *-pin: the VMI pins its MAC → relinkd flaps the link; systemd-networkd renews on it (its INIT-REBOOT
#          REQUEST is ACKed with the pod's address, as KubeVirt's server does; with RL_DHCP=dnsmasq it goes
#          unanswered and may be escalated: see lib.sh), NetworkManager (carrier-wait 6 s) and ifupdown (no
#          carrier watch) do not, and relinkd knows their DHCP clients from their boot packets → the same-MAC
#          re-plug at once, no futile flap.
#   Each case: relinkd's decision and verdict, the guest's lease of the target pod's address (console),
#   a ping to that address from node 2. A guest kernel oops after the migration is a platform fault
#   (SKIP, rerun once on a fresh VM).
. "$(dirname "$0")/lib.sh"
rg_init networkd nm ifupdown
rg_case nd-new networkd new
rg_case nd-pin networkd pin
rg_case nm-new nm new
rg_case nm-pin nm pin
rg_case if-new ifupdown new
rg_case if-pin ifupdown pin
rg_run_cases nd-new nd-pin nm-new nm-pin if-new if-pin
