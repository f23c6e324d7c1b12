/* SPDX-License-Identifier: MIT */
/* Domain metadata: round trip, what libvirt hands back (namespaced), hostile input. */
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
#include "trigger/metadata.h"

static void ip_set(struct record_ip *ip, const char *a, unsigned prefix, const char *gw) {
        ip->family = strchr(a, ':') ? AF_INET6 : AF_INET;
        snprintf(ip->address, sizeof(ip->address), "%s", a);
        ip->prefix = prefix;
        snprintf(ip->gateway, sizeof(ip->gateway), "%s", gw);
}

static void route_set(struct record_route *rt, const char *dst, const char *gw) {
        snprintf(rt->dst, sizeof(rt->dst), "%s", dst);
        snprintf(rt->gw, sizeof(rt->gw), "%s", gw);
}

static void sample(struct meta_nic m[2]) {
        memset(m, 0, 2 * sizeof(*m));
        snprintf(m[0].pci, sizeof(m[0].pci), "0000:01:00.0");
        snprintf(m[0].id.mac, sizeof(m[0].id.mac), "0a:58:0a:f4:01:05");
        m[0].id.mtu = 1450;
        ip_set(&m[0].id.ips[0], "10.244.1.5", 24, "10.244.1.1");
        ip_set(&m[0].id.ips[1], "fd00:10:244:1::5", 64, "");
        m[0].id.n_ips = 2;
        route_set(&m[0].id.routes[0], "0.0.0.0/0", "10.244.1.1");
        route_set(&m[0].id.routes[1], "10.96.0.0/12", "");
        route_set(&m[0].id.routes[2], "::/0", "fd00:10:244:1::1");
        m[0].id.n_routes = 3;
        snprintf(m[1].pci, sizeof(m[1].pci), "0000:00:03.0");
        snprintf(m[1].id.mac, sizeof(m[1].id.mac), "52:54:00:aa:bb:cc");
}

static void assert_meta_equal(const struct meta_nic *a, const struct meta_nic *b) {
        assert_string_equal(a->pci, b->pci);
        assert_string_equal(a->id.mac, b->id.mac);
        assert_int_equal(a->id.mtu, b->id.mtu);
        assert_int_equal(a->id.n_ips, b->id.n_ips);
        for (size_t i = 0; i < a->id.n_ips; i++) {
                assert_int_equal(a->id.ips[i].family, b->id.ips[i].family);
                assert_string_equal(a->id.ips[i].address, b->id.ips[i].address);
                assert_int_equal(a->id.ips[i].prefix, b->id.ips[i].prefix);
                assert_string_equal(a->id.ips[i].gateway, b->id.ips[i].gateway);
        }
        assert_int_equal(a->id.n_routes, b->id.n_routes);
        for (size_t i = 0; i < a->id.n_routes; i++) {
                assert_string_equal(a->id.routes[i].dst, b->id.routes[i].dst);
                assert_string_equal(a->id.routes[i].gw, b->id.routes[i].gw);
        }
        assert_true(nic_identity_equal(&a->id, &b->id));
        assert_int_equal(a->client, b->client);
        assert_int_equal(a->client_src, b->client_src);
        assert_int_equal(a->worked, b->worked);
}

static void test_round_trip(void **state) {
        static struct meta_nic in[2];
        _cleanup_free_ struct meta_nic *out = NULL;
        _cleanup_free_ char *xml = NULL;
        size_t n = 0;

        sample(in);
        assert_int_equal(metadata_encode(in, 2, &xml), 0);
        assert_non_null(strstr(xml, "<nics>"));
        assert_non_null(strstr(xml, "pci=\"0000:01:00.0\""));
        assert_null(strstr(xml, "<?xml"));
        assert_int_equal(metadata_decode(xml, &out, &n), 0);
        assert_int_equal(n, 2);
        assert_meta_equal(&in[0], &out[0]);
        assert_meta_equal(&in[1], &out[1]);
        assert_ptr_equal(metadata_find(out, n, "0000:00:03.0"), &out[1]);
        assert_ptr_equal(metadata_find(out, n, "0000:01:00.0"), &out[0]);
        assert_null(metadata_find(out, n, "0000:00:04.0"));
        assert_null(metadata_find(out, n, ""));
}

/* What relinkd knows about the guest's DHCP client and what worked travels in the same entry. */
static void test_guest_knowledge(void **state) {
        static struct meta_nic in[2];
        _cleanup_free_ struct meta_nic *out = NULL;
        _cleanup_free_ char *xml = NULL;
        size_t n = 0;

        sample(in);
        in[0].client = CLIENT_NM;
        in[0].client_src = SRC_BOOT;
        in[0].worked = WORKED_REPLUG;
        in[1].client = CLIENT_NETWORKD;
        in[1].client_src = SRC_RENEWAL;
        assert_int_equal(metadata_encode(in, 2, &xml), 0);
        assert_non_null(strstr(xml, "client=\"nm\" client-src=\"boot\" worked=\"replug\""));
        assert_non_null(strstr(xml, "client=\"networkd\" client-src=\"renewal\""));
        assert_int_equal(metadata_decode(xml, &out, &n), 0);
        assert_int_equal(n, 2);
        assert_meta_equal(&in[0], &out[0]);
        assert_meta_equal(&in[1], &out[1]);

        /* Unknown is not written at all. */
        free(xml);
        xml = NULL;
        sample(in);
        assert_int_equal(metadata_encode(in, 2, &xml), 0);
        assert_null(strstr(xml, "client"));
        assert_null(strstr(xml, "worked"));

        /* Out-of-range values are not encoded. */
        free(xml);
        xml = NULL;
        in[0].client = _CLIENT_MAX;
        assert_int_equal(metadata_encode(in, 2, &xml), -EINVAL);
        in[0].client = CLIENT_NM;
        in[0].worked = _WORKED_MAX;
        assert_int_equal(metadata_encode(in, 2, &xml), -EINVAL);
}

/* A name this version does not know (a newer relinkd wrote it) reads as unknown; the identity stays. */
static void test_guest_knowledge_lenient(void **state) {
        static const char *const xmls[] = {
                "<nics><nic pci=\"0000:00:03.0\" mac=\"0a:58:0a:f4:01:05\" client=\"plan9\" client-src=\"boot\" "
                "worked=\"magic\"/></nics>",
                "<nics><nic pci=\"0000:00:03.0\" mac=\"0a:58:0a:f4:01:05\" client=\"nm\" worked=\"\"/></nics>",
                "<nics><nic pci=\"0000:00:03.0\" mac=\"0a:58:0a:f4:01:05\" client=\"nm\" client-src=\"later\"/></nics>",
        };
        for (size_t i = 0; i < ARRAY_SIZE(xmls); i++) {
                _cleanup_free_ struct meta_nic *out = NULL;
                size_t n = 0;

                assert_int_equal(metadata_decode(xmls[i], &out, &n), 0);
                assert_int_equal(n, 1);
                assert_string_equal(out[0].id.mac, "0a:58:0a:f4:01:05");
                assert_int_equal(out[0].client, CLIENT_UNKNOWN);
                assert_int_equal(out[0].client_src, SRC_NONE);
                assert_int_equal(out[0].worked, WORKED_NONE);
        }
        {
                _cleanup_free_ struct meta_nic *out = NULL;
                size_t n = 0;

                assert_int_equal(metadata_decode("<nics><nic pci=\"0000:00:03.0\" mac=\"0a:58:0a:f4:01:05\" "
                                                 "client=\"dhclient\" client-src=\"renewal\" worked=\"flap\"/></nics>",
                                                 &out, &n), 0);
                assert_int_equal(out[0].client, CLIENT_DHCLIENT);
                assert_int_equal(out[0].client_src, SRC_RENEWAL);
                assert_int_equal(out[0].worked, WORKED_FLAP);
        }
}

static void test_empty(void **state) {
        _cleanup_free_ char *xml = NULL;
        struct meta_nic *out = NULL;
        size_t n = 9;

        assert_int_equal(metadata_encode(NULL, 0, &xml), 0);
        assert_int_equal(metadata_decode(xml, &out, &n), 0);
        assert_int_equal(n, 0);
        free(out);
}

/* applied= survives the round trip; a kind this relinkd does not know reads as not applied. */
static void test_applied(void **state) {
        static struct meta_nic in[2];
        _cleanup_free_ struct meta_nic *out = NULL, *out2 = NULL;
        _cleanup_free_ char *xml = NULL;
        size_t n = 0;

        sample(in);
        snprintf(in[0].applied, sizeof(in[0].applied), "flap");
        assert_int_equal(metadata_encode(in, 2, &xml), 0);
        assert_non_null(strstr(xml, "applied=\"flap\""));
        assert_int_equal(metadata_decode(xml, &out, &n), 0);
        assert_string_equal(out[0].applied, "flap");
        assert_string_equal(out[1].applied, "");
        assert_int_equal(metadata_decode("<nics><nic pci=\"0000:00:03.0\" mac=\"0a:58:0a:f4:01:05\" applied=\"teleport\"/></nics>",
                                         &out2, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(out2[0].applied, "");
}

/* What virDomainGetMetadata returns: the namespace declared on a prefixed root. */
static void test_namespaced(void **state) {
        static const char xml[] =
                "<relink:nics xmlns:relink=\"https://relink.dev/xmlns/relinkd/1\">\n"
                "  <relink:nic pci=\"0000:00:03.0\" mac=\"0A:58:0A:F4:01:05\" mtu=\"1500\">\n"
                "    <relink:ip address=\"10.244.1.5\" prefix=\"24\" gateway=\"10.244.1.1\"/>\n"
                "    <relink:route dst=\"0.0.0.0/0\" gw=\"10.244.1.1\"/>\n"
                "    <relink:future thing=\"ignored\"/>\n"
                "  </relink:nic>\n"
                "</relink:nics>\n";
        _cleanup_free_ struct meta_nic *out = NULL;
        size_t n = 0;

        assert_int_equal(metadata_decode(xml, &out, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(out[0].id.mac, "0a:58:0a:f4:01:05");
        assert_int_equal(out[0].id.mtu, 1500);
        assert_int_equal(out[0].id.n_ips, 1);
        assert_int_equal(out[0].id.ips[0].family, AF_INET);
        assert_string_equal(out[0].id.ips[0].gateway, "10.244.1.1");
        assert_int_equal(out[0].id.n_routes, 1);

        /* someone else's namespace is not ours */
        assert_int_equal(metadata_decode("<x:nics xmlns:x=\"urn:other\"/>", &out, &n), -EBADMSG);
}

/* Store with libvirt's own metadata API on the test driver and read it back. */
static void test_libvirt_metadata(void **state) {
        static struct meta_nic in[2];
        _cleanup_free_ struct meta_nic *out = NULL;
        _cleanup_free_ char *xml = NULL, *back = NULL, *dom = NULL;
        virConnectPtr conn;
        virDomainPtr d;
        size_t n = 0;

        sample(in);
        assert_int_equal(metadata_encode(in, 2, &xml), 0);
        virSetErrorFunc(NULL, NULL);
        conn = virConnectOpen("test:///default");
        if (!conn)
                skip();
        d = virDomainLookupByName(conn, "test");
        assert_non_null(d);
        assert_int_equal(virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, xml, RELINK_META_KEY,
                                              RELINK_META_URI, VIR_DOMAIN_AFFECT_LIVE), 0);
        back = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, RELINK_META_URI, VIR_DOMAIN_AFFECT_LIVE);
        assert_non_null(back);
        /* libvirt 9 hands the element back without its namespace; the domain XML carries it */
        dom = virDomainGetXMLDesc(d, 0);
        assert_non_null(dom);
        assert_non_null(strstr(dom, "<relink:nics xmlns:relink=\"" RELINK_META_URI "\">"));
        assert_int_equal(metadata_decode(back, &out, &n), 0);
        assert_int_equal(n, 2);
        assert_meta_equal(&in[0], &out[0]);
        assert_meta_equal(&in[1], &out[1]);
        virDomainFree(d);
        virConnectClose(conn);
}

static const struct bad {
        const char *name, *xml;
} bad[] = {
        { "not xml", "nics" },
        { "unterminated", "<nics><nic pci='0000:00:03.0' mac='0a:58:0a:f4:01:05'>" },
        { "wrong root", "<nic pci='0000:00:03.0' mac='0a:58:0a:f4:01:05'/>" },
        { "empty", "" },
        { "missing pci", "<nics><nic mac='0a:58:0a:f4:01:05'/></nics>" },
        { "bad pci", "<nics><nic pci='0000:00:03' mac='0a:58:0a:f4:01:05'/></nics>" },
        { "pci function 8", "<nics><nic pci='0000:00:03.8' mac='0a:58:0a:f4:01:05'/></nics>" },
        { "missing mac", "<nics><nic pci='0000:00:03.0'/></nics>" },
        { "bad mac", "<nics><nic pci='0000:00:03.0' mac='0a:58:0a:f4:01'/></nics>" },
        { "mtu words", "<nics><nic pci='0000:00:03.0' mac='0a:58:0a:f4:01:05' mtu='big'/></nics>" },
        { "mtu negative", "<nics><nic pci='0000:00:03.0' mac='0a:58:0a:f4:01:05' mtu='-1'/></nics>" },
        { "mtu huge", "<nics><nic pci='0000:00:03.0' mac='0a:58:0a:f4:01:05' mtu='99999999999999999999'/></nics>" },
        { "ip no address", "<nics><nic pci='0000:00:03.0' mac='0a:58:0a:f4:01:05'><ip prefix='24'/></nic></nics>" },
        { "ip no prefix", "<nics><nic pci='0000:00:03.0' mac='0a:58:0a:f4:01:05'><ip address='10.0.0.1'/></nic></nics>" },
        { "ip bad address", "<nics><nic pci='0000:00:03.0' mac='0a:58:0a:f4:01:05'><ip address='10.0.0.300' prefix='24'/></nic></nics>" },
        { "ip prefix 33", "<nics><nic pci='0000:00:03.0' mac='0a:58:0a:f4:01:05'><ip address='10.0.0.1' prefix='33'/></nic></nics>" },
        { "ip gw family", "<nics><nic pci='0000:00:03.0' mac='0a:58:0a:f4:01:05'><ip address='10.0.0.1' prefix='24' gateway='fd00::1'/></nic></nics>" },
        { "ip address too long", "<nics><nic pci='0000:00:03.0' mac='0a:58:0a:f4:01:05'><ip address='"
          "1111111111111111111111111111111111111111111111111111111111111111111111' prefix='24'/></nic></nics>" },
        { "route no dst", "<nics><nic pci='0000:00:03.0' mac='0a:58:0a:f4:01:05'><route gw='10.0.0.1'/></nic></nics>" },
        { "route bad dst", "<nics><nic pci='0000:00:03.0' mac='0a:58:0a:f4:01:05'><route dst='10.0.0.0/40'/></nic></nics>" },
        { "route bad gw", "<nics><nic pci='0000:00:03.0' mac='0a:58:0a:f4:01:05'><route dst='default' gw='x'/></nic></nics>" },
        { "duplicate pci", "<nics><nic pci='0000:00:03.0' mac='0a:58:0a:f4:01:05'/>"
          "<nic pci='0000:00:03.0' mac='0a:58:0a:f4:01:06'/></nics>" },
        /* audit row 9: any DTD is refused, internal entities are never expanded */
        { "internal entities", "<!DOCTYPE nics [<!ENTITY a 'aaaaaaaaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;'>]>"
          "<nics><nic pci='0000:00:03.0' mac='0a:58:0a:f4:01:05' mtu='&b;'/></nics>" },
        { "doctype alone", "<!DOCTYPE nics><nics><nic pci='0000:00:03.0' mac='0a:58:0a:f4:01:05'/></nics>" },
        { "external dtd", "<!DOCTYPE nics SYSTEM 'http://example.invalid/x.dtd'>"
          "<nics><nic pci='0000:00:03.0' mac='0a:58:0a:f4:01:05'/></nics>" },
};

static void test_hostile(void **state) {
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                struct meta_nic *out = NULL;
                size_t n = 0;
                int r = metadata_decode(bad[i].xml, &out, &n);

                if (r != -EBADMSG)
                        print_error("'%s': got %d\n", bad[i].name, r);
                assert_int_equal(r, -EBADMSG);
                assert_null(out);
        }
        assert_int_equal(metadata_decode(NULL, NULL, NULL), -EINVAL);
}

/* Build <nics> with `nics` entries of `ips` ips and `routes` routes each. */
static char *many(size_t nics, size_t ips, size_t routes) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        assert_non_null(f);
        fputs("<nics>", f);
        for (size_t i = 0; i < nics; i++) {
                fprintf(f, "<nic pci='0000:%02zx:%02zx.0' mac='0a:58:0a:f4:01:05'>", i / 32, i % 32);
                for (size_t j = 0; j < ips; j++)
                        fprintf(f, "<ip address='10.0.%zu.%zu' prefix='24'/>", j / 250, j % 250 + 1);
                for (size_t j = 0; j < routes; j++)
                        fprintf(f, "<route dst='10.%zu.%zu.0/24'/>", j / 250, j % 250);
                fputs("</nic>", f);
        }
        fputs("</nics>", f);
        fclose(f);
        return buf;
}

static void test_limits(void **state) {
        _cleanup_free_ char *ok = many(RELINK_META_MAX_NICS, RECORD_MAX_IPS, RECORD_MAX_ROUTES);
        _cleanup_free_ char *ips = many(1, RECORD_MAX_IPS + 1, 0);
        _cleanup_free_ char *routes = many(1, 0, RECORD_MAX_ROUTES + 1);
        _cleanup_free_ char *nics = many(RELINK_META_MAX_NICS + 1, 0, 0);
        _cleanup_free_ char *big = malloc(RELINK_META_MAX_BYTES + 16);
        _cleanup_free_ struct meta_nic *out = NULL;
        size_t n = 0;

        assert_int_equal(metadata_decode(ok, &out, &n), 0);
        assert_int_equal(n, RELINK_META_MAX_NICS);
        assert_int_equal(out[n - 1].id.n_ips, RECORD_MAX_IPS);
        assert_int_equal(out[n - 1].id.n_routes, RECORD_MAX_ROUTES);
        assert_int_equal(metadata_decode(ips, &out, &n), -EBADMSG);
        assert_int_equal(metadata_decode(routes, &out, &n), -EBADMSG);
        assert_int_equal(metadata_decode(nics, &out, &n), -EBADMSG);

        assert_non_null(big);
        memset(big, ' ', RELINK_META_MAX_BYTES + 15);
        memcpy(big, "<nics>", 6);
        memcpy(big + RELINK_META_MAX_BYTES + 8, "</nics>", 8);
        assert_int_equal(metadata_decode(big, &out, &n), -EBADMSG);
}

static void test_encode_rejects(void **state) {
        static struct meta_nic in[1];
        char *xml = NULL;

        assert_int_equal(metadata_encode(NULL, 1, &xml), -EINVAL);
        assert_int_equal(metadata_encode(in, RELINK_META_MAX_NICS + 1, &xml), -EINVAL);
        in[0].id.n_ips = RECORD_MAX_IPS + 1;
        assert_int_equal(metadata_encode(in, 1, &xml), -EINVAL);
        in[0].id.n_ips = 0;
        assert_int_equal(metadata_encode(in, 1, &xml), -EINVAL);          /* empty pci and mac */
        snprintf(in[0].pci, sizeof(in[0].pci), "0000:00:03.0");
        assert_int_equal(metadata_encode(in, 1, &xml), -EINVAL);          /* empty mac */
        snprintf(in[0].id.mac, sizeof(in[0].id.mac), "0a:58:0a:f4:01:05");
        ip_set(&in[0].id.ips[0], "10.0.0.1", 40, "");
        in[0].id.n_ips = 1;
        assert_int_equal(metadata_encode(in, 1, &xml), -EINVAL);          /* prefix > 32 */
        in[0].id.ips[0].prefix = 24;
        assert_int_equal(metadata_encode(in, 1, &xml), 0);
        free(TAKE_PTR(xml));
        assert_null(xml);
}

static void test_append(void **state) {
        struct meta_nic *nics = NULL, *m;
        size_t n = 0;

        m = metadata_append(&nics, &n);
        assert_non_null(m);
        assert_int_equal(n, 1);
        assert_string_equal(m->pci, "");
        snprintf(m->pci, sizeof(m->pci), "%s", "0000:00:02.0");
        m = metadata_append(&nics, &n);
        assert_non_null(m);
        assert_int_equal(n, 2);
        assert_ptr_equal(m, &nics[1]);
        assert_int_equal(m->id.n_ips, 0);
        assert_string_equal(nics[0].pci, "0000:00:02.0");       /* kept across the realloc */
        assert_ptr_equal(metadata_find(nics, n, "0000:00:02.0"), &nics[0]);
        free(nics);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_guest_knowledge),
                cmocka_unit_test(test_guest_knowledge_lenient),
                cmocka_unit_test(test_empty),
                cmocka_unit_test(test_namespaced),
                cmocka_unit_test(test_applied),
                cmocka_unit_test(test_libvirt_metadata),
                cmocka_unit_test(test_hostile),
                cmocka_unit_test(test_limits),
                cmocka_unit_test(test_encode_rejects),
                cmocka_unit_test(test_append),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
