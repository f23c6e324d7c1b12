/* SPDX-License-Identifier: MIT */
/* Observe the guest's DHCP on the pod side: a packet socket in the pod netns. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DHCP_DISCOVER 1
#define DHCP_OFFER    2
#define DHCP_REQUEST  3
#define DHCP_DECLINE  4
#define DHCP_ACK      5
#define DHCP_NAK      6
#define DHCP_RELEASE  7
#define DHCP_INFORM   8

struct dhcp_seen {
        uint8_t msgtype;         /* option 53 */
        char chaddr[18];         /* client MAC, lower case */
        char yiaddr[16];         /* "" when 0.0.0.0 */
        char requested[16];      /* option 50, "" when absent */
        char server_id[16];      /* option 54, "" when absent (addition) */
        uint8_t op;              /* BOOTP op: 1 request, 2 reply */
        uint32_t xid;            /* transaction ID, host order */
        uint8_t eth_src[6];      /* Ethernet source address of the frame */
        bool to_guest;           /* dhcpwatch_read: the frame left through the tap, i.e. went to the
                                  * guest (PACKET_OUTGOING); false for the guest's own frames */
};

/* Ethernet (optionally 802.1Q) / IPv4 / UDP 67|68 / BOOTP+cookie. 0 or -EINVAL if not DHCP. */
int dhcp_parse_frame(const uint8_t *frame, size_t len, struct dhcp_seen *ret);
/* AF_PACKET + BPF udp 67/68 on ifname inside netns_fd, nonblocking, cloexec; ifname is resolved in that
 * netns (-ENODEV when absent). The calling thread's netns is restored (netns_leave). 0 or -errno. */
int dhcpwatch_open(int netns_fd, const char *ifname, int *ret_fd);
/* Next DHCP frame (with its direction); non-DHCP frames are skipped, at most DHCPWATCH_MAX_SKIP per
 * call. 0, -EAGAIN when nothing is pending or that many were skipped (the fd is then still readable:
 * a poll loop calls again), or -errno. */
#define DHCPWATCH_MAX_SKIP 64
int dhcpwatch_read(int fd, struct dhcp_seen *ret);
