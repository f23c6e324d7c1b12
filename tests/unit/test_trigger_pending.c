/* SPDX-License-Identifier: MIT */
/* Pending re-attach metadata: an <interface> element travels escaped and comes back byte for byte. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/util.h"
#include "trigger/pending.h"

static const char IFACE[] =
        "<interface type=\"ethernet\"><mac address=\"0a:58:0a:f4:02:07\"/><target dev=\"tap0\" managed=\"no\"/>"
        "<model type=\"virtio\"/><link state=\"up\"/><address type=\"pci\" domain=\"0x0000\" bus=\"0x00\" "
        "slot=\"0x02\" function=\"0x0\"/></interface>";

static void test_round_trip(void **state) {
        struct pending_nic in[] = {
                { "0000:00:02.0", (char *) IFACE, (char *) "<interface type='ethernet'/>", 123456789 },
                { "0000:00:03.0", (char *) "<interface type='ethernet'><mac address='aa:bb:cc:dd:ee:ff'/></interface>",
                  NULL, 0 },
        };
        struct pending_nic *out = NULL;
        size_t n = 0;
        char *xml = NULL;

        assert_int_equal(pending_encode(in, 2, &xml), 0);
        assert_non_null(strstr(xml, "&lt;interface"));   /* text, not elements */
        assert_int_equal(pending_decode(xml, &out, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(out[0].pci, "0000:00:02.0");
        assert_string_equal(out[0].iface_xml, IFACE);
        assert_string_equal(out[0].had_xml, in[0].had_xml);
        assert_int_equal(out[0].asked_ms, 123456789);
        assert_string_equal(out[1].iface_xml, in[1].iface_xml);
        assert_null(out[1].had_xml);
        assert_int_equal(out[1].asked_ms, 0);
        pending_free(out, n);
        free(xml);
}

static void test_namespaced_root(void **state) {
        /* What virDomainGetMetadata returns: the root carries libvirt's namespace declaration. */
        static const char xml[] = "<relinkp:pending xmlns:relinkp=\"" RELINK_PENDING_URI "\">"
                                  "<relinkp:nic pci=\"0000:00:02.0\">&lt;interface/&gt;</relinkp:nic></relinkp:pending>";
        struct pending_nic *out = NULL;
        size_t n = 0;

        assert_int_equal(pending_decode(xml, &out, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(out[0].iface_xml, "<interface/>");
        pending_free(out, n);
}

static void test_older_form(void **state) {
        /* Written by an older relinkd: the element to attach is the <nic>'s own text. */
        static const char xml[] = "<pending><nic pci=\"0000:00:02.0\">&lt;interface/&gt;</nic></pending>";
        struct pending_nic *out = NULL;
        size_t n = 0;

        assert_int_equal(pending_decode(xml, &out, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(out[0].iface_xml, "<interface/>");
        assert_null(out[0].had_xml);
        assert_int_equal(out[0].asked_ms, 0);
        pending_free(out, n);
}

static void test_bad(void **state) {
        static const char *const bad[] = {
                "", "<pending>", "<other/>", "<pending><nic>&lt;interface/&gt;</nic></pending>",
                "<pending><nic pci=\"0000:00:02.0\"></nic></pending>",
                "<pending><nic pci=\"0000:00:02.0-and-far-too-long\">x</nic></pending>",
                "<pending><nic pci=\"0000:00:02.0\" asked=\"-5\"><attach>x</attach></nic></pending>",
                "<pending><nic pci=\"0000:00:02.0\" asked=\"12x\"><attach>x</attach></nic></pending>",
                "<pending><nic pci=\"0000:00:02.0\"><attach>x</attach><had></had></nic></pending>",
                /* audit row 9: a DTD (here entities a thousandfold larger than the input) is refused */
                "<!DOCTYPE pending [<!ENTITY a \"&lt;interface/&gt;&lt;interface/&gt;\">"
                "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>"
                "<pending><nic pci=\"0000:00:02.0\"><attach>&c;</attach></nic></pending>",
                "<!DOCTYPE pending><pending><nic pci=\"0000:00:02.0\"><attach>x</attach></nic></pending>",
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                struct pending_nic *out = NULL;
                size_t n = 0;

                if (pending_decode(bad[i], &out, &n) != -EBADMSG)
                        fail_msg("accepted '%s'", bad[i]);
        }
        assert_int_equal(pending_decode(NULL, NULL, NULL), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_namespaced_root),
                cmocka_unit_test(test_older_form),
                cmocka_unit_test(test_bad),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
