/* SPDX-License-Identifier: MIT */
/* The DHCP probe's pure parts: MAC parsing, the DISCOVER frame, OFFER matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>

#include "common/util.h"
#include "trigger/dhcpprobe.h"
#include "trigger/dhcpwatch.h"

static const uint8_t BR[6] = { 0x5e, 0x10, 0x20, 0x30, 0x40, 0x50 };     /* the bridge */
static const uint8_t SRC[6] = { 0x06, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };    /* the probe's free end */
static const uint8_t VM[6] = { 0x02, 0x5a, 0x7e, 0x00, 0x00, 0x07 };     /* a candidate */

static void test_mac_parse(void **state) {
        static const struct { const char *in; int r; uint8_t out[6]; } rows[] = {
                { "02:5a:7e:00:00:07", 0, { 0x02, 0x5a, 0x7e, 0x00, 0x00, 0x07 } },
                { "0A:58:0a:F4:01:05", 0, { 0x0a, 0x58, 0x0a, 0xf4, 0x01, 0x05 } },
                { "ff:ff:ff:ff:ff:ff", 0, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } },
                { "02:5a:7e:00:00", -EINVAL, { 0 } },
                { "02:5a:7e:00:00:07:", -EINVAL, { 0 } },
                { "02:5a:7e:00:00:0", -EINVAL, { 0 } },
                { "02-5a-7e-00-00-07", -EINVAL, { 0 } },
                { "02:5a:7e:00:00:0g", -EINVAL, { 0 } },
                { "025a7e000007", -EINVAL, { 0 } },
                { "", -EINVAL, { 0 } },
        };
        uint8_t m[6];

        for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
                memset(m, 0x99, sizeof(m));
                assert_int_equal(mac_parse(rows[i].in, m), rows[i].r);
                if (rows[i].r == 0)
                        assert_memory_equal(m, rows[i].out, 6);
                else
                        assert_int_equal(m[0], 0x99);          /* untouched on error */
        }
        assert_int_equal(mac_parse(NULL, m), -EINVAL);
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum) {
        for (; len > 1; p += 2, len -= 2)
                sum += (uint32_t) (p[0] << 8 | p[1]);
        if (len)
                sum += (uint32_t) (p[0] << 8);
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return sum;
}

static void test_discover_frame(void **state) {
        uint8_t f[600];
        const uint8_t *ip = f + 14, *udp = f + 34, *bootp = f + 42, *o;
        struct dhcp_seen s;
        uint32_t pseudo;
        int len;
        bool have55 = false;

        assert_int_equal(dhcp_discover_build(f, 100, BR, SRC, VM, 1), -ENOBUFS);
        memset(f, 0xee, sizeof(f));
        len = dhcp_discover_build(f, sizeof(f), BR, SRC, VM, 0x1234abcd);
        assert_int_equal(len, 14 + 20 + 8 + 300);

        /* Ethernet: to the bridge, from the probe port's own MAC (never the candidate), IPv4 */
        assert_memory_equal(f, BR, 6);
        assert_memory_equal(f + 6, SRC, 6);
        assert_int_equal(f[12] << 8 | f[13], 0x0800);
        /* IPv4: 0.0.0.0 → 255.255.255.255, UDP, header checksum verifies */
        assert_int_equal(ip[0], 0x45);
        assert_int_equal(ip[2] << 8 | ip[3], 328);
        assert_int_equal(ip[9], 17);
        assert_int_equal(ip[12] | ip[13] | ip[14] | ip[15], 0);
        assert_int_equal(ip[16] & ip[17] & ip[18] & ip[19], 0xff);
        assert_int_equal(sum16(ip, 20, 0), 0xffff);
        /* UDP 68 → 67, length, checksum over the pseudo header verifies */
        assert_int_equal(udp[0] << 8 | udp[1], 68);
        assert_int_equal(udp[2] << 8 | udp[3], 67);
        assert_int_equal(udp[4] << 8 | udp[5], 308);
        assert_int_not_equal(udp[6] << 8 | udp[7], 0);
        pseudo = sum16(ip + 12, 8, 17 + 308);
        assert_int_equal(sum16(udp, 308, pseudo), 0xffff);
        /* BOOTP: request, xid, broadcast flag, ciaddr 0, chaddr = candidate, cookie */
        assert_int_equal(bootp[0], 1);
        assert_int_equal(bootp[10], 0x80);
        assert_int_equal(bootp[11], 0x00);
        assert_memory_equal(bootp + 28, VM, 6);
        /* options: 53 = DISCOVER, 55 present, no 61 (client id) and no 50 (requested address) */
        for (o = bootp + 240; *o != 255; o += 2 + o[1]) {
                assert_true(o < f + len);
                assert_int_not_equal(o[0], 61);
                assert_int_not_equal(o[0], 50);
                if (o[0] == 55)
                        have55 = true;
        }
        assert_true(have55);
        /* and relinkd's own parser reads it back */
        assert_int_equal(dhcp_parse_frame(f, (size_t) len, &s), 0);
        assert_int_equal(s.msgtype, DHCP_DISCOVER);
        assert_int_equal(s.op, 1);
        assert_int_equal(s.xid, 0x1234abcd);
        assert_string_equal(s.chaddr, "02:5a:7e:00:00:07");
        assert_memory_equal(s.eth_src, SRC, 6);
        assert_string_equal(s.requested, "");
}

static void test_offer_matches(void **state) {
        struct dhcp_seen ok = { .op = 2, .msgtype = DHCP_OFFER, .chaddr = "02:5a:7e:00:00:07",
                                .yiaddr = "10.244.2.7", .xid = 0xdeadbeef };
        struct dhcp_seen s;

        memcpy(ok.eth_src, BR, 6);
        assert_true(dhcp_offer_matches(&ok, 0xdeadbeef, "02:5a:7e:00:00:07", BR));
        assert_true(dhcp_offer_matches(&ok, 0xdeadbeef, "02:5A:7E:00:00:07", BR));    /* MAC case */
        assert_true(dhcp_offer_matches(&ok, 0xdeadbeef, "02:5a:7e:00:00:07", NULL));  /* any source */
        assert_false(dhcp_offer_matches(&ok, 0xdeadbeee, "02:5a:7e:00:00:07", BR));   /* other xid */
        assert_false(dhcp_offer_matches(&ok, 0xdeadbeef, "0a:58:0a:f4:02:07", BR));   /* other chaddr */
        assert_false(dhcp_offer_matches(&ok, 0xdeadbeef, "02:5a:7e:00:00:07", SRC));  /* not from the bridge */
        s = ok;
        s.msgtype = DHCP_ACK;
        assert_false(dhcp_offer_matches(&s, 0xdeadbeef, "02:5a:7e:00:00:07", BR));
        s.msgtype = DHCP_NAK;
        assert_false(dhcp_offer_matches(&s, 0xdeadbeef, "02:5a:7e:00:00:07", BR));
        s = ok;
        s.op = 1;                                          /* a request claiming to be an OFFER */
        assert_false(dhcp_offer_matches(&s, 0xdeadbeef, "02:5a:7e:00:00:07", BR));
}

static void never_called(const struct probe_result *res, void *opaque) {
        fail_msg("done called for a probe that never started");
}

static void test_start_rejects_bad_arguments(void **state) {
        const char *one[] = { "02:5a:7e:00:00:07" }, *bad[] = { "02:5a:7e:00:00" };
        const char *three[] = { "02:5a:7e:00:00:07", "02:5a:7e:00:00:08", "02:5a:7e:00:00:09" };
        struct dhcpprobe *p = NULL;

        assert_int_equal(dhcpprobe_start(-1, "tap0", one, 1, 400, never_called, NULL, &p), -EINVAL);
        assert_int_equal(dhcpprobe_start(0, "", one, 1, 400, never_called, NULL, &p), -EINVAL);
        assert_int_equal(dhcpprobe_start(0, "a-name-too-long-for-ifnamsiz", one, 1, 400, never_called,
                                         NULL, &p), -EINVAL);
        assert_int_equal(dhcpprobe_start(0, "tap0", one, 0, 400, never_called, NULL, &p), -EINVAL);
        assert_int_equal(dhcpprobe_start(0, "tap0", three, 3, 400, never_called, NULL, &p), -EINVAL);
        assert_int_equal(dhcpprobe_start(0, "tap0", bad, 1, 400, never_called, NULL, &p), -EINVAL);
        assert_int_equal(dhcpprobe_start(0, "tap0", one, 1, 0, never_called, NULL, &p), -EINVAL);
        assert_null(p);
        assert_string_equal(dhcpprobe_strerror(-ENOLINK), "the tap has no master (not a bridge binding)");
        assert_string_equal(dhcpprobe_strerror(-EMEDIUMTYPE), "the tap's master is not a bridge");
        assert_string_equal(dhcpprobe_strerror(-ENODEV), "no such tap in the pod netns");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_mac_parse),
                cmocka_unit_test(test_discover_frame),
                cmocka_unit_test(test_offer_matches),
                cmocka_unit_test(test_start_rejects_bad_arguments),
        };
        return cmocka_run_group_tests_name("dhcpprobe", tests, NULL, NULL);
}
