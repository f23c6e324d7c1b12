/* SPDX-License-Identifier: MIT */
/* Which of (up to) two MACs does the DHCP server on a pod's bridge answer? An asynchronous probe on
 * libvirt's default event loop: a throw-away veth pair in the pod netns, one end enslaved to the bridge
 * that is the master of the guest NIC's tap, and from the free end one DHCPDISCOVER per candidate
 * (chaddr = candidate, broadcast flag, Ethernet source = the veth's own MAC, Ethernet destination = the
 * bridge, so neither the bridge nor the guest ever sees the candidate MAC as a source on another port),
 * sent twice; OFFERs from the bridge itself with the right xid and chaddr count. The result comes when
 * every candidate is answered, or a grace period after the first answer (as long as that answer took,
 * at least 25 ms: a server answering several MACs answers them together, KubeVirt's answers one), or at
 * the deadline when nothing answers. The veth is always
 * deleted: on every error path before dhcpprobe_start returns, after a result in the background. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/mac.h"
#include "trigger/dhcpwatch.h"

#define PROBE_MAX_CANDIDATES 2
/* Deadline per probe. dnsmasq answers here in about 1 ms (see docs); the deadline leaves room for a
 * loaded node. The second DISCOVER goes out at a third of it. */
#define PROBE_TIMEOUT_MS 400

struct probe_cand_result {
        char mac[18];                /* lower case */
        bool answered;
        char offer[16];              /* yiaddr of the OFFER, "" when none */
        unsigned ms;                 /* start → first matching OFFER */
};

struct probe_result {
        int error;                   /* 0: probed; < 0: the probe was impossible (dhcpprobe_strerror) */
        size_t n;
        struct probe_cand_result cand[PROBE_MAX_CANDIDATES];
        unsigned elapsed_ms;         /* start → result */
        unsigned ready_ms;           /* start → the probe port forwards and the first DISCOVERs go out */
        unsigned foreign;            /* matching OFFERs that came from elsewhere than the bridge: ignored */
};

typedef void (*probe_done_fn)(const struct probe_result *res, void *opaque);

struct dhcpprobe;

/* Start probing the bridge that is tap's master in netns_fd for macs[0..n) (1 ≤ n ≤ 2). The setup
 * (netlink, veth, sockets) runs synchronously inside the netns and returns; replies are collected by
 * the event loop and done(res, opaque) is called from it exactly once, unless dhcpprobe_cancel() came
 * first. 0, or -errno when no probe could be started (nothing is left behind):
 *   -ENODEV       no link named tap in the netns
 *   -ENOLINK      tap has no master (not a bridge binding)
 *   -EMEDIUMTYPE  tap's master is not a bridge
 *   -EINVAL       bad arguments (MAC syntax, n)
 *   others        netlink / socket failures */
int dhcpprobe_start(int netns_fd, const char *tap, const char *const *macs, size_t n, unsigned timeout_ms,
                    probe_done_fn done, void *opaque, struct dhcpprobe **ret);
/* Stop a running probe without calling done; the veth is deleted before it returns. NULL is a no-op. */
void dhcpprobe_cancel(struct dhcpprobe *p);
/* Finished probes delete their veth on a short-lived thread (a link delete waits for the kernel's RCU
 * grace periods: tens of ms the event loop must not wait). Wait up to timeout_ms for those deletes
 * (shutdown); returns how many are still running. */
unsigned dhcpprobe_drain(unsigned timeout_ms);
/* Text for an error from dhcpprobe_start (the codes above get probe-specific text). */
const char *dhcpprobe_strerror(int r);

/* Pure parts (unit-tested). */
/* A DHCPDISCOVER as a whole Ethernet frame: eth_dst ← eth_src, 0.0.0.0:68 → 255.255.255.255:67,
 * chaddr, xid, broadcast flag, options 53 and 55 only (no client identifier: the server keys on chaddr).
 * Returns the frame length, or -ENOBUFS when size is too small. */
int dhcp_discover_build(uint8_t *buf, size_t size, const uint8_t eth_dst[6], const uint8_t eth_src[6],
                        const uint8_t chaddr[6], uint32_t xid);
/* A parsed frame is an OFFER for (xid, chaddr); from_server (may be NULL): it must come from that
 * Ethernet address. */
bool dhcp_offer_matches(const struct dhcp_seen *s, uint32_t xid, const char *chaddr, const uint8_t *from_server);
