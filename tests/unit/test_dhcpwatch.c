/* SPDX-License-Identifier: MIT */
/* DHCP observation: frame parser on crafted frames; as root, a live watcher on a veth in a throwaway netns.
 *
 *   netns relink-<pid>-dw:   [rlw<pid>a] ==veth== [rlw<pid>b]
 *                             watcher              sender (packet socket)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/netns.h"
#include "common/util.h"
#include "trigger/dhcpwatch.h"

struct frame_opts {
        bool vlan;
        uint8_t op;                 /* 1 request, 2 reply */
        uint16_t sport, dport;
        uint8_t proto;
        uint16_t frag;              /* flags+offset field */
        uint8_t ihl;                /* 32-bit words */
        bool no_cookie;
        int msgtype;                /* -1: no option 53 */
        const char *requested, *server_id, *yiaddr;
        const uint8_t *extra_opts;  /* raw bytes appended before 255 */
        size_t n_extra;
};

static const uint8_t client_mac[6] = { 0x0A, 0x58, 0x0A, 0xF4, 0x01, 0x05 };

static void put16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) (v >> 8);
        p[1] = (uint8_t) v;
}

static void put_ip(uint8_t *p, const char *s) {
        assert_int_equal(inet_pton(AF_INET, s, p), 1);
}

/* A full Ethernet/IPv4/UDP/BOOTP frame into buf; returns its length. */
static size_t build(uint8_t *buf, size_t size, const struct frame_opts *o) {
        uint8_t *p = buf, *ip, *udp, *bootp, *opt;
        uint8_t ihl = o->ihl ? o->ihl : 5;
        size_t len;

        assert_true(size >= 1024);
        memset(buf, 0, size);
        memset(p, 0xff, 6);                              /* broadcast */
        memcpy(p + 6, client_mac, 6);
        p += 12;
        if (o->vlan) {
                put16(p, 0x8100);
                put16(p + 2, 42);
                p += 4;
        }
        put16(p, 0x0800);
        p += 2;
        ip = p;
        ip[0] = (uint8_t) (0x40 | ihl);
        put16(ip + 6, o->frag);
        ip[8] = 64;
        ip[9] = o->proto ? o->proto : 17;
        put_ip(ip + 16, "255.255.255.255");
        udp = ip + ihl * 4;
        put16(udp, o->sport ? o->sport : 68);
        put16(udp + 2, o->dport ? o->dport : 67);
        bootp = udp + 8;
        bootp[0] = o->op ? o->op : 1;
        bootp[1] = 1;
        bootp[2] = 6;
        bootp[4] = 0x12;                                 /* xid */
        if (o->yiaddr)
                put_ip(bootp + 16, o->yiaddr);
        memcpy(bootp + 28, client_mac, 6);
        opt = bootp + 236;
        if (!o->no_cookie) {
                opt[0] = 99, opt[1] = 130, opt[2] = 83, opt[3] = 99;
        }
        opt += 4;
        *opt++ = 0;                                      /* a pad */
        if (o->msgtype >= 0) {
                *opt++ = 53, *opt++ = 1, *opt++ = (uint8_t) o->msgtype;
        }
        if (o->requested) {
                *opt++ = 50, *opt++ = 4;
                put_ip(opt, o->requested);
                opt += 4;
        }
        if (o->server_id) {
                *opt++ = 54, *opt++ = 4;
                put_ip(opt, o->server_id);
                opt += 4;
        }
        if (o->n_extra) {
                memcpy(opt, o->extra_opts, o->n_extra);
                opt += o->n_extra;
        }
        *opt++ = 255;
        len = (size_t) (opt - buf);
        put16(ip + 2, (uint16_t) (opt - ip));
        put16(udp + 4, (uint16_t) (opt - udp));
        return len;
}

static void test_discover(void **state) {
        uint8_t f[1500];
        struct dhcp_seen s;
        size_t n = build(f, sizeof(f), &(struct frame_opts) { .msgtype = DHCP_DISCOVER });

        assert_int_equal(dhcp_parse_frame(f, n, &s), 0);
        assert_int_equal(s.msgtype, DHCP_DISCOVER);
        assert_string_equal(s.chaddr, "0a:58:0a:f4:01:05");
        assert_string_equal(s.yiaddr, "");
        assert_string_equal(s.requested, "");
        assert_string_equal(s.server_id, "");
}

static void test_request(void **state) {
        uint8_t f[1500];
        struct dhcp_seen s;
        size_t n = build(f, sizeof(f), &(struct frame_opts) {
                .msgtype = DHCP_REQUEST, .requested = "10.244.2.7", .server_id = "169.254.75.10" });

        assert_int_equal(dhcp_parse_frame(f, n, &s), 0);
        assert_int_equal(s.msgtype, DHCP_REQUEST);
        assert_string_equal(s.requested, "10.244.2.7");
        assert_string_equal(s.server_id, "169.254.75.10");
}

static void test_ack(void **state) {
        uint8_t f[1500];
        struct dhcp_seen s;
        size_t n = build(f, sizeof(f), &(struct frame_opts) {
                .op = 2, .sport = 67, .dport = 68, .msgtype = DHCP_ACK, .yiaddr = "10.244.2.7",
                .server_id = "169.254.75.10" });

        assert_int_equal(dhcp_parse_frame(f, n, &s), 0);
        assert_int_equal(s.msgtype, DHCP_ACK);
        assert_string_equal(s.yiaddr, "10.244.2.7");
        assert_string_equal(s.chaddr, "0a:58:0a:f4:01:05");
}

static void test_vlan_and_ip_options(void **state) {
        uint8_t f[1500];
        struct dhcp_seen s;
        size_t n = build(f, sizeof(f), &(struct frame_opts) { .vlan = true, .msgtype = DHCP_REQUEST,
                                                              .requested = "10.0.0.9" });

        assert_int_equal(dhcp_parse_frame(f, n, &s), 0);
        assert_string_equal(s.requested, "10.0.0.9");
        n = build(f, sizeof(f), &(struct frame_opts) { .ihl = 6, .msgtype = DHCP_INFORM });   /* IP options */
        assert_int_equal(dhcp_parse_frame(f, n, &s), 0);
        assert_int_equal(s.msgtype, DHCP_INFORM);
        /* trailing Ethernet padding after the IP datagram is ignored */
        n = build(f, sizeof(f), &(struct frame_opts) { .msgtype = DHCP_DISCOVER });
        memset(f + n, 0xee, 60);
        assert_int_equal(dhcp_parse_frame(f, n + 60, &s), 0);
}

static void test_unknown_options_skipped(void **state) {
        static const uint8_t extra[] = { 12, 3, 'v', 'm', '1', 61, 7, 1, 0x0a, 0x58, 0x0a, 0xf4, 0x01, 0x05 };
        uint8_t f[1500];
        struct dhcp_seen s;
        size_t n = build(f, sizeof(f), &(struct frame_opts) { .msgtype = DHCP_REQUEST, .extra_opts = extra,
                                                              .n_extra = sizeof(extra), .requested = "10.1.1.1" });

        assert_int_equal(dhcp_parse_frame(f, n, &s), 0);
        assert_string_equal(s.requested, "10.1.1.1");
}

static const struct bad_row {
        const char *name;
        struct frame_opts o;
        int cut;                        /* >0: truncate to this many bytes; <0: drop that many */
        int poke_at, poke;              /* poke_at > 0: overwrite one byte */
} bad_rows[] = {
        { .name = "not udp",         .o = { .proto = 6, .msgtype = 1 } },
        { .name = "wrong ports",     .o = { .sport = 1067, .dport = 53, .msgtype = 1 } },
        { .name = "one port wrong",  .o = { .sport = 68, .dport = 5353, .msgtype = 1 } },
        { .name = "no cookie",       .o = { .no_cookie = true, .msgtype = 1 } },
        { .name = "plain bootp",     .o = { .msgtype = -1 } },
        { .name = "fragment offset", .o = { .frag = 0x0010, .msgtype = 1 } },
        { .name = "more fragments",  .o = { .frag = 0x2000, .msgtype = 1 } },
        { .name = "ihl too small",   .o = { .ihl = 4, .msgtype = 1 } },
        { .name = "truncated ether", .o = { .msgtype = 1 }, .cut = 13 },
        { .name = "truncated ip",    .o = { .msgtype = 1 }, .cut = 30 },
        { .name = "truncated bootp", .o = { .msgtype = 1 }, .cut = 14 + 20 + 8 + 200 },
        { .name = "truncated opts",  .o = { .msgtype = 3, .requested = "10.0.0.1" }, .cut = -4 },
        { .name = "not ipv4",        .o = { .msgtype = 1 }, .poke_at = 12, .poke = 0x86 },
        { .name = "ip version 6",    .o = { .msgtype = 1 }, .poke_at = 14, .poke = 0x65 },
        { .name = "htype not eth",   .o = { .msgtype = 1 }, .poke_at = 14 + 20 + 8 + 1, .poke = 6 },
        { .name = "msgtype length",  .o = { .msgtype = 1 }, .poke_at = 14 + 20 + 8 + 240 + 2, .poke = 2 },
        { .name = "option runs off", .o = { .msgtype = 1 }, .poke_at = 14 + 20 + 8 + 240 + 2, .poke = 200 },
};

static void test_bad_frames(void **state) {
        for (size_t i = 0; i < ARRAY_SIZE(bad_rows); i++) {
                const struct bad_row *t = &bad_rows[i];
                uint8_t f[1500];
                struct dhcp_seen s;
                size_t n = build(f, sizeof(f), &t->o);
                int r;

                if (t->cut > 0)
                        n = (size_t) t->cut;
                else if (t->cut < 0)
                        n -= (size_t) -t->cut;
                if (t->poke_at)
                        f[t->poke_at] = (uint8_t) t->poke;
                r = dhcp_parse_frame(f, n, &s);
                if (r != -EINVAL)
                        print_error("'%s': got %d\n", t->name, r);
                assert_int_equal(r, -EINVAL);
        }
        assert_int_equal(dhcp_parse_frame(NULL, 0, NULL), -EINVAL);
}

/* Every prefix of a valid frame, and random corruption, never crashes (ASan watches the bounds). */
static void test_fuzz(void **state) {
        uint8_t f[1500], g[1500];
        struct dhcp_seen s;
        size_t n = build(f, sizeof(f), &(struct frame_opts) { .vlan = true, .msgtype = 3, .requested = "10.0.0.1",
                                                              .server_id = "10.0.0.254" });
        uint32_t seed = 12345;

        for (size_t i = 0; i < n; i++) {
                uint8_t *copy = malloc(i ? i : 1);         /* exact size so ASan sees overreads */
                memcpy(copy, f, i);
                assert_int_equal(dhcp_parse_frame(copy, i, &s), -EINVAL);
                free(copy);
        }
        for (int round = 0; round < 20000; round++) {
                uint8_t *copy;

                memcpy(g, f, n);
                for (int k = 0; k < 4; k++) {
                        seed = seed * 1103515245u + 12345u;
                        g[(seed >> 8) % n] = (uint8_t) (seed >> 24);
                }
                copy = malloc(n);
                memcpy(copy, g, n);
                (void) dhcp_parse_frame(copy, n, &s);
                free(copy);
        }
}

/* ---- live: needs root and iproute2 ---- */

static int sh(const char *fmt, ...) {
        char cmd[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        return system(cmd);
}

static char ns_name[64], if_a[IFNAMSIZ], if_b[IFNAMSIZ];

static int live_setup(void **state) {
        if (geteuid() != 0 || sh("command -v ip >/dev/null 2>&1") != 0)
                return 0;
        snprintf(ns_name, sizeof(ns_name), "relink-%d-dw", (int) getpid());
        snprintf(if_a, sizeof(if_a), "rlw%da", (int) getpid() % 1000000);
        snprintf(if_b, sizeof(if_b), "rlw%db", (int) getpid() % 1000000);
        if (sh("ip netns add %s && ip -n %s link add %s type veth peer name %s && "
               "ip -n %s link set %s up && ip -n %s link set %s up", ns_name, ns_name, if_a, if_b,
               ns_name, if_a, ns_name, if_b) != 0) {
                sh("ip netns del %s 2>/dev/null", ns_name);
                ns_name[0] = '\0';
        }
        return 0;
}

static int live_teardown(void **state) {
        if (ns_name[0])
                sh("ip netns del %s", ns_name);
        return 0;
}

static ino_t my_netns(void) {
        struct stat st;

        assert_int_equal(stat("/proc/thread-self/ns/net", &st), 0);
        return st.st_ino;
}

static void send_frame(int netns_fd, const uint8_t *f, size_t n) {
        struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_halen = 6 };
        int saved = -1, fd;

        assert_int_equal(netns_enter(netns_fd, &saved), 0);
        fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
        sll.sll_ifindex = (int) if_nametoindex(if_b);
        netns_leave(saved);
        assert_true(fd >= 0);
        assert_true(sll.sll_ifindex > 0);
        memcpy(sll.sll_addr, f, 6);
        assert_int_equal(sendto(fd, f, n, 0, (struct sockaddr *) &sll, sizeof(sll)), (ssize_t) n);
        close(fd);
}

/* Poll up to 2 s for one DHCP frame. */
static int wait_read(int w, struct dhcp_seen *s) {
        struct pollfd pfd = { .fd = w, .events = POLLIN };
        int r = -EAGAIN;

        for (int tries = 0; tries < 20 && r == -EAGAIN; tries++) {
                assert_true(poll(&pfd, 1, 100) >= 0);
                r = dhcpwatch_read(w, s);
        }
        return r;
}

static void test_live_watch(void **state) {
        _cleanup_close_ int netns_fd = -1, w = -1;
        char path[128];
        uint8_t f[1500];
        struct dhcp_seen s;
        ino_t before;
        size_t n;

        if (!ns_name[0])
                skip();
        snprintf(path, sizeof(path), "/run/netns/%s", ns_name);
        assert_int_equal(netns_open(path, &netns_fd), 0);
        before = my_netns();

        assert_int_equal(dhcpwatch_open(netns_fd, "nosuchif0", &w), -ENODEV);
        assert_true(my_netns() == before);
        assert_int_equal(dhcpwatch_open(netns_fd, if_a, &w), 0);
        assert_true(my_netns() == before);                 /* back where we were */
        assert_true(fcntl(w, F_GETFL) & O_NONBLOCK);
        assert_true(fcntl(w, F_GETFD) & FD_CLOEXEC);
        assert_int_equal(dhcpwatch_read(w, &s), -EAGAIN);

        /* The kernel filter: DNS and a non-first fragment never reach the socket, DHCP ports do. */
        n = build(f, sizeof(f), &(struct frame_opts) { .sport = 5353, .dport = 53, .msgtype = 1 });
        send_frame(netns_fd, f, n);
        n = build(f, sizeof(f), &(struct frame_opts) { .frag = 0x0020, .msgtype = 1 });
        send_frame(netns_fd, f, n);
        n = build(f, sizeof(f), &(struct frame_opts) { .proto = 6, .msgtype = 1 });
        send_frame(netns_fd, f, n);
        n = build(f, sizeof(f), &(struct frame_opts) { .no_cookie = true, .msgtype = 1 });
        send_frame(netns_fd, f, n);
        {
                struct pollfd pfd = { .fd = w, .events = POLLIN };
                uint8_t got[1500];

                assert_int_equal(poll(&pfd, 1, 2000), 1);
                assert_int_equal(recv(w, got, sizeof(got), 0), (ssize_t) n);   /* only the last one */
                assert_memory_equal(got, f, n);
                assert_int_equal(recv(w, got, sizeof(got), 0), -1);
                assert_int_equal(errno, EAGAIN);
        }
        /* noise the parser drops, then a real request; past DHCPWATCH_MAX_SKIP noise frames one read
         * gives up (-EAGAIN, audit row 10: bounded work per callback) and the next finds the request */
        for (int i = 0; i < DHCPWATCH_MAX_SKIP + 3; i++)
                send_frame(netns_fd, f, n);
        {
                struct pollfd pfd = { .fd = w, .events = POLLIN };

                assert_int_equal(poll(&pfd, 1, 2000), 1);
        }
        n = build(f, sizeof(f), &(struct frame_opts) { .msgtype = DHCP_REQUEST, .requested = "10.244.2.7" });
        send_frame(netns_fd, f, n);

        {
                struct pollfd pfd = { .fd = w, .events = POLLIN };

                assert_int_equal(poll(&pfd, 1, 2000), 1);
                usleep(100 * 1000);                        /* every frame queued */
        }
        assert_int_equal(dhcpwatch_read(w, &s), -EAGAIN);
        assert_int_equal(wait_read(w, &s), 0);
        assert_int_equal(s.to_guest, false);               /* the guest's side: incoming on the port */
        assert_int_equal(s.msgtype, DHCP_REQUEST);
        assert_string_equal(s.requested, "10.244.2.7");
        assert_string_equal(s.chaddr, "0a:58:0a:f4:01:05");
        assert_int_equal(dhcpwatch_read(w, &s), -EAGAIN);

        /* the filter finds UDP behind IP options; a server reply is seen too */
        n = build(f, sizeof(f), &(struct frame_opts) { .ihl = 7, .op = 2, .sport = 67, .dport = 68,
                                                       .msgtype = DHCP_ACK, .yiaddr = "10.244.2.7" });
        send_frame(netns_fd, f, n);
        assert_int_equal(wait_read(w, &s), 0);
        assert_int_equal(s.msgtype, DHCP_ACK);
        assert_string_equal(s.yiaddr, "10.244.2.7");
}

static void test_open_bad_args(void **state) {
        int fd = -1;

        assert_int_equal(dhcpwatch_open(-1, "eth0", &fd), -EINVAL);
        assert_int_equal(dhcpwatch_open(0, "", &fd), -EINVAL);
        assert_int_equal(dhcpwatch_open(0, "a-name-that-is-far-too-long", &fd), -EINVAL);
        assert_int_equal(fd, -1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_discover),
                cmocka_unit_test(test_request),
                cmocka_unit_test(test_ack),
                cmocka_unit_test(test_vlan_and_ip_options),
                cmocka_unit_test(test_unknown_options_skipped),
                cmocka_unit_test(test_bad_frames),
                cmocka_unit_test(test_fuzz),
                cmocka_unit_test(test_open_bad_args),
                cmocka_unit_test_setup_teardown(test_live_watch, live_setup, live_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
