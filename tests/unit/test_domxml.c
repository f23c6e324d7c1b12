/* SPDX-License-Identifier: MIT */
/* Domain XML: list NICs; edit one <interface> (link, MAC, alias) keeping everything else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "common/util.h"
#include "trigger/domxml.h"

/* As virDomainGetXMLDesc returns it for a KubeVirt bridge-bound VM (trimmed). */
static const char domain_xml[] =
        "<domain type='kvm' id='1'>\n"
        "  <name>default_vm1</name>\n"
        "  <metadata>\n"
        "    <relink:nics xmlns:relink=\"https://relink.dev/xmlns/relinkd/1\"><relink:nic pci='0000:00:03.0'/></relink:nics>\n"
        "  </metadata>\n"
        "  <devices>\n"
        "    <disk type='file' device='disk'><target dev='vda' bus='virtio'/>"
        "<address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/></disk>\n"
        "    <interface type='ethernet'>\n"
        "      <mac address='0A:58:0A:F4:01:05'/>\n"
        "      <target dev='tap0' managed='no'/>\n"
        "      <model type='virtio-non-transitional'/>\n"
        "      <mtu size='1450'/>\n"
        "      <alias name='ua-default'/>\n"
        "      <rom enabled='no'/>\n"
        "      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>\n"
        "    </interface>\n"
        "    <interface type='bridge'>\n"
        "      <mac address='52:54:00:aa:bb:cc'/>\n"
        "      <source bridge='k6t-net1'/>\n"
        "      <target dev='vnet3'/>\n"
        "      <model type='virtio'/>\n"
        "      <link state='down'/>\n"
        "      <alias name='net1'/>\n"
        "      <address type='pci' domain='0x0000' bus='0x00' slot='0x1f' function='0x7'/>\n"
        "    </interface>\n"
        "    <interface type='user'>\n"
        "      <model type='e1000'/>\n"
        "    </interface>\n"
        "  </devices>\n"
        "</domain>\n";

static void test_nics(void **state) {
        struct dom_nic *nics = NULL;
        size_t n = 0;

        assert_int_equal(domxml_nics(domain_xml, &nics, &n), 0);
        assert_int_equal(n, 3);

        assert_string_equal(nics[0].mac, "0a:58:0a:f4:01:05");
        assert_string_equal(nics[0].target, "tap0");
        assert_string_equal(nics[0].alias, "ua-default");
        assert_string_equal(nics[0].pci, "0000:01:00.0");
        assert_true(nics[0].link_up);
        assert_non_null(strstr(nics[0].xml, "<interface type=\"ethernet\">"));
        assert_non_null(strstr(nics[0].xml, "<mtu size=\"1450\"/>"));
        assert_non_null(strstr(nics[0].xml, "<rom enabled=\"no\"/>"));
        assert_non_null(strstr(nics[0].xml, "</interface>"));
        assert_null(strstr(nics[0].xml, "<disk"));
        assert_null(strstr(nics[0].xml, "<?xml"));

        assert_string_equal(nics[1].mac, "52:54:00:aa:bb:cc");
        assert_string_equal(nics[1].target, "vnet3");
        assert_string_equal(nics[1].alias, "net1");
        assert_string_equal(nics[1].pci, "0000:00:1f.7");
        assert_false(nics[1].link_up);

        assert_string_equal(nics[2].mac, "");
        assert_string_equal(nics[2].target, "");
        assert_string_equal(nics[2].pci, "");
        assert_true(nics[2].link_up);
        dom_nics_free(nics, n);
        dom_nics_free(NULL, 0);
}

static void test_nics_none_and_bad(void **state) {
        struct dom_nic *nics = NULL;
        size_t n = 7;

        assert_int_equal(domxml_nics("<domain><devices/></domain>", &nics, &n), 0);
        assert_int_equal(n, 0);
        dom_nics_free(nics, n);
        assert_int_equal(domxml_nics("<domain/>", &nics, &n), 0);
        assert_int_equal(n, 0);
        dom_nics_free(nics, n);

        assert_int_equal(domxml_nics("<domain><devices>", &nics, &n), -EBADMSG);
        assert_int_equal(domxml_nics("", &nics, &n), -EBADMSG);
        assert_int_equal(domxml_nics("<network/>", &nics, &n), -EBADMSG);
        assert_int_equal(domxml_nics("not xml at all", &nics, &n), -EBADMSG);
        assert_int_equal(domxml_nics(NULL, &nics, &n), -EINVAL);
        /* any DOCTYPE is refused: external entities are never fetched, internal ones never expanded */
        assert_int_equal(domxml_nics("<!DOCTYPE d [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
                                     "<domain><devices><interface><target dev='&x;'/></interface></devices></domain>",
                                     &nics, &n), -EBADMSG);
        assert_int_equal(domxml_nics("<!DOCTYPE d [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
                                     "<domain><devices><interface>&x;<target dev='t'/></interface></devices></domain>",
                                     &nics, &n), -EBADMSG);
        assert_int_equal(domxml_nics("<!DOCTYPE domain SYSTEM 'domain.dtd'><domain><devices/></domain>", &nics, &n),
                         -EBADMSG);
        assert_int_equal(domxml_nics("<!DOCTYPE domain><domain><devices/></domain>", &nics, &n), -EBADMSG);
}

static void test_pci_odd_addresses(void **state) {
        struct dom_nic *nics = NULL;
        size_t n = 0;

        assert_int_equal(domxml_nics("<domain><devices>"
                                     "<interface><address type='pci' bus='0x02' slot='0x01' function='0x0'/></interface>"
                                     "<interface><address type='ccw' cssid='0xfe' ssid='0x0' devno='0x0001'/></interface>"
                                     "<interface><address type='pci' domain='0x0000' bus='0x00' slot='0x40' function='0x0'/></interface>"
                                     "<interface><address type='pci' domain='0x0000' bus='zz' slot='0x1' function='0x0'/></interface>"
                                     "</devices></domain>", &nics, &n), 0);
        assert_int_equal(n, 4);
        assert_string_equal(nics[0].pci, "0000:02:01.0");    /* domain defaults to 0 */
        assert_string_equal(nics[1].pci, "");
        assert_string_equal(nics[2].pci, "");                /* slot out of range */
        assert_string_equal(nics[3].pci, "");
        dom_nics_free(nics, n);
}

static char *nic_xml(size_t i) {
        struct dom_nic *nics = NULL;
        size_t n = 0;
        char *x;

        assert_int_equal(domxml_nics(domain_xml, &nics, &n), 0);
        assert_true(i < n);
        x = TAKE_PTR(nics[i].xml);
        dom_nics_free(nics, n);
        return x;
}

/* Re-parse an edited element and compare what matters. */
static void check_nic(const char *iface, const char *mac, const char *pci, bool up, const char *alias) {
        _cleanup_free_ char *dom = NULL;
        struct dom_nic *nics = NULL;
        size_t n = 0;

        assert_true(asprintf(&dom, "<domain><devices>%s</devices></domain>", iface) > 0);
        assert_int_equal(domxml_nics(dom, &nics, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(nics[0].mac, mac);
        assert_string_equal(nics[0].pci, pci);
        assert_int_equal(nics[0].link_up, up);
        assert_string_equal(nics[0].alias, alias);
        dom_nics_free(nics, n);
}

static void test_set_link(void **state) {
        _cleanup_free_ char *orig = nic_xml(0), *down = NULL, *up = NULL, *down2 = NULL;

        assert_int_equal(ifxml_set_link(orig, false, &down), 0);
        check_nic(down, "0a:58:0a:f4:01:05", "0000:01:00.0", false, "ua-default");
        assert_non_null(strstr(down, "<link state=\"down\"/>"));
        assert_non_null(strstr(down, "<mtu size=\"1450\"/>"));
        assert_non_null(strstr(down, "<target dev=\"tap0\" managed=\"no\"/>"));
        assert_int_equal(ifxml_set_link(down, true, &up), 0);
        check_nic(up, "0a:58:0a:f4:01:05", "0000:01:00.0", true, "ua-default");
        assert_non_null(strstr(up, "<link state=\"up\"/>"));
        assert_null(strstr(up, "down"));
        /* replaces, never duplicates */
        assert_int_equal(ifxml_set_link(up, false, &down2), 0);
        assert_null(strstr(strstr(down2, "<link") + 1, "<link"));
}

static void test_set_link_existing(void **state) {
        _cleanup_free_ char *orig = nic_xml(1), *up = NULL;

        assert_int_equal(ifxml_set_link(orig, true, &up), 0);
        check_nic(up, "52:54:00:aa:bb:cc", "0000:00:1f.7", true, "net1");
        assert_null(strstr(strstr(up, "<link") + 1, "<link"));
        assert_non_null(strstr(up, "<source bridge=\"k6t-net1\"/>"));
}

static void test_set_mac(void **state) {
        _cleanup_free_ char *orig = nic_xml(0), *x = NULL, *y = NULL;

        assert_int_equal(ifxml_set_mac(orig, "0A:58:0A:F4:02:07", &x), 0);
        check_nic(x, "0a:58:0a:f4:02:07", "0000:01:00.0", true, "ua-default");
        assert_null(strstr(x, "01:05"));
        assert_non_null(strstr(x, "<address type=\"pci\" domain=\"0x0000\" bus=\"0x01\" slot=\"0x00\" function=\"0x0\"/>"));
        assert_non_null(strstr(x, "<model type=\"virtio-non-transitional\"/>"));
        assert_null(strstr(strstr(x, "<mac") + 1, "<mac"));

        /* no <mac> yet: one is added */
        assert_int_equal(ifxml_set_mac("<interface type='user'><model type='e1000'/></interface>",
                                       "0a:58:0a:f4:02:07", &y), 0);
        check_nic(y, "0a:58:0a:f4:02:07", "", true, "");
}

static void test_set_mac_bad(void **state) {
        _cleanup_free_ char *orig = nic_xml(0);
        char *x = NULL;

        assert_int_equal(ifxml_set_mac(orig, "0a:58:0a:f4:02", &x), -EINVAL);
        assert_int_equal(ifxml_set_mac(orig, "0a:58:0a:f4:02:0g", &x), -EINVAL);
        assert_int_equal(ifxml_set_mac(orig, "0a-58-0a-f4-02-07", &x), -EINVAL);
        assert_int_equal(ifxml_set_mac(orig, "\"/><x a='", &x), -EINVAL);
        assert_int_equal(ifxml_set_mac("<disk/>", "0a:58:0a:f4:02:07", &x), -EBADMSG);
        assert_int_equal(ifxml_set_mac("<interface>", "0a:58:0a:f4:02:07", &x), -EBADMSG);
        assert_int_equal(ifxml_set_link("<domain/>", true, &x), -EBADMSG);
        assert_int_equal(ifxml_set_link(NULL, true, &x), -EINVAL);
        assert_null(x);
}

static void test_strip_alias(void **state) {
        _cleanup_free_ char *user = nic_xml(0), *autoa = nic_xml(1), *a = NULL, *b = NULL, *c = NULL;

        assert_int_equal(ifxml_strip_alias(user, &a), 0);           /* user alias kept */
        check_nic(a, "0a:58:0a:f4:01:05", "0000:01:00.0", true, "ua-default");
        assert_int_equal(ifxml_strip_alias(autoa, &b), 0);          /* auto alias dropped */
        check_nic(b, "52:54:00:aa:bb:cc", "0000:00:1f.7", false, "");
        assert_null(strstr(b, "alias"));
        assert_non_null(strstr(b, "<target dev=\"vnet3\"/>"));
        assert_int_equal(ifxml_strip_alias(b, &c), 0);              /* idempotent */
        assert_string_equal(b, c);
}

/* The edited element is still a valid libvirt <interface>: define it in a domain on the
 * test driver (which has no hotplug) and read it back. */
static void test_libvirt_accepts(void **state) {
        _cleanup_free_ char *orig = nic_xml(1), *a = NULL, *b = NULL, *c = NULL, *dom = NULL, *back = NULL;
        struct dom_nic *nics = NULL;
        size_t n = 0;
        virConnectPtr conn;
        virDomainPtr d;

        assert_int_equal(ifxml_set_mac(orig, "0a:58:0a:f4:02:07", &a), 0);
        assert_int_equal(ifxml_set_link(a, false, &b), 0);
        assert_int_equal(ifxml_strip_alias(b, &c), 0);
        assert_true(asprintf(&dom, "<domain type='test'><name>relink-unit-%d</name><memory>65536</memory>"
                             "<os><type>hvm</type></os><devices>%s</devices></domain>", (int) getpid(), c) > 0);

        virSetErrorFunc(NULL, NULL);
        conn = virConnectOpen("test:///default");
        if (!conn)
                skip();
        d = virDomainDefineXML(conn, dom);
        if (!d)
                print_error("libvirt: %s\n", virGetLastErrorMessage());
        assert_non_null(d);
        back = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
        assert_non_null(back);
        assert_int_equal(domxml_nics(back, &nics, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(nics[0].mac, "0a:58:0a:f4:02:07");
        assert_string_equal(nics[0].pci, "0000:00:1f.7");
        assert_false(nics[0].link_up);
        dom_nics_free(nics, n);
        virDomainUndefine(d);
        virDomainFree(d);
        virConnectClose(conn);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_nics),
                cmocka_unit_test(test_nics_none_and_bad),
                cmocka_unit_test(test_pci_odd_addresses),
                cmocka_unit_test(test_set_link),
                cmocka_unit_test(test_set_link_existing),
                cmocka_unit_test(test_set_mac),
                cmocka_unit_test(test_set_mac_bad),
                cmocka_unit_test(test_strip_alias),
                cmocka_unit_test(test_libvirt_accepts),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
