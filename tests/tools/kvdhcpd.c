/* SPDX-License-Identifier: MIT */
/* kvdhcpd — the cluster-in-a-box's stand-in for KubeVirt's bridge-binding DHCP server (tests only,
 * never installed). It has KubeVirt's semantics (pkg/network/dhcp/server/server.go, v1.x), which no
 * stock server has:
 *   - one client: a packet whose chaddr is not the configured MAC is ignored (never NAKed);
 *   - DISCOVER → OFFER of the configured address; REQUEST → ACK of the configured address, whatever
 *     address the client asked for (an INIT-REBOOT for the old pod's address is ACKed with the new one);
 *     every other message type is ignored; it never NAKs;
 *   - the reply carries server id, lease time and every configured option (KubeVirt: SelectOrderOrAll
 *     (nil)): subnet mask, router, MTU, classless static routes (default last), hostname.
 * Replies are broadcast (255.255.255.255:68) on the bridge: the client has no address yet, and every
 * bridge port (the guest's tap, relinkd's probe veth) sees them.
 *
 *   kvdhcpd --iface BR --server-ip A --mac M --ip A/P [--router GW] [--route DST/P,GW]... [--mtu N]
 *           [--hostname H] [--lease-s N]
 *
 * Runs in the caller's netns, in the foreground; one log line per packet on stderr; SIGTERM ends it.
 * Exit 2 on a usage error, 1 when the socket cannot be set up. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/inaddr.h"
#include "common/mac.h"

#define BOOTP_HDR 236
#define MAGIC 0x63825363u
#define MAX_ROUTES 16
#define PKT_MAX 1500

static struct {
        const char *iface, *hostname;
        struct in_addr server, ip, mask, router;
        bool has_router;
        unsigned prefix, mtu, lease_s;
        uint8_t mac[6];
        struct { struct in_addr dst, gw; unsigned prefix; } routes[MAX_ROUTES];
        unsigned n_routes;
} cfg = { .lease_s = 999u * 24 * 3600 };

static volatile sig_atomic_t quit;

static void on_term(int sig) {
        quit = sig;
}

static void usage(void) {
        fprintf(stderr, "usage: kvdhcpd --iface BR --server-ip A --mac M --ip A/P [--router GW] "
                        "[--route DST/P,GW]... [--mtu N] [--hostname H] [--lease-s N]\n");
        exit(2);
}

static struct in_addr v4(const char *s, const char *what) {
        struct inaddr a;
        struct in_addr r;

        if (inaddr_parse(s, &a) < 0 || a.family != AF_INET) {
                fprintf(stderr, "kvdhcpd: %s: not an IPv4 address: '%s'\n", what, s);
                exit(2);
        }
        memcpy(&r, a.b, 4);
        return r;
}

static struct in_addr v4_cidr(const char *s, unsigned *ret_prefix, const char *what) {
        struct inaddr a;
        struct in_addr r;
        int p;

        if (cidr_parse(s, &a, &p) < 0 || a.family != AF_INET || p < 0) {
                fprintf(stderr, "kvdhcpd: %s: not an IPv4 CIDR: '%s'\n", what, s);
                exit(2);
        }
        memcpy(&r, a.b, 4);
        *ret_prefix = (unsigned) p;
        return r;
}

static unsigned number(const char *s, unsigned max, const char *what) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || !*s || *end || v > max) {
                fprintf(stderr, "kvdhcpd: %s: expected 0..%u, got '%s'\n", what, max, s);
                exit(2);
        }
        return (unsigned) v;
}

static void parse_args(int argc, char **argv) {
        static const struct option opts[] = {
                { "iface", required_argument, NULL, 'i' },     { "server-ip", required_argument, NULL, 's' },
                { "mac", required_argument, NULL, 'm' },       { "ip", required_argument, NULL, 'a' },
                { "router", required_argument, NULL, 'r' },    { "route", required_argument, NULL, 'R' },
                { "mtu", required_argument, NULL, 'M' },       { "hostname", required_argument, NULL, 'h' },
                { "lease-s", required_argument, NULL, 'l' },   {}
        };
        bool have_server = false, have_mac = false, have_ip = false;
        char buf[64], *comma;
        int c;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
                switch (c) {
                case 'i':
                        cfg.iface = optarg;
                        break;
                case 's':
                        cfg.server = v4(optarg, "--server-ip");
                        have_server = true;
                        break;
                case 'm':
                        if (mac_parse(optarg, cfg.mac) < 0) {
                                fprintf(stderr, "kvdhcpd: --mac: not a MAC: '%s'\n", optarg);
                                exit(2);
                        }
                        have_mac = true;
                        break;
                case 'a':
                        cfg.ip = v4_cidr(optarg, &cfg.prefix, "--ip");
                        have_ip = true;
                        break;
                case 'r':
                        cfg.router = v4(optarg, "--router");
                        cfg.has_router = true;
                        break;
                case 'R':
                        if (cfg.n_routes >= MAX_ROUTES || strlen(optarg) >= sizeof(buf) ||
                            !(comma = strchr(strcpy(buf, optarg), ','))) {
                                fprintf(stderr, "kvdhcpd: --route: expected DST/P,GW (at most %d): '%s'\n", MAX_ROUTES,
                                        optarg);
                                exit(2);
                        }
                        *comma = '\0';
                        cfg.routes[cfg.n_routes].dst = v4_cidr(buf, &cfg.routes[cfg.n_routes].prefix, "--route");
                        cfg.routes[cfg.n_routes].gw = v4(comma + 1, "--route gateway");
                        cfg.n_routes++;
                        break;
                case 'M':
                        cfg.mtu = number(optarg, 65535, "--mtu");
                        break;
                case 'h':
                        cfg.hostname = optarg;
                        break;
                case 'l':
                        cfg.lease_s = number(optarg, UINT32_MAX, "--lease-s");
                        break;
                default:
                        usage();
                }
        if (optind != argc || !cfg.iface || !have_server || !have_mac || !have_ip)
                usage();
        cfg.mask.s_addr = cfg.prefix ? htonl(0xffffffffu << (32 - cfg.prefix)) : 0;
}

struct reply {
        uint8_t b[PKT_MAX];
        size_t n;
};

static void opt_put(struct reply *r, uint8_t code, const void *data, size_t len) {
        if (len > 255 || r->n + 2 + len + 1 > sizeof(r->b))
                return;
        r->b[r->n++] = code;
        r->b[r->n++] = (uint8_t) len;
        memcpy(r->b + r->n, data, len);
        r->n += len;
}

static void opt_u32(struct reply *r, uint8_t code, uint32_t host) {
        uint32_t be = htonl(host);

        opt_put(r, code, &be, 4);
}

/* Option 121 (RFC 3442): prefix length, the significant octets of the destination, the router. */
static void opt_routes(struct reply *r) {
        uint8_t v[255];
        size_t n = 0;

        for (unsigned i = 0; i < cfg.n_routes; i++) {
                unsigned sig = (cfg.routes[i].prefix + 7) / 8;

                if (n + 1 + sig + 4 > sizeof(v))
                        break;
                v[n++] = (uint8_t) cfg.routes[i].prefix;
                memcpy(v + n, &cfg.routes[i].dst, sig);
                n += sig;
                memcpy(v + n, &cfg.routes[i].gw, 4);
                n += 4;
        }
        if (n)
                opt_put(r, 121, v, n);
}

static void build_reply(const uint8_t *req, uint8_t type, struct reply *r) {
        uint32_t magic = htonl(MAGIC);
        uint16_t mtu;

        memset(r, 0, sizeof(*r));
        r->b[0] = 2;                                /* BOOTREPLY */
        r->b[1] = req[1];                           /* htype, hlen */
        r->b[2] = req[2];
        memcpy(r->b + 4, req + 4, 4);               /* xid */
        memcpy(r->b + 10, req + 10, 2);             /* flags */
        memcpy(r->b + 16, &cfg.ip, 4);              /* yiaddr */
        memcpy(r->b + 24, req + 24, 4);             /* giaddr */
        memcpy(r->b + 28, req + 28, 16);            /* chaddr */
        memcpy(r->b + BOOTP_HDR, &magic, 4);
        r->n = BOOTP_HDR + 4;
        opt_put(r, 53, &type, 1);
        opt_put(r, 54, &cfg.server, 4);
        opt_u32(r, 51, cfg.lease_s);
        opt_put(r, 1, &cfg.mask, 4);
        if (cfg.has_router)
                opt_put(r, 3, &cfg.router, 4);
        if (cfg.hostname)
                opt_put(r, 12, cfg.hostname, strlen(cfg.hostname));
        if (cfg.mtu) {
                mtu = htons((uint16_t) cfg.mtu);
                opt_put(r, 26, &mtu, 2);
        }
        opt_routes(r);
        r->b[r->n++] = 255;
        if (r->n < 300)                             /* BOOTP minimum */
                r->n = 300;
}

/* Option 53 and, when present, 50 of a request; 0 or -EINVAL. */
static int parse_request(const uint8_t *p, size_t n, uint8_t *ret_type, char requested[INET_ADDRSTRLEN]) {
        uint32_t magic;
        size_t i = BOOTP_HDR + 4;

        *ret_type = 0;
        strcpy(requested, "-");
        if (n < BOOTP_HDR + 4 || p[0] != 1 || p[2] != 6)
                return -EINVAL;
        memcpy(&magic, p + BOOTP_HDR, 4);
        if (ntohl(magic) != MAGIC)
                return -EINVAL;
        while (i < n && p[i] != 255) {
                uint8_t code = p[i], len;

                if (code == 0) {
                        i++;
                        continue;
                }
                if (i + 1 >= n || i + 2 + (len = p[i + 1]) > n)
                        return -EINVAL;
                if (code == 53 && len == 1)
                        *ret_type = p[i + 2];
                if (code == 50 && len == 4)
                        inet_ntop(AF_INET, p + i + 2, requested, INET_ADDRSTRLEN);
                i += 2 + (size_t) len;
        }
        return *ret_type ? 0 : -EINVAL;
}

static const char *type_name(uint8_t t) {
        static const char *names[] = { "?", "DISCOVER", "OFFER", "REQUEST", "DECLINE", "ACK", "NAK", "RELEASE",
                                       "INFORM" };

        return t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

int main(int argc, char **argv) {
        struct sockaddr_in bind_addr = { .sin_family = AF_INET, .sin_port = htons(67) };
        struct sockaddr_in bcast = { .sin_family = AF_INET, .sin_port = htons(68) };
        struct sigaction sa = { .sa_handler = on_term };
        char ip_s[INET_ADDRSTRLEN], mac_s[18], chaddr_s[18];
        int fd, one = 1;

        parse_args(argc, argv);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        bcast.sin_addr.s_addr = htonl(INADDR_BROADCAST);
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, cfg.iface, (socklen_t) strlen(cfg.iface)) < 0 ||
            bind(fd, (struct sockaddr *) &bind_addr, sizeof(bind_addr)) < 0) {
                fprintf(stderr, "kvdhcpd: cannot listen on %s:67: %s\n", cfg.iface, strerror(errno));
                return 1;
        }
        inet_ntop(AF_INET, &cfg.ip, ip_s, sizeof(ip_s));
        mac_format(cfg.mac, mac_s);
        fprintf(stderr, "kvdhcpd: serving %s/%u to %s on %s\n", ip_s, cfg.prefix, mac_s, cfg.iface);
        while (!quit) {
                uint8_t p[PKT_MAX], type;
                char requested[INET_ADDRSTRLEN];
                struct reply r;
                ssize_t n = recv(fd, p, sizeof(p), 0);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        fprintf(stderr, "kvdhcpd: recv: %s\n", strerror(errno));
                        return 1;
                }
                if (parse_request(p, (size_t) n, &type, requested) < 0)
                        continue;
                mac_format(p + 28, chaddr_s);
                if (memcmp(p + 28, cfg.mac, 6) != 0) {
                        fprintf(stderr, "kvdhcpd: %s from %s: not our client, ignored\n", type_name(type), chaddr_s);
                        continue;
                }
                if (type != 1 && type != 3) {
                        fprintf(stderr, "kvdhcpd: %s from %s: ignored\n", type_name(type), chaddr_s);
                        continue;
                }
                build_reply(p, type == 1 ? 2 : 5, &r);
                if (sendto(fd, r.b, r.n, 0, (struct sockaddr *) &bcast, sizeof(bcast)) < 0)
                        fprintf(stderr, "kvdhcpd: send: %s\n", strerror(errno));
                else
                        fprintf(stderr, "kvdhcpd: %s from %s requested=%s → %s %s\n", type_name(type), chaddr_s,
                                requested, type == 1 ? "OFFER" : "ACK", ip_s);
        }
        return 0;
}
