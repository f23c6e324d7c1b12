/* pinger.c — ping an IPv4 target every 100 ms forever and log outages on the console.
 *
 *   ping-lost target=X              once, when no reply has arrived for LOST_MS after replies were flowing
 *   ping-ok target=X outage_ms=N    on the first reply after an outage (N = ms since the last reply before
 *                                   the outage); the first reply ever logs outage_ms=0
 *
 * One raw ICMP socket, bound to nothing, so address and route changes need no new socket; send errors
 * (no address, no route yet) are ignored.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rlog.h"

#define INTERVAL_MS 100
#define LOST_MS     300

static uint16_t csum(const void *data, size_t len) {
        const uint8_t *p = data;
        uint32_t sum = 0;

        for (; len > 1; p += 2, len -= 2)
                sum += (uint32_t) (p[0] << 8 | p[1]);
        if (len)
                sum += (uint32_t) (p[0] << 8);
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return htons((uint16_t) ~sum);
}

static void send_probe(int fd, const struct sockaddr_in *to, uint16_t id, uint16_t seq) {
        struct {
                struct icmphdr h;
                uint8_t pad[48];
        } pkt;

        memset(&pkt, 0, sizeof(pkt));
        pkt.h.type = ICMP_ECHO;
        pkt.h.un.echo.id = htons(id);
        pkt.h.un.echo.sequence = htons(seq);
        pkt.h.checksum = csum(&pkt, sizeof(pkt));
        (void) sendto(fd, &pkt, sizeof(pkt), MSG_DONTWAIT, (const struct sockaddr *) to, sizeof(*to));
}

/* True when the datagram is an echo reply from the target to our id. */
static bool is_our_reply(const uint8_t *buf, ssize_t n, const struct sockaddr_in *from,
                         const struct sockaddr_in *target, uint16_t id) {
        const struct iphdr *ip = (const struct iphdr *) buf;
        const struct icmphdr *icmp;
        size_t hl;

        if (n < (ssize_t) sizeof(*ip) || from->sin_addr.s_addr != target->sin_addr.s_addr)
                return false;
        hl = (size_t) ip->ihl * 4;
        if ((size_t) n < hl + sizeof(*icmp))
                return false;
        icmp = (const struct icmphdr *) (buf + hl);
        return icmp->type == ICMP_ECHOREPLY && ntohs(icmp->un.echo.id) == id;
}

int pinger_main(int argc, char **argv) {
        struct sockaddr_in target = { .sin_family = AF_INET };
        enum { NEVER, FLOWING, LOST } state = NEVER;
        uint64_t last_reply = 0, next_send;
        uint16_t id = (uint16_t) getpid(), seq = 0;
        int fd;

        if (argc != 2 || inet_pton(AF_INET, argv[1], &target.sin_addr) != 1) {
                fprintf(stderr, "usage: pinger IPv4\n");
                return 2;
        }
        fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
        if (fd < 0) {
                perror("pinger: socket");
                return 1;
        }
        next_send = uptime_ms();
        for (;;) {
                uint64_t now = uptime_ms();
                struct pollfd p = { .fd = fd, .events = POLLIN };

                if (now >= next_send) {
                        send_probe(fd, &target, id, seq++);
                        next_send += INTERVAL_MS;
                        if (next_send <= now)   /* the guest was paused (migration): do not burst */
                                next_send = now + INTERVAL_MS;
                }
                if (state == FLOWING && now - last_reply >= LOST_MS) {
                        state = LOST;
                        rlog("ping-lost target=%s", argv[1]);
                }
                if (poll(&p, 1, (int) (next_send > now ? next_send - now : 0)) > 0) {
                        uint8_t buf[1500];
                        struct sockaddr_in from;
                        socklen_t fl = sizeof(from);
                        ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *) &from, &fl);

                        if (n > 0 && is_our_reply(buf, n, &from, &target, id)) {
                                now = uptime_ms();
                                if (state != FLOWING)
                                        rlog("ping-ok target=%s outage_ms=%llu", argv[1],
                                             state == NEVER ? 0ULL : (unsigned long long) (now - last_reply));
                                state = FLOWING;
                                last_reply = now;
                        }
                }
        }
}
