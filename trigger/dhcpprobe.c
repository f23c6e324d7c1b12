/* SPDX-License-Identifier: MIT */
/* DHCP probe on a pod's bridge: frame building and OFFER matching (pure), and the event-loop probe.
 *
 *   pod netns:   guest ─ tap ─┐
 *                             k6t-<if> (bridge, DHCP server bound here) ─ <if>-nic ─ node
 *                 rlp<id>b ───┘      (veth, bridge end: MAC fe:ff:ff:ff:xx:xx, the bridge's MTU)
 *                 rlp<id>p            free end: packet socket, sends the DISCOVERs, receives the OFFERs
 *
 * Why the free end's own MAC as Ethernet source: a frame with the candidate MAC as source would move
 * the bridge's FDB entry for the guest's MAC to the probe port and cut the guest off. Why the bridge's
 * MAC as Ethernet destination: the bridge delivers the DISCOVER to its own stack only (its local FDB
 * entry), so it never floods to the guest's tap or out of the pod. The bridge end's MAC is near the top
 * of the address space and its MTU is the bridge's, so enslaving it changes neither the bridge's MAC
 * (the lowest port MAC, unless set) nor its MTU (the lowest port MTU, unless set). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/inet6.h>
#include <netlink/route/link/veth.h>
#include <linux/if_bridge.h>

#include "common/thread.h"
#include "common/netns.h"
#include "common/nlroute.h"
#include "common/util.h"
#include "trigger/dhcpprobe.h"
#include "trigger/dhcpwatch.h"
#include "trigger/loop.h"

#define BOOTP_LEN      300            /* BOOTP messages are at least 300 bytes (RFC 1542) */
#define FRAME_LEN      (14 + 20 + 8 + BOOTP_LEN)
#define READY_POLL_MS  2              /* until the new port forwards (the kernel's link watch runs) */
#define GRACE_MIN_MS   25             /* after a first answer, wait this long (at least) for the others */
#define OPER_UP        6              /* IF_OPER_UP, RFC 2863 (linux/if.h clashes with net/if.h) */

static void put16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) (v >> 8);
        p[1] = (uint8_t) v;
}

static void put32(uint8_t *p, uint32_t v) {
        put16(p, (uint16_t) (v >> 16));
        put16(p + 2, (uint16_t) v);
}

/* RFC 1071 sum of 16-bit words, folded, not yet complemented. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len) {
        for (; len > 1; p += 2, len -= 2)
                sum += (uint32_t) (p[0] << 8 | p[1]);
        if (len)
                sum += (uint32_t) (p[0] << 8);
        return sum;
}

static uint16_t csum_fold(uint32_t sum) {
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return (uint16_t) ~sum;
}


int dhcp_discover_build(uint8_t *buf, size_t size, const uint8_t eth_dst[6], const uint8_t eth_src[6],
                        const uint8_t chaddr[6], uint32_t xid) {
        static const uint8_t params[] = { 1, 3, 6, 15, 26, 51, 54, 121 };
        uint8_t *ip = buf + 14, *udp = ip + 20, *bootp = udp + 8, *opt;
        uint32_t sum;

        if (size < FRAME_LEN)
                return -ENOBUFS;
        memset(buf, 0, FRAME_LEN);
        memcpy(buf, eth_dst, 6);
        memcpy(buf + 6, eth_src, 6);
        put16(buf + 12, 0x0800);

        /* BOOTP: op request, htype Ethernet, hlen 6, xid, flags = broadcast, chaddr */
        bootp[0] = 1;
        bootp[1] = 1;
        bootp[2] = 6;
        put32(bootp + 4, xid);
        put16(bootp + 10, 0x8000);
        memcpy(bootp + 28, chaddr, 6);
        put32(bootp + 236, 0x63825363);
        opt = bootp + 240;
        *opt++ = 53;
        *opt++ = 1;
        *opt++ = 1;                                     /* DHCPDISCOVER */
        *opt++ = 55;
        *opt++ = (uint8_t) sizeof(params);
        memcpy(opt, params, sizeof(params));
        opt += sizeof(params);
        *opt = 255;                                     /* the rest stays 0 (pad) */

        /* UDP 68 → 67, checksum over the pseudo header */
        put16(udp, 68);
        put16(udp + 2, 67);
        put16(udp + 4, 8 + BOOTP_LEN);

        /* IPv4 0.0.0.0 → 255.255.255.255, TTL 64, DF clear */
        ip[0] = 0x45;
        ip[1] = 0x10;                                   /* low delay, as DHCP clients send */
        put16(ip + 2, 20 + 8 + BOOTP_LEN);
        ip[8] = 64;
        ip[9] = IPPROTO_UDP;
        put32(ip + 16, 0xffffffffu);
        put16(ip + 10, csum_fold(csum_add(0, ip, 20)));

        sum = csum_add(0, ip + 12, 8);                  /* source and destination address */
        sum += IPPROTO_UDP + 8 + BOOTP_LEN;
        sum = csum_add(sum, udp, 8 + BOOTP_LEN);
        put16(udp + 6, csum_fold(sum) ? csum_fold(sum) : 0xffff);
        return FRAME_LEN;
}

bool dhcp_offer_matches(const struct dhcp_seen *s, uint32_t xid, const char *chaddr, const uint8_t *from_server) {
        if (s->op != 2 || s->msgtype != DHCP_OFFER || s->xid != xid)
                return false;
        if (strcasecmp(s->chaddr, chaddr) != 0)
                return false;
        return !from_server || memcmp(s->eth_src, from_server, 6) == 0;
}

/* ---------------------------------------------------------------- the probe */

struct cand {
        uint8_t mac[6];
        uint32_t xid;
        struct probe_cand_result res;
};

struct dhcpprobe {
        struct nl_sock *nl;          /* created in the pod netns: stays bound to it */
        char port[IFNAMSIZ], peer[IFNAMSIZ];
        int port_ifindex;            /* the bridge end; deleting it deletes the pair */
        uint8_t bridge_mac[6], src[6];
        int fd, watch, t_ready, t_resend, t_grace, t_deadline;
        unsigned timeout_ms;
        struct cand cand[PROBE_MAX_CANDIDATES];
        size_t n;
        unsigned foreign, ready_ms;
        int64_t t0_us;
        probe_done_fn done;
        void *opaque;
};

const char *dhcpprobe_strerror(int r) {
        switch (r) {
        case -ENODEV:
                return "no such tap in the pod netns";
        case -ENOLINK:
                return "the tap has no master (not a bridge binding)";
        case -EMEDIUMTYPE:
                return "the tap's master is not a bridge";
        default:
                return strerror(-r);
        }
}

/* Keep the probe links silent on IPv6 (no router solicitation, DAD or MLD): disable_ipv6 in the pod
 * netns (the thread is inside it); where /proc/sys is read-only, no link-local address (address
 * generation mode "none"), which has the same effect on a link without addresses. No IPv6 in the
 * kernel: nothing to do. */
static int ipv6_quiet(struct nl_sock *nl, const char *ifname) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL, *ch = NULL;
        _cleanup_close_ int fd = -1;
        char path[96];
        int r;

        snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
                return 0;
        if (fd >= 0 && write(fd, "1", 1) == 1)
                return 0;
        r = rtnl_link_get_kernel(nl, 0, ifname, &l);
        if (r < 0)
                return nl_to_errno(r);
        ch = rtnl_link_alloc();
        if (!ch)
                return -ENOMEM;
        r = rtnl_link_inet6_set_addr_gen_mode(ch, 1 /* IN6_ADDR_GEN_MODE_NONE */);
        if (r < 0)
                return nl_to_errno(r);
        r = rtnl_link_change(nl, l, ch, 0);
        return r < 0 ? nl_to_errno(r) : 0;
}

static int link_up(struct nl_sock *nl, const char *name) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL, *ch = NULL;
        int r;

        r = rtnl_link_get_kernel(nl, 0, name, &l);
        if (r < 0)
                return nl_to_errno(r);
        ch = rtnl_link_alloc();
        if (!ch)
                return -ENOMEM;
        rtnl_link_set_flags(ch, IFF_UP);
        r = rtnl_link_change(nl, l, ch, 0);
        return r < 0 ? nl_to_errno(r) : 0;
}

/* The bridge that is tap's master: its ifindex, MAC and MTU. */
static int bridge_of(struct nl_sock *nl, const char *tap, int *ret_ifindex, uint8_t ret_mac[6], unsigned *ret_mtu) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *t = NULL, *br = NULL;
        struct nl_addr *a;
        const char *kind;
        int master, r;

        r = rtnl_link_get_kernel(nl, 0, tap, &t);
        if (r < 0)
                return r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV ? -ENODEV : nl_to_errno(r);
        master = rtnl_link_get_master(t);
        if (master <= 0)
                return -ENOLINK;
        r = rtnl_link_get_kernel(nl, master, NULL, &br);
        if (r < 0)
                return nl_to_errno(r);
        kind = rtnl_link_get_type(br);
        if (!kind || !streq(kind, "bridge"))
                return -EMEDIUMTYPE;
        a = rtnl_link_get_addr(br);
        if (!a || nl_addr_get_len(a) != 6)
                return -EMEDIUMTYPE;
        memcpy(ret_mac, nl_addr_get_binary_addr(a), 6);
        *ret_ifindex = master;
        *ret_mtu = rtnl_link_get_mtu(br);
        return 0;
}

static int veth_create(struct dhcpprobe *p, int bridge, unsigned mtu) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *veth = NULL, *peer = NULL;
        _cleanup_(nl_addr_putp) struct nl_addr *a_port = NULL, *a_peer = NULL;
        uint8_t port_mac[6] = { 0xfe, 0xff, 0xff, 0xff };
        uint8_t rnd[8];
        int r;

        if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
                return -errno;
        /* Bridge end: fe:ff:ff:ff:xx:xx never becomes the bridge's lowest port MAC. */
        port_mac[4] = rnd[6];
        port_mac[5] = rnd[7];
        /* Free end: locally administered unicast, random; the only source the bridge learns. */
        memcpy(p->src, rnd, 6);
        p->src[0] = (uint8_t) ((p->src[0] & 0xfc) | 0x02);
        for (size_t i = 0; i < p->n; i++)
                if (memcmp(p->src, p->cand[i].mac, 6) == 0)
                        p->src[5] ^= 0x01;

        veth = rtnl_link_veth_alloc();
        if (!veth)
                return -ENOMEM;
        peer = rtnl_link_veth_get_peer(veth);
        a_port = nl_addr_build(AF_LLC, port_mac, 6);
        a_peer = nl_addr_build(AF_LLC, p->src, 6);
        if (!peer || !a_port || !a_peer)
                return -ENOMEM;
        rtnl_link_set_name(veth, p->port);
        rtnl_link_set_addr(veth, a_port);
        rtnl_link_set_master(veth, bridge);
        rtnl_link_set_name(peer, p->peer);
        rtnl_link_set_addr(peer, a_peer);
        if (mtu) {
                rtnl_link_set_mtu(veth, mtu);
                rtnl_link_set_mtu(peer, mtu);
        }
        r = rtnl_link_add(p->nl, veth, NLM_F_CREATE | NLM_F_EXCL);
        return r < 0 ? nl_to_errno(r) : 0;
}

/* Deleting a link waits in the kernel for RCU grace periods (20–40 ms here, more under load) inside the
 * netlink send: too long for the event loop. The socket is bound to the pod netns, so a short-lived
 * thread can delete the pair (and free the socket) with no setns; it needs nothing else of the probe. */
static atomic_uint deletes_pending;

struct veth_del {
        struct nl_sock *nl;
        int ifindex;
};

/* Delete the pair through nl and free nl. */
static void veth_del_now(struct nl_sock *nl, int ifindex) {
        struct rtnl_link *l = rtnl_link_alloc();

        if (l) {
                rtnl_link_set_ifindex(l, ifindex);
                /* ENODEV: gone already (the netns died with the pod); nothing else could be done anyway. */
                (void) rtnl_link_delete(nl, l);
                rtnl_link_put(l);
        }
        nl_socket_free(nl);
}

static void *veth_del_thread(void *opaque) {
        struct veth_del *d = opaque;

        veth_del_now(d->nl, d->ifindex);
        free(d);
        atomic_fetch_sub(&deletes_pending, 1);
        return NULL;
}

/* Hand the netlink socket and the pair to a thread; synchronous when background is false (shutdown)
 * or no thread can be had. Takes p->nl. */
static void veth_delete(struct dhcpprobe *p, bool background) {
        struct nl_sock *nl = TAKE_PTR(p->nl);
        int ifindex = p->port_ifindex;
        struct veth_del *d = NULL;

        p->port_ifindex = 0;
        if (!nl)
                return;
        if (ifindex <= 0) {
                nl_socket_free(nl);
                return;
        }
        if (background)
                d = malloc(sizeof(*d));
        if (d) {
                *d = (struct veth_del) { .nl = nl, .ifindex = ifindex };
                atomic_fetch_add(&deletes_pending, 1);
                if (thread_detached(veth_del_thread, d) == 0)
                        return;
                atomic_fetch_sub(&deletes_pending, 1);
        }
        free(d);
        veth_del_now(nl, ifindex);
}

unsigned dhcpprobe_drain(unsigned timeout_ms) {
        int64_t end = now_ms() + timeout_ms;

        while (atomic_load(&deletes_pending) > 0 && now_ms() < end)
                usleep(1000);
        return atomic_load(&deletes_pending);
}

/* Everything but the callback: handle, timers, socket, veth, netlink. */
static void probe_release(struct dhcpprobe *p, bool background) {
        if (p->watch > 0)
                virEventRemoveHandle(p->watch);
        p->watch = 0;
        timer_cancel(&p->t_ready);
        timer_cancel(&p->t_resend);
        timer_cancel(&p->t_grace);
        timer_cancel(&p->t_deadline);
        if (p->fd >= 0)
                close(p->fd);
        p->fd = -1;
        veth_delete(p, background);
}

static void probe_finish(struct dhcpprobe *p) {
        struct probe_result res = { .n = p->n, .foreign = p->foreign, .ready_ms = p->ready_ms };
        probe_done_fn done = p->done;
        void *opaque = p->opaque;

        res.elapsed_ms = (unsigned) ((now_us() - p->t0_us + 999) / 1000);
        for (size_t i = 0; i < p->n; i++)
                res.cand[i] = p->cand[i].res;
        probe_release(p, true);
        free(p);
        done(&res, opaque);
}

static int send_discovers(struct dhcpprobe *p) {
        uint8_t frame[FRAME_LEN];
        int r = 0;

        for (size_t i = 0; i < p->n; i++) {
                int len;

                if (p->cand[i].res.answered)
                        continue;
                len = dhcp_discover_build(frame, sizeof(frame), p->bridge_mac, p->src, p->cand[i].mac,
                                          p->cand[i].xid);
                if (len < 0)
                        return len;
                if (send(p->fd, frame, (size_t) len, MSG_DONTWAIT) < 0 && r == 0)
                        r = -errno;
        }
        return r;
}

static bool all_answered(const struct dhcpprobe *p) {
        for (size_t i = 0; i < p->n; i++)
                if (!p->cand[i].res.answered)
                        return false;
        return true;
}

static void on_grace(void *opaque) {
        struct dhcpprobe *p = opaque;

        p->t_grace = 0;
        probe_finish(p);
}

static void on_readable(int watch, int fd, int events, void *opaque) {
        struct dhcpprobe *p = opaque;
        unsigned first = 0;
        struct dhcp_seen s;

        while (dhcpwatch_read(fd, &s) == 0)
                for (size_t i = 0; i < p->n; i++) {
                        struct cand *c = &p->cand[i];

                        if (!dhcp_offer_matches(&s, c->xid, c->res.mac, NULL))
                                continue;
                        if (!dhcp_offer_matches(&s, c->xid, c->res.mac, p->bridge_mac)) {
                                p->foreign++;
                                continue;
                        }
                        if (!c->res.answered) {
                                c->res.answered = true;
                                c->res.ms = (unsigned) ((now_us() - p->t0_us + 999) / 1000);
                                snprintf(c->res.offer, sizeof(c->res.offer), "%s", s.yiaddr);
                        }
                }
        if (all_answered(p)) {
                probe_finish(p);
                return;
        }
        /* One answered: a server that answers several MACs answers them all about as fast (the DISCOVERs
         * went out together), a single-client server (KubeVirt's) never answers the others. So wait as
         * long again as the first answer took (at least GRACE_MIN_MS), not the whole deadline. */
        for (size_t i = 0; i < p->n; i++)
                if (p->cand[i].res.answered && (first == 0 || p->cand[i].res.ms < first))
                        first = p->cand[i].res.ms;
        if (first > 0 && p->t_grace == 0) {
                unsigned took = first > p->ready_ms ? first - p->ready_ms : 0;
                int r = timer_after(took > GRACE_MIN_MS ? took : GRACE_MIN_MS, on_grace, p);

                if (r > 0)
                        p->t_grace = r;
        }
}

static void on_resend(void *opaque) {
        struct dhcpprobe *p = opaque;

        p->t_resend = 0;
        (void) send_discovers(p);   /* a lost resend only costs the deadline */
}

/* A new link only passes frames once the kernel's link watch has run for it: until then the free end
 * has no qdisc (frames sent are dropped) and the bridge port is disabled. Both are visible over netlink:
 * the free end's operstate UP, the port's bridge state forwarding. */
static bool probe_ready(struct dhcpprobe *p) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *peer = NULL, *port = NULL;
        struct nl_cache *c = NULL;
        bool ready;

        if (rtnl_link_get_kernel(p->nl, 0, p->peer, &peer) < 0 || rtnl_link_get_operstate(peer) != OPER_UP)
                return false;
        if (rtnl_link_alloc_cache(p->nl, AF_BRIDGE, &c) < 0)
                return false;
        port = rtnl_link_get(c, p->port_ifindex);
        ready = port && rtnl_link_bridge_get_port_state(port) == BR_STATE_FORWARDING;
        nl_cache_put(c);
        return ready;
}

static void on_ready_poll(void *opaque) {
        struct dhcpprobe *p = opaque;
        int r;

        p->t_ready = 0;
        if (!probe_ready(p)) {
                r = timer_after(READY_POLL_MS, on_ready_poll, p);
                if (r > 0)
                        p->t_ready = r;
                return;                 /* no timer: the deadline ends it */
        }
        p->ready_ms = (unsigned) ((now_us() - p->t0_us + 999) / 1000);
        (void) send_discovers(p);       /* a lost DISCOVER is resent once, then the deadline decides */
        r = timer_after(p->timeout_ms / 3, on_resend, p);
        if (r > 0)
                p->t_resend = r;
}

static void on_deadline(void *opaque) {
        struct dhcpprobe *p = opaque;

        p->t_deadline = 0;
        probe_finish(p);
}

/* Inside the pod netns: netlink socket, the bridge, the veth pair (created down, IPv6 off, then up).
 * Once the pair exists, p->port_ifindex is set, so every later failure deletes it. */
static int setup_in_netns(struct dhcpprobe *p, const char *tap) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
        unsigned mtu = 0;
        int bridge = 0, r;

        r = nlroute_socket_in(-1, &p->nl);      /* already inside the pod netns */
        if (r < 0)
                return r;
        r = bridge_of(p->nl, tap, &bridge, p->bridge_mac, &mtu);
        if (r < 0)
                return r;
        r = veth_create(p, bridge, mtu);
        if (r < 0)
                return r;
        r = rtnl_link_get_kernel(p->nl, 0, p->port, &l);
        if (r < 0)
                return nl_to_errno(r);    /* created but gone already: nothing left to delete */
        p->port_ifindex = rtnl_link_get_ifindex(l);
        r = ipv6_quiet(p->nl, p->port);
        if (r >= 0)
                r = ipv6_quiet(p->nl, p->peer);
        if (r >= 0)
                r = link_up(p->nl, p->port);
        if (r >= 0)
                r = link_up(p->nl, p->peer);
        return r;
}

int dhcpprobe_start(int netns_fd, const char *tap, const char *const *macs, size_t n, unsigned timeout_ms,
                    probe_done_fn done, void *opaque, struct dhcpprobe **ret) {
        struct dhcpprobe *p;
        uint32_t id;
        int saved, r;

        if (netns_fd < 0 || !tap || !*tap || strlen(tap) >= IFNAMSIZ || !macs || n == 0 ||
            n > PROBE_MAX_CANDIDATES || !done || !ret || timeout_ms == 0)
                return -EINVAL;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->fd = -1;
        p->n = n;
        p->timeout_ms = timeout_ms;
        p->done = done;
        p->opaque = opaque;
        for (size_t i = 0; i < n; i++) {
                if (mac_parse(macs[i], p->cand[i].mac) < 0) {
                        free(p);
                        return -EINVAL;
                }
                mac_format(p->cand[i].mac, p->cand[i].res.mac);
                if (getrandom(&p->cand[i].xid, sizeof(p->cand[i].xid), 0) != sizeof(p->cand[i].xid)) {
                        free(p);
                        return -EIO;
                }
        }
        if (getrandom(&id, sizeof(id), 0) != sizeof(id)) {
                free(p);
                return -EIO;
        }
        snprintf(p->port, sizeof(p->port), "rlp%08xb", id);
        snprintf(p->peer, sizeof(p->peer), "rlp%08xp", id);
        p->t0_us = now_us();

        r = netns_enter(netns_fd, &saved);
        if (r < 0) {
                free(p);
                return r;
        }
        r = setup_in_netns(p, tap);
        netns_leave(saved);
        if (r < 0)
                goto fail;
        r = dhcpwatch_open(netns_fd, p->peer, &p->fd);
        if (r < 0)
                goto fail;
        p->watch = virEventAddHandle(p->fd, VIR_EVENT_HANDLE_READABLE, on_readable, p, NULL);
        if (p->watch < 0) {
                p->watch = 0;
                r = -EIO;
                goto fail;
        }
        r = timer_after(0, on_ready_poll, p);
        if (r < 0)
                goto fail;
        p->t_ready = r;
        r = timer_after(timeout_ms, on_deadline, p);
        if (r < 0)
                goto fail;
        p->t_deadline = r;
        *ret = p;
        return 0;
fail:
        probe_release(p, false);        /* the contract: nothing left behind when this returns */
        free(p);
        return r;
}

void dhcpprobe_cancel(struct dhcpprobe *p) {
        if (!p)
                return;
        probe_release(p, false);
        free(p);
}
