/* SPDX-License-Identifier: MIT */
/* Watch DHCP on a pod-side interface: parse frames (pure, bounded) and a filtered packet socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/mac.h"
#include "common/netns.h"
#include "common/util.h"
#include "trigger/dhcpwatch.h"

#define BOOTP_FIXED   236             /* op … file, before the magic cookie */
#define BOOTP_COOKIE  0x63825363u
#define MAX_VLAN_TAGS 2

static uint16_t get16(const uint8_t *p) {
        return (uint16_t) (p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static void ip4_format(const uint8_t *p, char out[16]) {
        if (get32(p) == 0)
                out[0] = '\0';
        else
                snprintf(out, 16, "%u.%u.%u.%u", p[0], p[1], p[2], p[3]);
}

static bool dhcp_port(uint16_t p) {
        return p == 67 || p == 68;
}

int dhcp_parse_frame(const uint8_t *frame, size_t len, struct dhcp_seen *ret) {
        struct dhcp_seen seen = { .client_id_type = -1 };
        const uint8_t *p = frame, *opt, *end;
        size_t off = 12, ihl, tot, ulen;
        uint16_t type;

        if (!frame || !ret)
                return -EINVAL;

        /* Ethernet, up to two 802.1Q / 802.1ad tags */
        if (len < off + 2)
                return -EINVAL;
        memcpy(seen.eth_src, p + 6, 6);
        type = get16(p + off);
        for (int tags = 0; type == ETH_P_8021Q || type == ETH_P_8021AD; tags++) {
                if (tags == MAX_VLAN_TAGS || len < off + 6)
                        return -EINVAL;
                off += 4;
                type = get16(p + off);
        }
        if (type != ETH_P_IP)
                return -EINVAL;
        p += off + 2;
        len -= off + 2;

        /* IPv4: honour IHL and total length, ignore fragments */
        if (len < 20 || p[0] >> 4 != 4)
                return -EINVAL;
        ihl = (size_t) (p[0] & 0x0f) * 4;
        tot = get16(p + 2);
        if (ihl < 20 || tot < ihl || tot > len)
                return -EINVAL;
        if (get16(p + 6) & 0x3fff)        /* MF or a fragment offset */
                return -EINVAL;
        if (p[9] != IPPROTO_UDP)
                return -EINVAL;
        len = tot - ihl;
        p += ihl;

        /* UDP */
        if (len < 8)
                return -EINVAL;
        ulen = get16(p + 4);
        if (!dhcp_port(get16(p)) || !dhcp_port(get16(p + 2)) || ulen < 8 || ulen > len)
                return -EINVAL;
        len = ulen - 8;
        p += 8;

        /* BOOTP + magic cookie */
        if (len < BOOTP_FIXED + 4)
                return -EINVAL;
        if ((p[0] != 1 && p[0] != 2) || p[1] != 1 || p[2] != 6)   /* op, htype ethernet, hlen 6 */
                return -EINVAL;
        if (get32(p + BOOTP_FIXED) != BOOTP_COOKIE)
                return -EINVAL;
        seen.op = p[0];
        seen.xid = get32(p + 4);
        mac_format(p + 28, seen.chaddr);
        ip4_format(p + 16, seen.yiaddr);

        /* options: every length checked against the end */
        end = p + len;
        for (opt = p + BOOTP_FIXED + 4; opt < end;) {
                uint8_t code = opt[0], olen;

                if (code == 0) {
                        opt++;
                        continue;
                }
                if (code == 255)
                        break;
                if (end - opt < 2)
                        return -EINVAL;
                olen = opt[1];
                if (end - (opt + 2) < olen)
                        return -EINVAL;
                if (seen.n_opts < DHCP_SEEN_MAX_OPTS)
                        seen.opts[seen.n_opts++] = code;
                switch (code) {
                case 53:
                        if (olen != 1)
                                return -EINVAL;
                        seen.msgtype = opt[2];
                        break;
                case 50:
                        if (olen != 4)
                                return -EINVAL;
                        ip4_format(opt + 2, seen.requested);
                        break;
                case 54:
                        if (olen != 4)
                                return -EINVAL;
                        ip4_format(opt + 2, seen.server_id);
                        break;
                case 55:
                        seen.has_prl = true;
                        for (unsigned i = 0; i < olen && seen.n_prl < DHCP_SEEN_MAX_PRL; i++)
                                seen.prl[seen.n_prl++] = opt[2 + i];
                        break;
                case 60:
                        seen.has_vendor = true;
                        for (unsigned i = 0; i < olen && i + 1 < sizeof(seen.vendor); i++)
                                seen.vendor[i] = opt[2 + i] >= 0x20 && opt[2 + i] < 0x7f ? (char) opt[2 + i] : '?';
                        break;
                case 61:
                        seen.client_id_len = olen;
                        seen.client_id_type = olen ? opt[2] : -1;
                        break;
                case 12:
                        seen.has_hostname = true;
                        break;
                case 81:
                        seen.has_fqdn = true;
                        break;
                }
                opt += 2 + olen;
        }
        if (seen.msgtype == 0)        /* plain BOOTP */
                return -EINVAL;
        *ret = seen;
        return 0;
}

/* udp and (src or dst port 67 or 68), IPv4 only, first fragments only. */
static struct sock_filter dhcp_filter[] = {
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),                   /* 0  ethertype */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 12),     /* 1  → drop */
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 23),                   /* 2  protocol */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 10),  /* 3  → drop */
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 20),                   /* 4  flags/frag offset */
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 8, 0),       /* 5  → drop */
        BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 14),                  /* 6  x = IHL*4 */
        BPF_STMT(BPF_LD | BPF_H | BPF_IND, 14),                   /* 7  source port */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 67, 4, 0),            /* 8  → accept */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 68, 3, 0),            /* 9  → accept */
        BPF_STMT(BPF_LD | BPF_H | BPF_IND, 16),                   /* 10 destination port */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 67, 1, 0),            /* 11 → accept */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 68, 0, 1),            /* 12 → accept : drop */
        BPF_STMT(BPF_RET | BPF_K, 0x40000),                       /* 13 accept */
        BPF_STMT(BPF_RET | BPF_K, 0),                             /* 14 drop */
};

/* udp and dst port 67 (the client's frames), IPv4 only, first fragments only. */
static struct sock_filter dhcp_client_filter[] = {
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),                   /* 0  ethertype */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 8),      /* 1  → drop */
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 23),                   /* 2  protocol */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 6),   /* 3  → drop */
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 20),                   /* 4  flags/frag offset */
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 4, 0),       /* 5  → drop */
        BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 14),                  /* 6  x = IHL*4 */
        BPF_STMT(BPF_LD | BPF_H | BPF_IND, 16),                   /* 7  destination port */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 67, 0, 1),            /* 8  → accept : drop */
        BPF_STMT(BPF_RET | BPF_K, 0x40000),                       /* 9  accept */
        BPF_STMT(BPF_RET | BPF_K, 0),                             /* 10 drop */
};

static int open_packet_socket(const char *ifname, bool client_only, int *ret_fd) {
        struct sock_fprog prog = {
                .len = client_only ? ARRAY_SIZE(dhcp_client_filter) : ARRAY_SIZE(dhcp_filter),
                .filter = client_only ? dhcp_client_filter : dhcp_filter,
        };
        struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
        _cleanup_close_ int fd = -1;
        unsigned idx;

        idx = if_nametoindex(ifname);          /* asks the kernel in the current (pod) netns */
        if (idx == 0)
                return -errno;
        /* Protocol 0: nothing is queued until bind, so no frame escapes the filter. */
        fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
                return -errno;
        sll.sll_ifindex = (int) idx;
        if (bind(fd, (struct sockaddr *) &sll, sizeof(sll)) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int open_in_netns(int netns_fd, const char *ifname, bool client_only, int *ret_fd) {
        int saved = -1, fd = -1, r;

        if (netns_fd < 0 || !ifname || !*ifname || strlen(ifname) >= IFNAMSIZ || !ret_fd)
                return -EINVAL;
        r = netns_enter(netns_fd, &saved);
        if (r < 0)
                return r;
        r = open_packet_socket(ifname, client_only, &fd);
        netns_leave(saved);
        if (r < 0)
                return r;
        *ret_fd = fd;
        return 0;
}

int dhcpwatch_open(int netns_fd, const char *ifname, int *ret_fd) {
        return open_in_netns(netns_fd, ifname, false, ret_fd);
}

int dhcpwatch_open_client(int netns_fd, const char *ifname, int *ret_fd) {
        return open_in_netns(netns_fd, ifname, true, ret_fd);
}

int dhcpwatch_read(int fd, struct dhcp_seen *ret) {
        uint8_t buf[9216];

        for (unsigned skipped = 0; skipped < DHCPWATCH_MAX_SKIP; skipped++) {
                struct sockaddr_ll from = {};
                socklen_t from_len = sizeof(from);
                ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *) &from, &from_len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
                }
                if (dhcp_parse_frame(buf, (size_t) n, ret) == 0) {
                        ret->to_guest = from.sll_pkttype == PACKET_OUTGOING;
                        return 0;
                }
        }
        return -EAGAIN;         /* a burst of non-DHCP frames: the caller's turn is over, fd stays readable */
}
