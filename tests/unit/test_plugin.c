/* SPDX-License-Identifier: MIT */
/*
 * plugin/: the verb bodies against a real state store, and ADD/CHECK against the live loopback
 * interface of the test's own netns (root only; skipped otherwise). Table-driven where it is a decision.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/util.h"
#include "netconf/conf.h"
#include "netconf/store.h"
#include "plugin/plugin.h"

static char root[256];

static int setup(void **state) {
        snprintf(root, sizeof(root), "/tmp/relink-unit-plugin-XXXXXX");
        return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state) {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        return system(cmd) == 0 ? 0 : -1;
}

/* Run one verb with stdout silenced; returns the CNI error code (0 on success). */
static unsigned run_verb(int (*verb)(const struct cni_call *), const char *json, const char *cid, const char *netns,
                         const char *ifname, const char *cni_args) {
        _cleanup_(conf_freep) struct netconf *conf = NULL;
        struct cni_call call = { .container_id = cid, .netns = netns, .ifname = ifname, .cni_args = cni_args };
        char err[256];
        int saved, devnull, r;

        assert_int_equal(conf_parse(json, strlen(json), &conf, err, sizeof(err)), 0);
        call.conf = conf;
        cni_error_reset();
        fflush(stdout);
        saved = dup(STDOUT_FILENO);
        devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        dup2(devnull, STDOUT_FILENO);
        r = verb(&call);
        fflush(stdout);
        dup2(saved, STDOUT_FILENO);
        close(saved);
        close(devnull);
        assert_int_equal(r < 0, cni_failed());
        return cni_error_code();
}

static void conf_json(char *buf, size_t size, const char *version, const char *dir, const char *extra) {
        snprintf(buf, size, "{\"cniVersion\":\"%s\",\"name\":\"podnet\",\"type\":\"relink\",\"stateDir\":\"%s/%s\"%s%s}",
                 version, root, dir, extra[0] ? "," : "", extra);
}

static void put(const char *dir, const char *net, const char *cid, const char *ifname) {
        _cleanup_(store_closep) struct store *s = NULL;
        _cleanup_free_ struct record *r = calloc(1, sizeof(*r));
        char p[400];

        snprintf(p, sizeof(p), "%s/%s", root, dir);
        assert_int_equal(store_open(p, true, &s), 0);
        r->schema = RECORD_SCHEMA;
        strcpy(r->network, net);
        strcpy(r->container_id, cid);
        strcpy(r->ifname, ifname);
        assert_int_equal(store_put(s, r), 0);
}

static bool exists(const char *dir, const char *net, const char *cid, const char *ifname) {
        char p[600];

        snprintf(p, sizeof(p), "%s/%s/%s/%s@%s.json", root, dir, net, cid, ifname);
        return access(p, F_OK) == 0;
}

static void test_status(void **state) {
        char json[512], p[400];

        conf_json(json, sizeof(json), "1.1.0", "status/new", "");
        assert_int_equal(run_verb(verb_status, json, NULL, NULL, NULL, NULL), 0);
        snprintf(p, sizeof(p), "%s/status/file", root);
        FILE *f = fopen(p, "w");
        fclose(f);
        conf_json(json, sizeof(json), "1.1.0", "status/file/below", "");
        assert_int_equal(run_verb(verb_status, json, NULL, NULL, NULL, NULL), CNI_ERR_NOT_AVAILABLE);
}

static void test_del(void **state) {
        char json[512], p[400];

        /* no store at all: success, and nothing gets created */
        conf_json(json, sizeof(json), "1.0.0", "del-none", "");
        assert_int_equal(run_verb(verb_del, json, "c1", NULL, "eth0", NULL), 0);
        snprintf(p, sizeof(p), "%s/del-none", root);
        assert_int_not_equal(access(p, F_OK), 0);

        put("del", "podnet", "c1", "eth0");
        put("del", "podnet", "c1", "net1");
        put("del", "other", "c1", "eth0");
        conf_json(json, sizeof(json), "0.4.0", "del",
                  "\"prevResult\":{\"cniVersion\":\"0.4.0\",\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"/x\"}]}");
        assert_int_equal(run_verb(verb_del, json, "c1", "/nonexistent/netns", "eth0", NULL), 0);
        assert_false(exists("del", "podnet", "c1", "eth0"));
        assert_true(exists("del", "podnet", "c1", "net1"));
        assert_true(exists("del", "other", "c1", "eth0"));
        assert_int_equal(run_verb(verb_del, json, "c1", NULL, "eth0", NULL), 0);     /* twice */
        conf_json(json, sizeof(json), "1.0.0", "del", "");
        assert_int_equal(run_verb(verb_del, json, "c1", NULL, "net1", NULL), 0);      /* no prevResult */
        assert_false(exists("del", "podnet", "c1", "net1"));
        assert_int_equal(run_verb(verb_del, json, "c9", "", "eth0", NULL), 0);        /* no record */
        assert_int_equal(run_verb(verb_del, json, "c9", "", "eth0", "K8S_POD_NAME"), 0);  /* bad CNI_ARGS: ignored */
}

static const struct gc_case {
        const char *valid;
        bool keep_c1, keep_c2, keep_c3;
        unsigned code;
} gc_cases[] = {
        { "[{\"containerID\":\"c2\",\"ifname\":\"eth0\"}]", false, true, false, 0 },
        { "[{\"containerID\":\"c1\",\"ifname\":\"eth0\"},{\"containerID\":\"c3\",\"ifname\":\"net1\"}]", true, false,
          true, 0 },
        { "[{\"containerID\":\"c1\",\"ifname\":\"net1\"}]", false, false, false, 0 },   /* ifname matters */
        { "[]", false, false, false, 0 },
        { NULL, true, true, true, CNI_ERR_INVALID_CONFIG },
};

static void test_gc(void **state) {
        for (size_t i = 0; i < ARRAY_SIZE(gc_cases); i++) {
                const struct gc_case *t = &gc_cases[i];
                char dir[32], json[1024], extra[512];

                snprintf(dir, sizeof(dir), "gc%zu", i);
                put(dir, "podnet", "c1", "eth0");
                put(dir, "podnet", "c2", "eth0");
                put(dir, "podnet", "c3", "net1");
                put(dir, "othernet", "c1", "eth0");
                if (t->valid)
                        snprintf(extra, sizeof(extra), "\"cni.dev/valid-attachments\":%s", t->valid);
                else
                        extra[0] = '\0';
                conf_json(json, sizeof(json), "1.1.0", dir, extra);
                assert_int_equal(run_verb(verb_gc, json, NULL, NULL, NULL, NULL), t->code);
                assert_int_equal(exists(dir, "podnet", "c1", "eth0"), t->keep_c1);
                assert_int_equal(exists(dir, "podnet", "c2", "eth0"), t->keep_c2);
                assert_int_equal(exists(dir, "podnet", "c3", "net1"), t->keep_c3);
                assert_true(exists(dir, "othernet", "c1", "eth0"));             /* other networks untouched */
        }
        char json[512];
        conf_json(json, sizeof(json), "1.1.0", "gc-none", "\"cni.dev/valid-attachments\":[]");
        assert_int_equal(run_verb(verb_gc, json, NULL, NULL, NULL, NULL), 0);
}

#define LO_PREV(ip) \
        "\"prevResult\":{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"lo\",\"sandbox\":\"/proc/self/ns/net\"}]," \
        "\"ips\":[{\"interface\":0,\"address\":\"" ip "\"}],\"routes\":[{\"dst\":\"10.0.0.0/8\"}]," \
        "\"dns\":{\"nameservers\":[\"10.96.0.10\"]}}"
#define POD_ARGS "IgnoreUnknown=true;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=virt-launcher-vm1-abc12;K8S_POD_UID=u1"

static void test_add_and_check(void **state) {
        _cleanup_(store_closep) struct store *s = NULL;
        _cleanup_free_ struct record *r = NULL;
        char json[1024], p[400];

        if (geteuid() != 0)
                skip();
        conf_json(json, sizeof(json), "1.0.0", "add", LO_PREV("127.0.0.1/8"));
        assert_int_equal(run_verb(verb_add, json, "c1", "/proc/self/ns/net", "lo", POD_ARGS), 0);
        snprintf(p, sizeof(p), "%s/add", root);
        assert_int_equal(store_open(p, false, &s), 0);
        assert_int_equal(store_get(s, "podnet", "c1", "lo", &r), 0);
        assert_int_equal(r->ifindex, 1);
        assert_string_equal(r->mac, "00:00:00:00:00:00");
        assert_int_equal(r->n_ips, 1);
        assert_string_equal(r->ips[0].address, "127.0.0.1");
        assert_int_equal(r->ips[0].prefix, 8);
        assert_int_equal(r->n_routes, 1);
        assert_int_equal(r->dns.n_nameservers, 1);
        assert_string_equal(r->pod_namespace, "ns1");
        assert_string_equal(r->pod_uid, "u1");
        assert_string_equal(r->vm, "ns1_vm1");
        assert_string_equal(r->cni_version, "1.0.0");
        assert_true(r->netns_ino != 0);
        assert_true(r->created > 0);

        /* CHECK: agrees */
        assert_int_equal(run_verb(verb_check, json, "c1", "/proc/self/ns/net", "lo", POD_ARGS), 0);
        /* CHECK: prevResult names another address */
        conf_json(json, sizeof(json), "1.0.0", "add", LO_PREV("127.0.0.2/8"));
        assert_int_equal(run_verb(verb_check, json, "c1", "/proc/self/ns/net", "lo", NULL), RELINK_ERR_PREV_RESULT);
        /* CHECK: no record */
        conf_json(json, sizeof(json), "1.0.0", "add", LO_PREV("127.0.0.1/8"));
        assert_int_equal(run_verb(verb_check, json, "c2", "/proc/self/ns/net", "lo", NULL), RELINK_ERR_NO_RECORD);
        /* CHECK: the recorded ifindex is gone */
        r->ifindex = 999999;
        assert_int_equal(store_put(s, r), 0);
        assert_int_equal(run_verb(verb_check, json, "c1", "/proc/self/ns/net", "lo", NULL), RELINK_ERR_LIVE);
        /* CHECK: another netns */
        r->ifindex = 1;
        r->netns_ino++;
        assert_int_equal(store_put(s, r), 0);
        assert_int_equal(run_verb(verb_check, json, "c1", "/proc/self/ns/net", "lo", NULL), RELINK_ERR_LIVE);
        /* CHECK: MAC changed while no bridge owns the link */
        r->netns_ino--;
        strcpy(r->mac, "02:00:00:00:00:01");
        assert_int_equal(store_put(s, r), 0);
        assert_int_equal(run_verb(verb_check, json, "c1", "/proc/self/ns/net", "lo", NULL), RELINK_ERR_LIVE);
        /* CHECK needs a prevResult */
        conf_json(json, sizeof(json), "1.0.0", "add", "");
        assert_int_equal(run_verb(verb_check, json, "c1", "/proc/self/ns/net", "lo", NULL), CNI_ERR_INVALID_CONFIG);
}

static const struct add_fail_case {
        const char *extra;
        const char *netns, *ifname;
        unsigned code;
} add_fail_cases[] = {
        { "", "/proc/self/ns/net", "lo", CNI_ERR_INVALID_CONFIG },                  /* no prevResult */
        { LO_PREV("127.0.0.1/8"), "/nonexistent", "lo", CNI_ERR_INVALID_ENV },       /* netns missing */
        { LO_PREV("127.0.0.1/8"), "/etc/hostname", "lo", CNI_ERR_INVALID_ENV },      /* not a netns */
        { LO_PREV("127.0.0.1/8"), "/proc/self/ns/net", "nosuch0", CNI_ERR_IO },      /* no such interface */
};

static void test_add_failures(void **state) {
        char json[1024], p[400];

        if (geteuid() != 0)
                skip();
        for (size_t i = 0; i < ARRAY_SIZE(add_fail_cases); i++) {
                const struct add_fail_case *t = &add_fail_cases[i];
                conf_json(json, sizeof(json), "0.4.0", "addfail", t->extra);
                unsigned code = run_verb(verb_add, json, "c1", t->netns, t->ifname, NULL);
                if (code != t->code)
                        fail_msg("case %zu: code %u, want %u", i, code, t->code);
        }
        /* ADD is the verb that records CNI_ARGS, so it is the one that refuses a malformed one */
        conf_json(json, sizeof(json), "0.4.0", "addfail", LO_PREV("127.0.0.1/8"));
        assert_int_equal(run_verb(verb_add, json, "c1", "/proc/self/ns/net", "lo", "K8S_POD_NAME"), CNI_ERR_INVALID_ENV);
        snprintf(p, sizeof(p), "%s/addfail/podnet", root);
        struct stat st;
        assert_true(stat(p, &st) < 0);          /* failed ADDs wrote nothing */
}

/* No prevResult IPs: the live global addresses are recorded instead (loopback has none). */
static void test_add_live_addresses(void **state) {
        _cleanup_(store_closep) struct store *s = NULL;
        _cleanup_free_ struct record *r = NULL;
        char json[1024], p[400];

        if (geteuid() != 0)
                skip();
        conf_json(json, sizeof(json), "0.3.1", "live",
                  "\"prevResult\":{\"cniVersion\":\"0.3.1\",\"interfaces\":[],\"ips\":[]}");
        assert_int_equal(run_verb(verb_add, json, "c1", "/proc/self/ns/net", "lo", NULL), 0);
        snprintf(p, sizeof(p), "%s/live", root);
        assert_int_equal(store_open(p, false, &s), 0);
        assert_int_equal(store_get(s, "podnet", "c1", "lo", &r), 0);
        assert_int_equal(r->n_ips, 0);
        assert_int_equal(r->mtu, 65536);
        assert_string_equal(r->vm, "");

        /* ... and a global one is: ADD in a fresh netns whose loopback carries 192.0.2.7/24. */
        _cleanup_free_ struct record *r2 = NULL;
        int orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        assert_true(orig >= 0);
        assert_int_equal(unshare(CLONE_NEWNET), 0);
        int ip = system("ip addr add 192.0.2.7/24 dev lo");
        unsigned code = ip == 0 ? run_verb(verb_add, json, "c2", "/proc/thread-self/ns/net", "lo", NULL) : 999;
        assert_int_equal(setns(orig, CLONE_NEWNET), 0);   /* back before any assertion can fail */
        close(orig);
        assert_int_equal(ip, 0);
        assert_int_equal(code, 0);
        assert_int_equal(store_get(s, "podnet", "c2", "lo", &r2), 0);
        assert_int_equal(r2->n_ips, 1);
        assert_int_equal(r2->ips[0].family, AF_INET);
        assert_string_equal(r2->ips[0].address, "192.0.2.7");
        assert_int_equal(r2->ips[0].prefix, 24);
}

static void test_link_read(void **state) {
        struct link_info li;
        int fd;

        if (geteuid() != 0)
                skip();
        fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(link_read(fd, "lo", 0, true, &li), 0);
        assert_int_equal(li.ifindex, 1);
        assert_string_equal(li.name, "lo");
        assert_int_equal(link_read(fd, NULL, 1, false, &li), 0);
        assert_string_equal(li.name, "lo");
        assert_int_equal(link_read(fd, "nosuch0", 0, false, &li), -ENODEV);
        assert_int_equal(link_read(fd, NULL, 999999, false, &li), -ENODEV);
        close(fd);
}

static void test_cnierr(void **state) {
        cni_error_reset();
        assert_false(cni_failed());
        assert_int_equal(cni_fail(7, "d", "first %d", 1), -1);
        assert_int_equal(cni_fail(5, NULL, "second"), -1);          /* the first error wins */
        assert_int_equal(cni_error_code(), 7);
        cni_error_reset();
        assert_int_equal(cni_error_code(), 0);
}

/* issue 9 row 1: a logged field cannot forge a line or another field. */
static const struct quote_case {
        const char *in, *want;
} quote_cases[] = {
        { "eth0", "\"eth0\"" },
        { "", "\"\"" },
        { "a\nb\r\tc", "\"a\\nb\\r\\tc\"" },
        { "x\" vm=\"forged", "\"x\\\" vm=\\\"forged\"" },
        { "back\\slash", "\"back\\\\slash\"" },
        { "\x1b[31m\x7f", "\"\\x1b[31m\\x7f\"" },
        { "caf\xc3\xa9\xf0\x9f\x98\x80", "\"caf\xc3\xa9\xf0\x9f\x98\x80\"" },
        { "\xff\xc3(\xed\xa0\x80", "\"\\xff\\xc3(\\xed\\xa0\\x80\"" },
};

static void test_log_quote(void **state) {
        char buf[64], small[12];

        for (size_t i = 0; i < ARRAY_SIZE(quote_cases); i++)
                assert_string_equal(log_quote(buf, sizeof(buf), quote_cases[i].in), quote_cases[i].want);
        assert_string_equal(log_quote(buf, sizeof(buf), NULL), "\"\"");
        /* cut on a whole escape, still quoted */
        assert_string_equal(log_quote(small, sizeof(small), "abcdefghijklmnop"), "\"abcdef...\"");
        assert_string_equal(log_quote(small, sizeof(small), "ab\n\n\n\n\n"), "\"ab\\n\\n...\"");
        assert_string_equal(LOG_Q("a\"b"), "\"a\\\"b\"");
}

/* issue 9 rows 1, 2: the log file is a regular file with one name, never reached through a symlink. */
static void test_log_open_file(void **state) {
        char dir[] = "/tmp/relink-log-XXXXXX", path[128], other[128];
        int fd = -1;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/log", dir);
        assert_int_equal(log_open_file(path, &fd), 0);
        close(fd);
        snprintf(other, sizeof(other), "%s/link", dir);
        assert_int_equal(symlink(path, other), 0);
        assert_int_equal(log_open_file(other, &fd), -ELOOP);
        unlink(other);
        assert_int_equal(link(path, other), 0);
        assert_int_equal(log_open_file(other, &fd), -EMLINK);
        unlink(other);
        assert_int_equal(mkfifo(other, 0600), 0);
        assert_int_equal(log_open_file(other, &fd), -EBADFD);       /* no reader: never blocks */
        unlink(other);
        assert_int_equal(log_open_file("/dev/null", &fd), -EBADFD);
        assert_int_equal(log_open_file(dir, &fd), -EBADFD);
        unlink(path);
        rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_status),
                cmocka_unit_test(test_del),
                cmocka_unit_test(test_gc),
                cmocka_unit_test(test_add_and_check),
                cmocka_unit_test(test_add_failures),
                cmocka_unit_test(test_add_live_addresses),
                cmocka_unit_test(test_link_read),
                cmocka_unit_test(test_cnierr),
                cmocka_unit_test(test_log_quote),
                cmocka_unit_test(test_log_open_file),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
