/* SPDX-License-Identifier: MIT */
/* netconf/: CNI config + prevResult for every version, CNI_ARGS, VM identity, records. Table-driven. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>

#include "common/util.h"
#include "netconf/conf.h"
#include "netconf/record.h"

#define PREV_04(ver) \
        "\"prevResult\":{\"cniVersion\":\"" ver "\",\"interfaces\":[{\"name\":\"br0\",\"mac\":\"AA:00:00:00:00:01\"}," \
        "{\"name\":\"veth1\",\"mac\":\"aa:00:00:00:00:02\"},{\"name\":\"eth0\",\"mac\":\"0A:58:0A:F4:01:05\"," \
        "\"sandbox\":\"/var/run/netns/x\"}],\"ips\":[{\"version\":\"4\",\"interface\":2,\"address\":\"10.244.1.5/24\"," \
        "\"gateway\":\"10.244.1.1\"},{\"version\":\"6\",\"interface\":2,\"address\":\"FD00:0::5/64\",\"gateway\":\"fd00::1\"}," \
        "{\"version\":\"4\",\"interface\":0,\"address\":\"10.244.1.1/24\"}]," \
        "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.244.1.1\"},{\"dst\":\"::/0\"}]," \
        "\"dns\":{\"nameservers\":[\"10.96.0.10\"],\"domain\":\"cluster.local\",\"search\":[\"default.svc\"]}}"

#define PREV_10(ver) \
        "\"prevResult\":{\"cniVersion\":\"" ver "\",\"interfaces\":[{\"name\":\"veth1\",\"mac\":\"aa:00:00:00:00:02\"}," \
        "{\"name\":\"eth0\",\"mac\":\"0a:58:0a:f4:01:05\",\"sandbox\":\"/proc/1/ns/net\",\"mtu\":1400}]," \
        "\"ips\":[{\"interface\":1,\"address\":\"10.244.1.5/24\",\"gateway\":\"10.244.1.1\"}," \
        "{\"interface\":1,\"address\":\"fd00::5/64\"}],\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.244.1.1\"}]}"

static const struct version_case {
        const char *json;
        const char *version;
        int pod_iface;          /* index of eth0 */
        size_t n_ifaces, n_ips, n_pod_ips, n_routes;
} version_cases[] = {
        { "{\"cniVersion\":\"0.3.0\",\"name\":\"n\",\"type\":\"relink\"," PREV_04("0.3.0") "}", "0.3.0", 2, 3, 3, 2, 2 },
        { "{\"cniVersion\":\"0.3.1\",\"name\":\"n\",\"type\":\"relink\"," PREV_04("0.3.1") "}", "0.3.1", 2, 3, 3, 2, 2 },
        { "{\"cniVersion\":\"0.4.0\",\"name\":\"n\",\"type\":\"relink\"," PREV_04("0.4.0") "}", "0.4.0", 2, 3, 3, 2, 2 },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"relink\"," PREV_10("1.0.0") "}", "1.0.0", 1, 2, 2, 2, 1 },
        { "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"relink\"," PREV_10("1.1.0") "}", "1.1.0", 1, 2, 2, 2, 1 },
};

static void test_versions(void **state) {
        for (size_t i = 0; i < ARRAY_SIZE(version_cases); i++) {
                const struct version_case *t = &version_cases[i];
                _cleanup_(conf_freep) struct netconf *c = NULL;
                struct record r = {0};
                char err[256];

                assert_int_equal(conf_parse(t->json, strlen(t->json), &c, err, sizeof(err)), 0);
                assert_string_equal(c->cni_version, t->version);
                assert_string_equal(c->name, "n");
                assert_string_equal(c->state_dir, CONF_DEFAULT_STATE_DIR);
                assert_true(c->has_prev_result);
                assert_int_equal(c->prev.n_ifaces, t->n_ifaces);
                assert_int_equal(c->prev.n_ips, t->n_ips);
                assert_int_equal(c->prev.n_routes, t->n_routes);
                assert_int_equal(prev_result_pod_iface(&c->prev, "eth0"), t->pod_iface);
                assert_string_equal(c->prev.ifaces[t->pod_iface].mac, "0a:58:0a:f4:01:05");
                prev_result_ips_for(&c->prev, t->pod_iface, &r);
                assert_int_equal(r.n_ips, t->n_pod_ips);
                assert_string_equal(r.ips[0].address, "10.244.1.5");
                assert_int_equal(r.ips[0].prefix, 24);
                assert_int_equal(r.ips[0].family, AF_INET);
                assert_string_equal(r.ips[0].gateway, "10.244.1.1");
                assert_string_equal(r.ips[1].address, "fd00::5");      /* canonical */
                assert_int_equal(r.ips[1].family, AF_INET6);
        }
}

/* prevResult re-encoded in the config's version: ips[].version present iff < 1.0.0. */
static const struct reencode_case {
        const char *json;
        const char *want_version;
        bool want_ip_version;
} reencode_cases[] = {
        { "{\"cniVersion\":\"0.3.1\",\"name\":\"n\"," PREV_04("0.3.1") "}", "\"cniVersion\":\"0.3.1\"", true },
        { "{\"cniVersion\":\"0.4.0\",\"name\":\"n\"," PREV_04("0.4.0") "}", "\"cniVersion\":\"0.4.0\"", true },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"," PREV_04("0.4.0") "}", "\"cniVersion\":\"1.0.0\"", false },
        { "{\"cniVersion\":\"0.4.0\",\"name\":\"n\"," PREV_10("1.0.0") "}", "\"cniVersion\":\"0.4.0\"", true },
        { "{\"cniVersion\":\"1.1.0\",\"name\":\"n\"," PREV_10("1.0.0") "}", "\"cniVersion\":\"1.1.0\"", false },
        { "{\"cniVersion\":\"0.3.0\",\"name\":\"n\",\"prevResult\":{\"ips\":[{\"address\":\"fd00::1/64\"}]}}",
          "\"cniVersion\":\"0.3.0\"", true },
};

static void test_reencode(void **state) {
        for (size_t i = 0; i < ARRAY_SIZE(reencode_cases); i++) {
                const struct reencode_case *t = &reencode_cases[i];
                _cleanup_(conf_freep) struct netconf *c = NULL;
                _cleanup_free_ char *out = NULL;
                char err[256];

                assert_int_equal(conf_parse(t->json, strlen(t->json), &c, err, sizeof(err)), 0);
                assert_int_equal(conf_prev_result_json(c, &out), 0);
                assert_non_null(strstr(out, t->want_version));
                assert_int_equal(strstr(out, "\"version\":") != NULL, t->want_ip_version);
                /* nothing invented, nothing lost */
                assert_int_equal(strstr(out, "\"mtu\":1400") != NULL, strstr(t->json, "\"mtu\":1400") != NULL);
                if (strstr(t->json, "FD00:0::5/64"))
                        assert_non_null(strstr(out, "FD00:0::5/64"));   /* original text, unchanged */
                if (i == ARRAY_SIZE(reencode_cases) - 1)
                        assert_non_null(strstr(out, "\"version\":\"6\""));
                /* the tree is rewritten in place: a second encoding is identical */
                _cleanup_free_ char *again = NULL;
                assert_int_equal(conf_prev_result_json(c, &again), 0);
                assert_string_equal(out, again);
        }
}

static void test_no_prev_result(void **state) {
        static const char json[] = "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":null,\"extra\":{\"x\":1}}";
        _cleanup_(conf_freep) struct netconf *c = NULL;
        _cleanup_free_ char *out = NULL;

        assert_int_equal(conf_parse(json, strlen(json), &c, NULL, 0), 0);
        assert_false(c->has_prev_result);
        assert_int_equal(conf_prev_result_json(c, &out), -ENOENT);
}

static void test_config_keys(void **state) {
        static const char json[] =
                "{\"cniVersion\":\"1.1.0\",\"name\":\"net-1.a_b\",\"type\":\"relink\",\"stateDir\":\"/tmp/x\","
                "\"logFile\":\"/tmp/l\",\"logLevel\":\"debug\",\"unknownKey\":[1,2],"
                "\"args\":{\"cni\":{\"vm\":\"ns_explicit\",\"other\":1}},"
                "\"cni.dev/valid-attachments\":[{\"containerID\":\"c1\",\"ifname\":\"eth0\"},"
                "{\"containerID\":\"c2\",\"ifname\":\"net1\"}]}";
        _cleanup_(conf_freep) struct netconf *c = NULL;

        assert_int_equal(conf_parse(json, strlen(json), &c, NULL, 0), 0);
        assert_string_equal(c->state_dir, "/tmp/x");
        assert_string_equal(c->log_file, "/tmp/l");
        assert_string_equal(c->log_level, "debug");
        assert_string_equal(c->vm, "ns_explicit");
        assert_true(c->has_valid_attachments);
        assert_int_equal(c->n_valid, 2);
        assert_string_equal(c->valid[1].container_id, "c2");
        assert_string_equal(c->valid[1].ifname, "net1");

        static const char alias[] = "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"args\":{\"cni\":{\"relink.dev/vm\":\"a_b\"}}}";
        _cleanup_(conf_freep) struct netconf *c2 = NULL;
        assert_int_equal(conf_parse(alias, strlen(alias), &c2, NULL, 0), 0);
        assert_string_equal(c2->vm, "a_b");
}

static const struct bad_case {
        const char *json;
        int want;
} bad_cases[] = {
        { "", -EBADMSG },
        { "not json", -EBADMSG },
        { "[1,2]", -EBADMSG },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"} trailing", -EBADMSG },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"", -EBADMSG },
        { "{\"name\":\"n\"}", -EPROTONOSUPPORT },
        { "{\"cniVersion\":\"0.2.0\",\"name\":\"n\"}", -EPROTONOSUPPORT },
        { "{\"cniVersion\":\"9.9.9\",\"name\":\"n\"}", -EPROTONOSUPPORT },
        { "{\"cniVersion\":1,\"name\":\"n\"}", -EPROTONOSUPPORT },
        { "{\"cniVersion\":\"1.0.0\"}", -EINVAL },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"\"}", -EINVAL },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"../etc\"}", -EINVAL },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"a/b\"}", -EINVAL },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"stateDir\":\"relative\"}", -EINVAL },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"stateDir\":5}", -EINVAL },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":\"x\"}", -EINVAL },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":{\"ips\":{}}}", -EINVAL },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":{\"ips\":[{\"address\":\"10.0.0.1\"}]}}", -EINVAL },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":{\"ips\":[{\"address\":\"10.0.0.1/33\"}]}}", -EINVAL },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":{\"ips\":[{\"address\":\"10.0.0.1/24\",\"interface\":-1}]}}",
          -EINVAL },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":{\"routes\":[{\"dst\":\"nonsense\"}]}}", -EINVAL },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":{\"ip4\":{\"ip\":\"10.0.0.1/24\"}}}", -EINVAL },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":{\"interfaces\":[{\"name\":7}]}}", -EINVAL },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":{\"dns\":{\"nameservers\":[1]}}}", -EINVAL },
        { "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"cni.dev/valid-attachments\":{}}", -EINVAL },
        /* issue 9 row 3: "\u0000" would cut the string in C, anywhere in the document */
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"tenant\\u0000A\"}", -EINVAL },
        { "{\"cniVersion\":\"1.0.0\\u0000x\",\"name\":\"n\"}", -EINVAL },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"stateDir\":\"/run/a\\u0000/b\"}", -EINVAL },
        { "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"cni.dev/valid-attachments\":[{\"containerID\":\"c\\u0000x\","
          "\"ifname\":\"eth0\"}]}", -EINVAL },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"args\":{\"cni\":{\"vm\":\"ns_vm\\u0000x\"}}}", -EINVAL },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"x\\u0000\":1}", -EINVAL },
        /* issue 9 row 7: invalid UTF-8 (lone continuation, overlong '/', surrogate, > U+10FFFF, truncated) */
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"args\":{\"cni\":{\"vm\":\"ns_\x80\"}}}", -EBADMSG },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"stateDir\":\"/run/\xc0\xaf\"}", -EBADMSG },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"x\":\"\xed\xa0\x80\"}", -EBADMSG },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"x\":\"\xf4\x90\x80\x80\"}", -EBADMSG },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"x\":\"\xe2\x82\"}", -EBADMSG },
        /* issue 9 row 8: duplicate keys at any depth, also as Go matches them (case, KELVIN SIGN, LONG S) */
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"podnet\",\"name\":\"../../x\"}", -EINVAL },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"podnet\",\"Name\":\"other\"}", -EINVAL },
        { "{\"cniVersion\":\"1.0.0\",\"cniVersion\":\"0.4.0\",\"name\":\"n\"}", -EINVAL },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"key\":1,\"\xe2\x84\xaa" "ey\":2}", -EINVAL },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"stateDir\":\"/a\",\"\xc5\xbftateDir\":\"/b\"}", -EINVAL },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"args\":{\"cni\":{\"vm\":\"a\",\"vm\":\"b\"}}}", -EINVAL },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":{\"interfaces\":[{\"name\":\"eth0\","
          "\"name\":\"eth1\"}]}}", -EINVAL },
        { "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"cni.dev/valid-attachments\":[{\"containerID\":\"a\","
          "\"containerID\":\"b\",\"ifname\":\"eth0\"}]}", -EINVAL },
        { "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,"
          "\"h\":8,\"i\":9,\"j\":10,\"k\":11,\"l\":12,\"m\":13,\"o\":14,\"p\":15,\"q\":16,\"A\":17}", -EINVAL },
};

static void test_bad_configs(void **state) {
        for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
                struct netconf *c = NULL;
                char err[256] = "";
                int r = conf_parse(bad_cases[i].json, strlen(bad_cases[i].json), &c, err, sizeof(err));

                if (r != bad_cases[i].want)
                        fail_msg("case %zu '%s': got %d want %d (%s)", i, bad_cases[i].json, r, bad_cases[i].want, err);
                assert_null(c);
                assert_true(err[0] != '\0');
        }
        /* an embedded NUL is not JSON */
        struct netconf *c = NULL;
        assert_int_equal(conf_parse("{\"a\":1}\0{}", 10, &c, NULL, 0), -EBADMSG);
}

/* What the strict parser still accepts: an escaped backslash before "u0000", other escapes, valid
 * multi-byte UTF-8, distinct keys in large objects, equal keys in different objects. */
static void test_strict_json_accepts(void **state) {
        static const char *const good[] = {
                "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"args\":{\"cni\":{\"vm\":\"a\\\\u0000\"}}}",
                "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"args\":{\"cni\":{\"vm\":\"ns_\xc3\xa9t\xc3\xa9\xf0\x9f\x98\x80\"}}}",
                "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"x\":\"\\u0001\\ud83d\\ude00\"}",
                "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,"
                "\"h\":8,\"i\":9,\"j\":10,\"k\":11,\"l\":12,\"m\":13,\"o\":14,\"p\":15,\"q\":16,\"r\":17}",
                "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"x\":{\"name\":1},\"y\":[{\"name\":2},{\"name\":3}]}",
        };
        for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
                _cleanup_(conf_freep) struct netconf *c = NULL;
                char err[256] = "";

                if (conf_parse(good[i], strlen(good[i]), &c, err, sizeof(err)) != 0)
                        fail_msg("case %zu '%s': %s", i, good[i], err);
        }
        _cleanup_(conf_freep) struct netconf *c = NULL;
        assert_int_equal(conf_parse(good[1], strlen(good[1]), &c, NULL, 0), 0);
        assert_string_equal(c->vm, "ns_\xc3\xa9t\xc3\xa9\xf0\x9f\x98\x80");

        /* the reason names the key */
        struct netconf *d = NULL;
        char err[256] = "";
        const char *dup = "{\"cniVersion\":\"1.0.0\",\"name\":\"podnet\",\"name\":\"../../x\"}";
        assert_int_equal(conf_parse(dup, strlen(dup), &d, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "network configuration refused: duplicate key 'name'");

        /* the version an error answers in: the config's when supported, else "" */
        char v[16];
        const char *bad_name = "{\"cniVersion\":\"0.4.0\",\"name\":\"../x\"}";
        conf_peek_version(bad_name, strlen(bad_name), v, sizeof(v));
        assert_string_equal(v, "0.4.0");
        conf_peek_version("{\"cniVersion\":\"7.0.0\"}", 22, v, sizeof(v));
        assert_string_equal(v, "");
        conf_peek_version("{", 1, v, sizeof(v));
        assert_string_equal(v, "");
}

static const struct iface_case {
        const char *prev;
        const char *ifname;
        int want;
} iface_cases[] = {
        { "{\"interfaces\":[{\"name\":\"eth0\"},{\"name\":\"eth0\",\"sandbox\":\"/x\"}]}", "eth0", 1 },
        { "{\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"\"}]}", "eth0", -ENOENT },
        { "{\"interfaces\":[{\"name\":\"net1\",\"sandbox\":\"/x\"},{\"name\":\"eth0\",\"sandbox\":\"/x\"}]}", "net1", 0 },
        { "{\"interfaces\":[]}", "eth0", -ENOENT },
        { "{}", "eth0", -ENOENT },
        /* tolerated: names/MACs that cannot be a Linux pod interface keep their index and never match */
        { "{\"interfaces\":[{\"name\":\"waytoolonginterfacename\",\"sandbox\":\"/x\"},"
          "{\"name\":\"ib0\",\"mac\":\"80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:3b:51\",\"sandbox\":\"/x\"}]}",
          "ib0", 1 },
        { "{\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"/x\"}],\"dns\":{\"nameservers\":[\"not-an-ip\",\"10.0.0.1\"]}}",
          "eth0", 0 },
};

static void test_pod_iface(void **state) {
        for (size_t i = 0; i < ARRAY_SIZE(iface_cases); i++) {
                _cleanup_(conf_freep) struct netconf *c = NULL;
                char json[512];

                snprintf(json, sizeof(json), "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":%s}",
                         iface_cases[i].prev);
                assert_int_equal(conf_parse(json, strlen(json), &c, NULL, 0), 0);
                assert_int_equal(prev_result_pod_iface(&c->prev, iface_cases[i].ifname), iface_cases[i].want);
        }
}

static const struct args_case {
        const char *in;
        int want;
        const char *ns, *pod, *uid, *infra;
} args_cases[] = {
        { NULL, 0, "", "", "", "" },
        { "", 0, "", "", "", "" },
        { "IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=virt-launcher-vm1-abcde;"
          "K8S_POD_INFRA_CONTAINER_ID=0123abc;K8S_POD_UID=11-22", 0, "default", "virt-launcher-vm1-abcde", "11-22",
          "0123abc" },
        { "K8S_POD_NAMESPACE=a;;FOO=bar=baz;", 0, "a", "", "", "" },
        { "K8S_POD_NAME=", 0, "", "", "", "" },
        { "garbage", -EINVAL, NULL, NULL, NULL, NULL },
        { "A=1;=2", -EINVAL, NULL, NULL, NULL, NULL },
        { "K8S_POD_UID=0123456789012345678901234567890123456789012345678901234567890123456789", -EINVAL, NULL, NULL,
          NULL, NULL },
        /* issue 9 row 7: recorded values must be UTF-8; unknown keys are never recorded */
        { "K8S_POD_NAME=virt-launcher-\xff-abcde", -EINVAL, NULL, NULL, NULL, NULL },
        { "K8S_POD_NAMESPACE=\xc3", -EINVAL, NULL, NULL, NULL, NULL },
        { "K8S_POD_NAMESPACE=caf\xc3\xa9;OTHER=\xff", 0, "caf\xc3\xa9", "", "", "" },
};

static void test_cni_args(void **state) {
        for (size_t i = 0; i < ARRAY_SIZE(args_cases); i++) {
                const struct args_case *t = &args_cases[i];
                struct cni_args a;
                char err[128];

                assert_int_equal(cni_args_parse(t->in, &a, err, sizeof(err)), t->want);
                if (t->want < 0)
                        continue;
                assert_string_equal(a.pod_namespace, t->ns);
                assert_string_equal(a.pod_name, t->pod);
                assert_string_equal(a.pod_uid, t->uid);
                assert_string_equal(a.pod_infra_container_id, t->infra);
        }
}

static const struct vm_case {
        const char *ns, *pod, *want;
} vm_cases[] = {
        { "default", "virt-launcher-client-x7k2q", "default_client" },
        { "ns1", "virt-launcher-my-vm-2-abc12", "ns1_my-vm-2" },
        { "ns1", "virt-launcher-vm-ABCDE", "" },          /* suffix is lower case */
        { "ns1", "virt-launcher-vm-abcd", "" },           /* suffix is 5 chars */
        { "ns1", "virt-launcher--abcde", "" },            /* empty vmi */
        { "ns1", "virt-launcher-abcde", "" },
        { "ns1", "nginx-7d9c-abcde", "" },
        { "", "virt-launcher-vm-abcde", "" },
        { "ns1", "", "" },
};

static void test_vm_from_pod(void **state) {
        for (size_t i = 0; i < ARRAY_SIZE(vm_cases); i++) {
                char vm[512] = "junk";

                vm_from_pod(vm_cases[i].ns, vm_cases[i].pod, vm, sizeof(vm));
                if (!streq(vm, vm_cases[i].want))
                        fail_msg("case %zu: '%s' → '%s', want '%s'", i, vm_cases[i].pod, vm, vm_cases[i].want);
        }
}

static const struct name_case {
        const char *s;
        bool name, ifname;
} name_cases[] = {
        { "eth0", true, true },
        { "cnitool-0123ab", true, true },
        { "a_b.c-d", true, true },
        { "", false, false },
        { ".", false, false },
        { "..", false, false },
        { "../x", false, false },
        { "a/b", false, false },
        { "-x", false, true },
        { "eth0:1", false, false },
        { "eth 0", false, false },
        { "a@b", false, true },
        { "0123456789abcdef", true, false },          /* 16 bytes: too long for an ifname */
        { "eth0-nic", true, true },
        { "eth\xff", false, false },                   /* issue 9 row 7: not UTF-8 */
        { "eth\xc3", false, false },
        { "\xc3\xa9th0", false, true },                /* UTF-8 is a valid ifname byte string */
};

static void test_names(void **state) {
        char longname[RECORD_NAME_MAX + 2];

        for (size_t i = 0; i < ARRAY_SIZE(name_cases); i++) {
                if (record_name_valid(name_cases[i].s) != name_cases[i].name)
                        fail_msg("record_name_valid('%s')", name_cases[i].s);
                if (record_ifname_valid(name_cases[i].s) != name_cases[i].ifname)
                        fail_msg("record_ifname_valid('%s')", name_cases[i].s);
        }
        memset(longname, 'a', sizeof(longname));
        longname[RECORD_NAME_MAX] = '\0';
        assert_true(record_name_valid(longname));
        longname[RECORD_NAME_MAX] = 'a';
        longname[RECORD_NAME_MAX + 1] = '\0';
        assert_false(record_name_valid(longname));
        assert_false(record_name_valid(NULL));
}

static void test_record_roundtrip(void **state) {
        _cleanup_free_ struct record *r = calloc(1, sizeof(*r));
        _cleanup_free_ struct record *back = NULL;
        _cleanup_free_ char *json = NULL, *json2 = NULL;

        assert_non_null(r);
        r->schema = RECORD_SCHEMA;
        strcpy(r->network, "podnet");
        strcpy(r->container_id, "c0ffee");
        strcpy(r->ifname, "eth0");
        r->ifindex = 3;
        strcpy(r->netns_path, "/var/run/netns/p1");
        r->netns_dev = 4;
        r->netns_ino = 4026532290ULL;
        strcpy(r->mac, "0a:58:0a:f4:01:05");
        r->mtu = 1450;
        r->n_ips = 2;
        r->ips[0] = (struct record_ip){ AF_INET, "10.244.1.5", 24, "10.244.1.1" };
        r->ips[1] = (struct record_ip){ AF_INET6, "fd00::5", 64, "" };
        r->n_routes = 1;
        r->routes[0] = (struct record_route){ "0.0.0.0/0", "10.244.1.1" };
        r->dns.n_nameservers = 1;
        strcpy(r->dns.nameservers[0], "10.96.0.10");
        strcpy(r->dns.domain, "cluster.local");
        r->dns.n_search = 1;
        strcpy(r->dns.search[0], "default.svc.cluster.local");
        strcpy(r->pod_namespace, "default");
        strcpy(r->pod_name, "virt-launcher-client-x7k2q");
        strcpy(r->pod_uid, "uid-1");
        strcpy(r->pod_infra_container_id, "infra1");
        strcpy(r->vm, "default_client");
        r->policy = (struct attach_policy) { .network = POLICY_REPLUG, .vm = POLICY_FLAP, .vm_observe = true };
        strcpy(r->cni_version, "1.0.0");
        r->created = 1764110000;

        assert_int_equal(record_to_json(r, &json), 0);
        assert_non_null(strstr(json, "\"created\":\t\"2025-11-25T22:33:20Z\""));
        assert_non_null(strstr(json, "\"network\":\t\"replug\",\n\t\t\"vm\":\t\"flap\""));
        assert_int_equal(record_from_json(json, strlen(json), &back), 0);
        assert_memory_equal(r, back, sizeof(*r));
        assert_int_equal(record_to_json(back, &json2), 0);
        assert_string_equal(json, json2);
}

static const struct record_bad_case {
        const char *json;
        int want;
} record_bad_cases[] = {
        { "", -EBADMSG },
        { "{", -EBADMSG },
        { "[]", -EBADMSG },
        { "{\"network\":\"n\",\"containerID\":\"c\",\"ifname\":\"eth0\"}", -EBADMSG },
        { "{\"schema\":2,\"network\":\"n\",\"containerID\":\"c\",\"ifname\":\"eth0\"}", -EPROTONOSUPPORT },
        { "{\"schema\":1,\"network\":\"n\",\"containerID\":\"c\"}", -EBADMSG },
        { "{\"schema\":1,\"network\":\"../n\",\"containerID\":\"c\",\"ifname\":\"eth0\"}", -EBADMSG },
        { "{\"schema\":1,\"network\":\"n\",\"containerID\":\"c\",\"ifname\":\"eth0\",\"ifindex\":\"3\"}", -EBADMSG },
        { "{\"schema\":1,\"network\":\"n\",\"containerID\":\"c\",\"ifname\":\"eth0\",\"ips\":[{\"address\":\"x\"}]}",
          -EBADMSG },
        { "{\"schema\":1,\"network\":\"n\",\"containerID\":\"c\",\"ifname\":\"eth0\",\"created\":\"yesterday\"}",
          -EBADMSG },
        { "{\"schema\":1,\"network\":\"n\",\"containerID\":\"c\",\"ifname\":\"eth0\",\"future\":true}", 0 },
        { "{\"schema\":1,\"network\":\"n\",\"containerID\":\"c\",\"ifname\":\"eth0\",\"policy\":\"flap\"}", -EBADMSG },
        { "{\"schema\":1,\"network\":\"n\",\"containerID\":\"c\",\"ifname\":\"eth0\",\"policy\":{\"vm\":\"Flap\"}}",
          -EBADMSG },
        { "{\"schema\":1,\"network\":\"n\",\"containerID\":\"c\",\"ifname\":\"eth0\",\"policy\":{\"network\":1}}",
          -EBADMSG },
        { "{\"schema\":1,\"network\":\"n\",\"containerID\":\"c\",\"ifname\":\"eth0\",\"policy\":{\"vmObserve\":\"yes\"}}",
          -EBADMSG },
        { "{\"schema\":1,\"network\":\"n\",\"containerID\":\"c\",\"ifname\":\"eth0\",\"policy\":{\"network\":\"none\"}}", 0 },
        { "{\"schema\":1,\"network\":\"n\",\"containerID\":\"c\",\"ifname\":\"eth0\",\"ifname\":\"eth1\"}", -EBADMSG },
        { "{\"schema\":1,\"network\":\"n\",\"containerID\":\"c\",\"ifname\":\"eth0\",\"vm\":\"a\\u0000b\"}", -EBADMSG },
        { "{\"schema\":1,\"network\":\"n\",\"containerID\":\"c\",\"ifname\":\"eth0\",\"vm\":\"\xff\"}", -EBADMSG },
};

static void test_record_bad(void **state) {
        for (size_t i = 0; i < ARRAY_SIZE(record_bad_cases); i++) {
                _cleanup_free_ struct record *r = NULL;
                int k = record_from_json(record_bad_cases[i].json, strlen(record_bad_cases[i].json), &r);

                if (k != record_bad_cases[i].want)
                        fail_msg("case %zu: got %d want %d", i, k, record_bad_cases[i].want);
        }
}

/* Records written before policies existed read as "any, acting". */
static void test_record_without_policy(void **state) {
        static const char json[] = "{\"schema\":1,\"network\":\"n\",\"containerID\":\"c\",\"ifname\":\"eth0\"}";
        static const char some[] = "{\"schema\":1,\"network\":\"n\",\"containerID\":\"c\",\"ifname\":\"eth0\","
                                   "\"policy\":{\"network\":\"none\",\"networkObserve\":true}}";
        _cleanup_free_ struct record *r = NULL, *r2 = NULL;

        assert_int_equal(record_from_json(json, strlen(json), &r), 0);
        assert_int_equal(r->policy.network, POLICY_ANY);
        assert_int_equal(r->policy.vm, POLICY_ANY);
        assert_false(r->policy.network_observe);
        assert_false(r->policy.vm_observe);
        assert_int_equal(record_from_json(some, strlen(some), &r2), 0);
        assert_int_equal(r2->policy.network, POLICY_NONE);
        assert_int_equal(r2->policy.vm, POLICY_ANY);
        assert_true(r2->policy.network_observe);
        assert_false(r2->policy.vm_observe);
}

static void test_policy_names(void **state) {
        enum relink_policy p = POLICY_NONE;

        for (enum relink_policy q = 0; q < _POLICY_MAX; q++) {
                assert_int_equal(policy_from_string(policy_to_string(q), &p), 0);
                assert_int_equal(p, q);
        }
        assert_int_equal(policy_from_string("FLAP", &p), -EINVAL);
        assert_int_equal(policy_from_string("re-plug", &p), -EINVAL);
        assert_int_equal(policy_from_string("", &p), -EINVAL);
        assert_int_equal(policy_from_string(NULL, &p), -EINVAL);
        assert_int_equal(p, POLICY_NONE);       /* untouched on error: the last success */
}

/* relinkPolicy/relinkObserve: top level (the network) and args.cni (the VM); invalid values do not fail
 * the parse (DEL must go through) but leave policy_error, which ADD and CHECK refuse. */
static const struct policy_case {
        const char *fields;     /* spliced into the conf's top level */
        const char *cni;        /* args.cni's members */
        enum relink_policy network, vm;
        bool network_observe, vm_observe;
        const char *error;      /* substring of policy_error, NULL when valid */
} policy_cases[] = {
        { "", "", POLICY_ANY, POLICY_ANY, false, false, NULL },
        { ",\"relinkPolicy\":\"flap\"", "", POLICY_FLAP, POLICY_ANY, false, false, NULL },
        { ",\"relinkPolicy\":\"none\",\"relinkObserve\":true", "\"relinkPolicy\":\"replug\"", POLICY_NONE,
          POLICY_REPLUG, true, false, NULL },
        { "", "\"relinkPolicy\":\"flap\",\"relinkObserve\":true", POLICY_ANY, POLICY_FLAP, false, true, NULL },
        { ",\"relinkPolicy\":null", "\"relinkObserve\":false", POLICY_ANY, POLICY_ANY, false, false, NULL },
        { ",\"relinkPolicy\":\"sometimes\"", "", POLICY_ANY, POLICY_ANY, false, false,
          "relinkPolicy 'sometimes' is not one of any, flap, replug, none" },
        { ",\"relinkPolicy\":1", "", POLICY_ANY, POLICY_ANY, false, false, "relinkPolicy must be a string" },
        { ",\"relinkObserve\":\"true\"", "", POLICY_ANY, POLICY_ANY, false, false, "relinkObserve must be true or false" },
        { "", "\"relinkPolicy\":\"Flap\"", POLICY_ANY, POLICY_ANY, false, false, "args.cni.relinkPolicy 'Flap'" },
        { "", "\"relinkPolicy\":[\"flap\"]", POLICY_ANY, POLICY_ANY, false, false, "args.cni.relinkPolicy must be" },
        { "", "\"relinkObserve\":1", POLICY_ANY, POLICY_ANY, false, false, "args.cni.relinkObserve must be" },
};

static void test_conf_policy(void **state) {
        for (size_t i = 0; i < ARRAY_SIZE(policy_cases); i++) {
                const struct policy_case *t = &policy_cases[i];
                _cleanup_(conf_freep) struct netconf *c = NULL;
                _cleanup_free_ char *json = NULL;

                assert_true(asprintf(&json, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"relink\"%s,"
                                     "\"args\":{\"cni\":{%s}}}", t->fields, t->cni) > 0);
                if (conf_parse(json, strlen(json), &c, NULL, 0) != 0)
                        fail_msg("case %zu: conf_parse failed: %s", i, json);
                if (t->error) {
                        if (!strstr(c->policy_error, t->error))
                                fail_msg("case %zu: policy_error '%s', want '%s'", i, c->policy_error, t->error);
                        continue;
                }
                if (c->policy_error[0])
                        fail_msg("case %zu: unexpected policy_error '%s'", i, c->policy_error);
                assert_int_equal(c->policy.network, t->network);
                assert_int_equal(c->policy.vm, t->vm);
                assert_int_equal(c->policy.network_observe, t->network_observe);
                assert_int_equal(c->policy.vm_observe, t->vm_observe);
        }
}

static void test_error_and_version_json(void **state) {
        _cleanup_free_ char *e = NULL, *e2 = NULL, *v = NULL;

        assert_int_equal(conf_error_json("0.4.0", 7, "bad \"x\"", "d", &e), 0);
        assert_string_equal(e, "{\"cniVersion\":\"0.4.0\",\"code\":7,\"msg\":\"bad \\\"x\\\"\",\"details\":\"d\"}");
        assert_int_equal(conf_error_json(NULL, 4, "m", NULL, &e2), 0);
        assert_string_equal(e2, "{\"cniVersion\":\"1.1.0\",\"code\":4,\"msg\":\"m\"}");
        assert_int_equal(conf_version_json(&v), 0);
        assert_string_equal(v, "{\"cniVersion\":\"1.1.0\",\"supportedVersions\":[\"0.3.0\",\"0.3.1\",\"0.4.0\","
                               "\"1.0.0\",\"1.1.0\"]}");
        assert_true(conf_version_cmp("0.4.0", "1.0.0") < 0);
        assert_true(conf_version_cmp("1.1.0", "1.0.0") > 0);
        assert_int_equal(conf_version_cmp("1.0.0", "1.0.0"), 0);
        assert_int_equal(conf_version_cmp("1.0", "1.0.0"), -2);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_versions),
                cmocka_unit_test(test_reencode),
                cmocka_unit_test(test_no_prev_result),
                cmocka_unit_test(test_config_keys),
                cmocka_unit_test(test_bad_configs),
                cmocka_unit_test(test_strict_json_accepts),
                cmocka_unit_test(test_pod_iface),
                cmocka_unit_test(test_cni_args),
                cmocka_unit_test(test_vm_from_pod),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_record_roundtrip),
                cmocka_unit_test(test_record_bad),
                cmocka_unit_test(test_error_and_version_json),
                cmocka_unit_test(test_record_without_policy),
                cmocka_unit_test(test_policy_names),
                cmocka_unit_test(test_conf_policy),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
