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

#define DHCP_SEEN_MAX_OPTS   32
#define DHCP_SEEN_MAX_PRL    64
#define DHCP_SEEN_MAX_VENDOR 48

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
        /* The client's fingerprint (trigger/fingerprint.h): what it asks for and how it names itself. */
        uint8_t opts[DHCP_SEEN_MAX_OPTS];  /* option codes in packet order (no pad/end), first n_opts */
        uint8_t n_opts;
        uint8_t prl[DHCP_SEEN_MAX_PRL];    /* option 55, the parameter request list, in its order */
        uint8_t n_prl;
        bool has_prl;
        char vendor[DHCP_SEEN_MAX_VENDOR]; /* option 60, non-printable bytes as '?'; "" when absent */
        bool has_vendor;
        int client_id_type;      /* option 61's first byte (1 Ethernet MAC, 255 RFC 4361 IAID+DUID,
                                  * 0 other); -1 when absent or empty */
        uint8_t client_id_len;
        bool has_hostname;       /* option 12 */
        bool has_fqdn;           /* option 81 */
};

/* Ethernet (optionally 802.1Q) / IPv4 / UDP 67|68 / BOOTP+cookie. 0 or -EINVAL if not DHCP. */
int dhcp_parse_frame(const uint8_t *frame, size_t len, struct dhcp_seen *ret);
/* AF_PACKET + BPF udp 67/68 on ifname inside netns_fd, nonblocking, cloexec; ifname is resolved in that
 * netns (-ENODEV when absent). The calling thread's netns is restored (netns_leave). 0 or -errno. */
int dhcpwatch_open(int netns_fd, const char *ifname, int *ret_fd);
/* The same, but only the guest's side: udp destination port 67 (client → server), the frames a standing
 * watch of the guest's DHCP client needs (trigger/guestwatch.h). */
int dhcpwatch_open_client(int netns_fd, const char *ifname, int *ret_fd);
/* Next DHCP frame (with its direction); non-DHCP frames are skipped, at most DHCPWATCH_MAX_SKIP per
 * call. 0, -EAGAIN when nothing is pending or that many were skipped (the fd is then still readable:
 * a poll loop calls again), or -errno. */
#define DHCPWATCH_MAX_SKIP 64
int dhcpwatch_read(int fd, struct dhcp_seen *ret);
