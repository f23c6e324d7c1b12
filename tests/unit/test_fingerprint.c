/* SPDX-License-Identifier: MIT */
/* The guest's DHCP client from its own packets: real packets' options (parsed by dhcp_parse_frame, then
 * classified), traits on crafted lists, the skip-flap rule, names. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/util.h"
#include "trigger/dhcpwatch.h"
#include "trigger/fingerprint.h"

/* Options (after the magic cookie, through 255) of real client → server packets.
 * Debian 12 guests of the real-guest tier (guest/debian/build.sh images booted under QEMU user networking,
 * captured with -object filter-dump): systemd-networkd 252, NetworkManager 1.42 (internal client),
 * ifupdown 0.8 + isc-dhclient 4.4; DISCOVER then REQUEST (SELECTING, with option 50). */
static const char networkd_discover[] =
        "\x35\x01\x01\x3d\x13\xff\xb5\x5e\x67\xff\x00\x02\x00\x00\xab\x11\x03\x7d\x79\x6f\x86\x46\x34\xc9"
        "\x37\x09\x01\x03\x06\x0c\x0f\x21\x2a\x78\x79\x39\x02\x05\xc0\x0c\x0f\x72\x65\x6c\x69\x6e\x6b\x2d"
        "\x6e\x65\x74\x77\x6f\x72\x6b\x64\xff";
static const char networkd_request[] =
        "\x35\x01\x03\x3d\x13\xff\xb5\x5e\x67\xff\x00\x02\x00\x00\xab\x11\x03\x7d\x79\x6f\x86\x46\x34\xc9"
        "\x37\x09\x01\x03\x06\x0c\x0f\x21\x2a\x78\x79\x39\x02\x05\xc0\x36\x04\x0a\x00\x02\x02\x32\x04\x0a"
        "\x00\x02\x0f\x0c\x0f\x72\x65\x6c\x69\x6e\x6b\x2d\x6e\x65\x74\x77\x6f\x72\x6b\x64\xff";
static const char nm_discover[] =
        "\x35\x01\x01\x3d\x07\x01\x52\x54\x00\x12\x34\x56\x37\x11\x01\x02\x06\x0c\x0f\x1a\x1c\x79\x03\x21"
        "\x28\x29\x2a\x77\xf9\xfc\x11\x39\x02\x02\x40\x0c\x09\x72\x65\x6c\x69\x6e\x6b\x2d\x6e\x6d\xff";
static const char nm_request[] =
        "\x35\x01\x03\x3d\x07\x01\x52\x54\x00\x12\x34\x56\x37\x11\x01\x02\x06\x0c\x0f\x1a\x1c\x79\x03\x21"
        "\x28\x29\x2a\x77\xf9\xfc\x11\x39\x02\x02\x40\x32\x04\x0a\x00\x02\x0f\x36\x04\x0a\x00\x02\x02\x0c"
        "\x09\x72\x65\x6c\x69\x6e\x6b\x2d\x6e\x6d\xff";
static const char ifupdown_discover[] =
        "\x35\x01\x01\x0c\x0f\x72\x65\x6c\x69\x6e\x6b\x2d\x69\x66\x75\x70\x64\x6f\x77\x6e\x37\x0d\x01\x1c"
        "\x02\x03\x0f\x06\x77\x0c\x2c\x2f\x1a\x79\x2a\x3d\x13\xff\x00\x12\x34\x56\x00\x01\x00\x01\x32\xa2"
        "\x55\xf4\x52\x54\x00\x12\x34\x56\xff";
static const char ifupdown_request[] =
        "\x35\x01\x03\x36\x04\x0a\x00\x02\x02\x32\x04\x0a\x00\x02\x0f\x0c\x0f\x72\x65\x6c\x69\x6e\x6b\x2d"
        "\x69\x66\x75\x70\x64\x6f\x77\x6e\x37\x0d\x01\x1c\x02\x03\x0f\x06\x77\x0c\x2c\x2f\x1a\x79\x2a\x3d"
        "\x13\xff\x00\x12\x34\x56\x00\x01\x00\x01\x32\xa2\x55\xf4\x52\x54\x00\x12\x34\x56\xff";
/* busybox 1.35 udhcpc: its defaults, and the busybox test guest's three emulated stacks (guest/init,
 * dhcp_identity: the real clients' request lists as sets, client identifier shapes, host name, no vendor
 * class), captured on a veth. */
static const char bb_default[] =
        "\x35\x01\x01\x39\x02\x02\x40\x37\x07\x01\x03\x06\x0c\x0f\x1c\x2a\x3c\x0c\x75\x64\x68\x63\x70\x20"
        "\x31\x2e\x33\x35\x2e\x30\x3d\x07\x01\x7e\xb9\x79\x1d\xf5\xb0\xff";
static const char emu_networkd[] =
        "\x35\x01\x01\x39\x02\x02\x40\x37\x0a\x01\x03\x06\x0c\x0f\x1a\x21\x2a\x78\x79\x0c\x0f\x72\x65\x6c"
        "\x69\x6e\x6b\x2d\x6e\x65\x74\x77\x6f\x72\x6b\x64\x3d\x0f\xff\xac\x94\x96\xc6\x00\x03\x00\x01\xaa"
        "\x7a\xac\x94\x96\xc6\xff";
static const char emu_nm[] =
        "\x35\x01\x01\x39\x02\x02\x40\x37\x11\x01\x02\x03\x06\x0c\x0f\x11\x1a\x1c\x21\x28\x29\x2a\x77\x79"
        "\xf9\xfc\x0c\x09\x72\x65\x6c\x69\x6e\x6b\x2d\x6e\x6d\x3d\x07\x01\xaa\x7a\xac\x94\x96\xc6\xff";
static const char emu_ifupdown[] =
        "\x35\x01\x01\x39\x02\x02\x40\x37\x0d\x01\x02\x03\x06\x0c\x0f\x1a\x1c\x2a\x2c\x2f\x77\x79\x0c\x0f"
        "\x72\x65\x6c\x69\x6e\x6b\x2d\x69\x66\x75\x70\x64\x6f\x77\x6e\x3d\x0f\xff\xac\x94\x96\xc6\x00\x03"
        "\x00\x01\xaa\x7a\xac\x94\x96\xc6\xff";

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static void put16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) (v >> 8);
        p[1] = (uint8_t) v;
}

/* Ethernet / IPv4 / UDP 68 → 67 / BOOTP request (ciaddr set when renewing) + cookie + opts. */
static size_t frame(uint8_t *buf, size_t size, const char *opts, size_t n_opts, bool renewing) {
        size_t bootp_len = 236 + 4 + n_opts, len = 14 + 20 + 8 + bootp_len;
        uint8_t *ip = buf + 14, *udp = ip + 20, *b = udp + 8;

        assert_true(len <= size);
        memset(buf, 0, len);
        memset(buf, 0xff, 6);
        memcpy(buf + 6, guest_mac, 6);
        put16(buf + 12, 0x0800);
        ip[0] = 0x45;
        put16(ip + 2, (uint16_t) (20 + 8 + bootp_len));
        ip[8] = 64;
        ip[9] = 17;
        put16(udp, 68);
        put16(udp + 2, 67);
        put16(udp + 4, (uint16_t) (8 + bootp_len));
        b[0] = 1;
        b[1] = 1;
        b[2] = 6;
        if (renewing)
                memcpy(b + 12, "\x0a\x00\x02\x0f", 4);
        memcpy(b + 28, guest_mac, 6);
        memcpy(b + 236, "\x63\x82\x53\x63", 4);
        memcpy(b + 240, opts, n_opts);
        return len;
}

#define OPTS(x) x, sizeof(x) - 1

static enum guest_client classify(const char *opts, size_t n, enum client_src *src) {
        uint8_t buf[1024];
        struct dhcp_seen s;
        size_t len = frame(buf, sizeof(buf), opts, n, false);

        assert_int_equal(dhcp_parse_frame(buf, len, &s), 0);
        *src = SRC_NONE;
        return fingerprint_classify(&s, src);
}

static void test_real_packets(void **state) {
        static const struct {
                const char *name, *opts;
                size_t n;
                enum guest_client want;
                enum client_src src;
        } t[] = {
                { "networkd discover", OPTS(networkd_discover), CLIENT_NETWORKD, SRC_BOOT },
                { "networkd request", OPTS(networkd_request), CLIENT_NETWORKD, SRC_BOOT },
                { "nm discover", OPTS(nm_discover), CLIENT_NM, SRC_BOOT },
                { "nm request", OPTS(nm_request), CLIENT_NM, SRC_BOOT },
                { "dhclient discover", OPTS(ifupdown_discover), CLIENT_DHCLIENT, SRC_BOOT },
                { "dhclient request", OPTS(ifupdown_request), CLIENT_DHCLIENT, SRC_BOOT },
                { "udhcpc defaults", OPTS(bb_default), CLIENT_UDHCPC, SRC_BOOT },
                { "busybox guest as networkd", OPTS(emu_networkd), CLIENT_NETWORKD, SRC_BOOT },
                { "busybox guest as nm", OPTS(emu_nm), CLIENT_NM, SRC_BOOT },
                { "busybox guest as ifupdown", OPTS(emu_ifupdown), CLIENT_DHCLIENT, SRC_BOOT },
        };
        (void) state;
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                enum client_src src;
                enum guest_client c = classify(t[i].opts, t[i].n, &src);

                if (c != t[i].want || src != t[i].src)
                        fail_msg("%s: client=%s src=%s, want %s %s", t[i].name, client_to_string(c),
                                 client_src_to_string(src), client_to_string(t[i].want),
                                 client_src_to_string(t[i].src));
        }
}

/* What the parser keeps of a real packet: the order of the options and the request list in its order. */
static void test_parse_fields(void **state) {
        static const uint8_t want_opts[] = { 53, 12, 55, 61 };
        static const uint8_t want_prl[] = { 1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42 };
        uint8_t buf[1024];
        struct dhcp_seen s;
        size_t len;

        (void) state;
        len = frame(buf, sizeof(buf), OPTS(ifupdown_discover), false);
        assert_int_equal(dhcp_parse_frame(buf, len, &s), 0);
        assert_int_equal(s.msgtype, DHCP_DISCOVER);
        assert_int_equal(s.n_opts, sizeof(want_opts));
        assert_memory_equal(s.opts, want_opts, sizeof(want_opts));
        assert_true(s.has_prl);
        assert_int_equal(s.n_prl, sizeof(want_prl));
        assert_memory_equal(s.prl, want_prl, sizeof(want_prl));
        assert_int_equal(s.client_id_type, 255);
        assert_int_equal(s.client_id_len, 19);
        assert_true(s.has_hostname);
        assert_false(s.has_vendor);

        len = frame(buf, sizeof(buf), OPTS(bb_default), false);
        assert_int_equal(dhcp_parse_frame(buf, len, &s), 0);
        assert_true(s.has_vendor);
        assert_string_equal(s.vendor, "udhcp 1.35.0");
        assert_int_equal(s.client_id_type, 1);
        assert_false(s.has_hostname);
}

/* A renewal (REQUEST without option 50, ciaddr set): the real networkd REQUEST minus 54 and 50. */
static void test_renewal(void **state) {
        static const char renew[] =
                "\x35\x01\x03\x3d\x13\xff\xb5\x5e\x67\xff\x00\x02\x00\x00\xab\x11\x03\x7d\x79\x6f\x86\x46\x34\xc9"
                "\x37\x09\x01\x03\x06\x0c\x0f\x21\x2a\x78\x79\x39\x02\x05\xc0\x0c\x0f\x72\x65\x6c\x69\x6e\x6b\x2d"
                "\x6e\x65\x74\x77\x6f\x72\x6b\x64\xff";
        uint8_t buf[1024];
        struct dhcp_seen s;
        enum client_src src = SRC_NONE;
        size_t len = frame(buf, sizeof(buf), OPTS(renew), true);

        (void) state;
        assert_int_equal(dhcp_parse_frame(buf, len, &s), 0);
        assert_int_equal(fingerprint_classify(&s, &src), CLIENT_NETWORKD);
        assert_int_equal(src, SRC_RENEWAL);
}

/* Crafted option lists: each trait alone, and what must stay unknown. */
static void test_traits(void **state) {
        static const struct {
                const char *name, *opts;
                size_t n;
                enum guest_client want;
        } t[] = {
                { "249+252 → nm (any order, any client id)",
                  OPTS("\x35\x01\x01\x37\x04\xfc\x01\xf9\x03\x3d\x03\xff\x01\x02\xff"), CLIENT_NM },
                { "249 alone is not nm", OPTS("\x35\x01\x01\x37\x03\x01\x03\xf9\xff"), CLIENT_UNKNOWN },
                { "44+47 → dhclient", OPTS("\x35\x01\x01\x37\x04\x01\x03\x2c\x2f\xff"), CLIENT_DHCLIENT },
                { "120 → networkd", OPTS("\x35\x01\x01\x37\x03\x01\x03\x78\xff"), CLIENT_NETWORKD },
                { "client id 255 before 55 → networkd",
                  OPTS("\x35\x01\x01\x3d\x03\xff\x01\x02\x37\x02\x01\x03\xff"), CLIENT_NETWORKD },
                { "client id 255 after 55 (dhclient's place) → unknown",
                  OPTS("\x35\x01\x01\x37\x02\x01\x03\x3d\x03\xff\x01\x02\xff"), CLIENT_UNKNOWN },
                { "client id 1 before 55 → unknown", OPTS("\x35\x01\x01\x3d\x02\x01\x02\x37\x02\x01\x03\xff"),
                  CLIENT_UNKNOWN },
                { "no request list → unknown", OPTS("\x35\x01\x01\x3d\x02\x01\x02\xff"), CLIENT_UNKNOWN },
                { "dhcpcd vendor", OPTS("\x35\x01\x01\x3c\x0c" "dhcpcd-9.4.1" "\x37\x02\x01\x03\xff"), CLIENT_DHCPCD },
                { "MSFT vendor", OPTS("\x35\x01\x01\x3c\x08" "MSFT 5.0" "\x37\x02\x01\x03\xff"), CLIENT_WINDOWS },
                { "an unknown vendor hides the traits",
                  OPTS("\x35\x01\x01\x3c\x03" "foo" "\x37\x02\xf9\xfc\xff"), CLIENT_UNKNOWN },
                { "exact networkd list beats a vendor class",
                  OPTS("\x35\x01\x01\x3c\x03" "foo" "\x37\x09\x01\x03\x06\x0c\x0f\x21\x2a\x78\x79\xff"),
                  CLIENT_NETWORKD },
                { "a RELEASE says nothing", OPTS("\x35\x01\x07\x37\x02\xf9\xfc\xff"), CLIENT_UNKNOWN },
                { "an INFORM says nothing", OPTS("\x35\x01\x08\x37\x02\xf9\xfc\xff"), CLIENT_UNKNOWN },
        };
        (void) state;
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                enum client_src src;
                enum guest_client c = classify(t[i].opts, t[i].n, &src);

                if (c != t[i].want)
                        fail_msg("%s: client=%s, want %s", t[i].name, client_to_string(c), client_to_string(t[i].want));
                if (c == CLIENT_UNKNOWN && src != SRC_NONE)
                        fail_msg("%s: src set for an unknown client", t[i].name);
        }
}

/* A server's reply is never the client's fingerprint. */
static void test_reply_ignored(void **state) {
        struct dhcp_seen s = { .op = 2, .msgtype = DHCP_ACK, .client_id_type = -1, .has_prl = true, .n_prl = 2,
                               .prl = { 249, 252 } };
        enum client_src src = SRC_NONE;

        (void) state;
        assert_int_equal(fingerprint_classify(&s, &src), CLIENT_UNKNOWN);
        assert_int_equal(src, SRC_NONE);
        assert_int_equal(fingerprint_classify(NULL, NULL), CLIENT_UNKNOWN);
}

static void test_skip_flap(void **state) {
        static const struct {
                enum guest_client client;
                enum worked worked;
                bool skip;
                const char *why;
        } t[] = {
                { CLIENT_NM, WORKED_NONE, true, "client=nm" },
                { CLIENT_DHCLIENT, WORKED_NONE, true, "client=dhclient" },
                { CLIENT_NETWORKD, WORKED_NONE, false, "client=networkd" },
                { CLIENT_UNKNOWN, WORKED_NONE, false, "client=unknown" },
                { CLIENT_UDHCPC, WORKED_NONE, false, "client=udhcpc" },
                { CLIENT_DHCPCD, WORKED_NONE, false, "client=dhcpcd" },
                { CLIENT_WINDOWS, WORKED_NONE, false, "client=windows" },
                { CLIENT_UNKNOWN, WORKED_REPLUG, true, "worked=replug" },
                { CLIENT_NETWORKD, WORKED_REPLUG, true, "worked=replug" },
                { CLIENT_NM, WORKED_FLAP, false, "worked=flap" },
                { _CLIENT_MAX, WORKED_NONE, false, "client=unknown" },
        };
        (void) state;
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                const char *why = NULL;

                assert_int_equal(fingerprint_skip_flap(t[i].client, t[i].worked, &why), t[i].skip);
                assert_string_equal(why, t[i].why);
        }
        assert_true(fingerprint_skip_flap(CLIENT_NM, WORKED_NONE, NULL));
}

static void test_names(void **state) {
        (void) state;
        for (int c = 0; c < _CLIENT_MAX; c++) {
                enum guest_client back;

                assert_int_equal(client_from_string(client_to_string(c), &back), 0);
                assert_int_equal(back, c);
        }
        for (int s = 0; s < _SRC_MAX; s++) {
                enum client_src back;

                assert_int_equal(client_src_from_string(client_src_to_string(s), &back), 0);
                assert_int_equal(back, s);
        }
        for (int w = 0; w < _WORKED_MAX; w++) {
                enum worked back;

                assert_int_equal(worked_from_string(worked_to_string(w), &back), 0);
                assert_int_equal(back, w);
        }
        enum guest_client c;
        assert_int_equal(client_from_string("NM", &c), -EINVAL);
        assert_int_equal(client_from_string("", &c), -EINVAL);
        assert_int_equal(client_from_string(NULL, &c), -EINVAL);
        assert_string_equal(client_to_string(_CLIENT_MAX), "?");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_real_packets),
                cmocka_unit_test(test_parse_fields),
                cmocka_unit_test(test_renewal),
                cmocka_unit_test(test_traits),
                cmocka_unit_test(test_reply_ignored),
                cmocka_unit_test(test_skip_flap),
                cmocka_unit_test(test_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
