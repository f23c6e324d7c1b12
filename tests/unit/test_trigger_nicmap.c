/* SPDX-License-Identifier: MIT */
/* NIC ↔ record matching in the pod netns: tap → master bridge → recorded port, by ifindex. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/util.h"
#include "netconf/store.h"
#include "trigger/nicmap.h"

/* Launcher pod, two networks: eth0 renamed eth0-nic (ifindex kept), net1 still named net1. */
static const struct pod_link links[] = {
        { 1, 0, "lo" },
        { 2, 0, "k6t-eth0" },
        { 3, 2, "eth0-nic" },      /* was "eth0" at CNI ADD: ifindex 3 */
        { 4, 2, "tap0" },
        { 5, 0, "k6t-net1" },
        { 6, 5, "net1-nic" },
        { 7, 5, "tap1" },
        { 8, 0, "tap9" },          /* unbridged tap */
        { 9, 10, "tapx" },         /* master 10 has no recorded port */
        { 10, 0, "k6t-other" },
        { 11, 10, "other-nic" },
};

static struct record rec_eth0 = { .network = "podnet", .ifname = "eth0", .ifindex = 3 };
static struct record rec_net1 = { .network = "net1", .ifname = "net1", .ifindex = 6 };
static struct record rec_gone = { .network = "gone", .ifname = "eth5", .ifindex = 42 };
static struct record rec_tap = { .network = "weird", .ifname = "tap0", .ifindex = 4 };

static const struct row {
        const char *tap;
        int ret;
        const struct record *want;
} rows[] = {
        { "tap0", 0, &rec_eth0 },      /* matched by ifindex although renamed */
        { "tap1", 0, &rec_net1 },
        { "tap9", -ENOENT, NULL },     /* no master */
        { "tapx", -ENOENT, NULL },     /* bridge without a recorded port */
        { "nope", -ENOENT, NULL },     /* no such tap in this netns */
        { "", -ENOENT, NULL },
};

static void test_table(void **state) {
        /* rec_tap records the tap itself: a NIC is never bound to its own tap. */
        struct record *recs[] = { &rec_gone, &rec_tap, &rec_net1, &rec_eth0 };

        for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
                size_t idx = 99;
                int r = nicmap_match(links, ARRAY_SIZE(links), rows[i].tap, recs, ARRAY_SIZE(recs), &idx);

                if (r != rows[i].ret)
                        fail_msg("tap '%s': got %d, want %d", rows[i].tap, r, rows[i].ret);
                if (rows[i].want)
                        assert_ptr_equal(recs[idx], rows[i].want);
        }
}

static void test_no_records(void **state) {
        size_t idx;

        assert_int_equal(nicmap_match(links, ARRAY_SIZE(links), "tap0", NULL, 0, &idx), -ENOENT);
}

static void put_file(const char *dir, const char *name, const char *text) {
        char p[512];
        FILE *f;

        snprintf(p, sizeof(p), "%s/%s", dir, name);
        f = fopen(p, "w");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

struct skips {
        char lines[4][512];
        unsigned n;
};

static void collect_skip(const char *network, const char *file, const char *reason, void *userdata) {
        struct skips *k = userdata;

        if (k->n < 4)
                snprintf(k->lines[k->n], sizeof(k->lines[0]), "%s/%s: %s", network, file, reason);
        k->n++;
}

static int cmp_line(const void *a, const void *b) {
        return strcmp(a, b);
}

/* Audit row 5: corrupt records are skipped, counted and each one's reason told, for relinkd to report
 * (never dropped silently). */
static void test_records_for_netns_counts_skipped(void **state) {
        struct skips k = { .n = 0 };
        char root[] = "/tmp/relink-nicmap-XXXXXX", dir[300], cmd[400];
        struct store *s = NULL;
        struct record **recs = NULL, r = {
                .schema = RECORD_SCHEMA, .network = "podnet", .container_id = "c1", .ifname = "eth0",
                .ifindex = 3, .mac = "0a:58:0a:f4:01:05", .cni_version = "1.0.0",
                .netns_dev = 7, .netns_ino = 4242,
        };
        size_t n = 99;
        unsigned skipped = 99;

        assert_non_null(mkdtemp(root));
        snprintf(dir, sizeof(dir), "%s/state", root);
        assert_int_equal(store_open(dir, true, &s), 0);
        assert_int_equal(store_put(s, &r), 0);
        snprintf(r.container_id, sizeof(r.container_id), "c2");
        r.netns_ino = 1;                                   /* another pod's netns */
        assert_int_equal(store_put(s, &r), 0);
        snprintf(dir, sizeof(dir), "%s/state/podnet", root);
        put_file(dir, "c3@eth0.json", "{ not json");
        put_file(dir, "c4@eth0.json", "{\"schema\":1,\"network\":\"podnet\",\"containerID\":\"c1\",\"ifname\":\"eth0\"}");

        store_set_skip_report(s, collect_skip, &k);
        assert_int_equal(records_for_netns(s, 7, 4242, &recs, &n, &skipped), 0);
        assert_int_equal(n, 1);
        assert_string_equal(recs[0]->container_id, "c1");
        assert_int_equal(skipped, 2);
        assert_int_equal(k.n, 2);
        qsort(k.lines, 2, sizeof(k.lines[0]), cmp_line);
        assert_string_equal(k.lines[0], "podnet/c3@eth0.json: not a valid record: Bad message");
        assert_string_equal(k.lines[1], "podnet/c4@eth0.json: names another record (expected 'c1@eth0.json')");
        store_set_skip_report(s, NULL, NULL);
        records_free(recs, n);
        assert_int_equal(records_for_netns(s, 7, 4242, &recs, &n, NULL), 0);
        assert_int_equal(n, 1);
        records_free(recs, n);
        store_close(s);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        assert_int_equal(system(cmd), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table),
                cmocka_unit_test(test_no_records),
                cmocka_unit_test(test_records_for_netns_counts_skipped),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
