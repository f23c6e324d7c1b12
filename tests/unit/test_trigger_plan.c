/* SPDX-License-Identifier: MIT */
/* relinkd's per-NIC plan: first sight, quiet reconcile, or a decision — the crash-safety rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/util.h"
#include "trigger/reconcile.h"

#define MAC_A "0a:58:0a:f4:01:05"
#define MAC_B "0a:58:0a:f4:02:07"

static const struct record rec_src = {
        .mac = MAC_A, .mtu = 1500, .n_ips = 1,
        .ips = { { .family = AF_INET, .address = "10.244.1.5", .prefix = 24, .gateway = "10.244.1.1" } },
};
static const struct record rec_dst = {
        .mac = MAC_A, .mtu = 1500, .n_ips = 1,
        .ips = { { .family = AF_INET, .address = "10.244.2.7", .prefix = 24, .gateway = "10.244.2.1" } },
};
static const struct record rec_dst_mac = {
        .mac = MAC_B, .mtu = 1500, .n_ips = 1,
        .ips = { { .family = AF_INET, .address = "10.244.2.7", .prefix = 24, .gateway = "10.244.2.1" } },
};

enum had { HAD_NONE, HAD_SRC, HAD_DST };

static const struct row {
        const char *name;
        bool event, migrated_in;
        enum had had;
        const struct record *now;
        enum nic_plan want;
        enum action kind;
} rows[] = {
        /* boot, or relinkd meets a running domain that was never migrated: record it */
        { "boot: first sight",                       false, false, HAD_NONE, &rec_src, PLAN_FIRST_SIGHT, 0 },
        /* migration event */
        { "migrated, no metadata: assume changed",    true,  true,  HAD_NONE, &rec_dst, PLAN_DECIDED, ACTION_FLAP },
        { "migrated, ip changed: flap",               true,  true,  HAD_SRC,  &rec_dst, PLAN_DECIDED, ACTION_FLAP },
        { "migrated, mac changed: reattach",          true,  true,  HAD_SRC,  &rec_dst_mac, PLAN_DECIDED, ACTION_REATTACH },
        { "migrated, unchanged: logged none",         true,  true,  HAD_SRC,  &rec_src, PLAN_DECIDED, ACTION_NONE },
        /* restart after SIGKILL right after a migration: reconcile by state reason */
        { "reconcile, migrated, stale metadata: act", false, true,  HAD_SRC,  &rec_dst, PLAN_DECIDED, ACTION_FLAP },
        { "reconcile, migrated, no metadata: act",    false, true,  HAD_NONE, &rec_dst, PLAN_DECIDED, ACTION_FLAP },
        { "reconcile, handled: quiet",                false, true,  HAD_DST,  &rec_dst, PLAN_QUIET, 0 },
        /* handled keeping the NIC's MAC (the target served it): the record's MAC differs for good */
        { "reconcile, handled, mac kept: quiet",      false, true,  HAD_DST,  &rec_dst_mac, PLAN_QUIET, 0 },
        { "booted with a spec mac, reconcile: quiet", false, false, HAD_DST,  &rec_dst_mac, PLAN_QUIET, 0 },
        { "event, mac kept before: decided (probed)", true,  true,  HAD_DST,  &rec_dst_mac, PLAN_DECIDED, ACTION_REATTACH },
        { "reconcile, mac and ip differ: decided",    false, true,  HAD_SRC,  &rec_dst_mac, PLAN_DECIDED, ACTION_REATTACH },
        { "reconcile, booted here, same: quiet",      false, false, HAD_SRC,  &rec_src, PLAN_QUIET, 0 },
        /* metadata from another node but the domain was resumed by hand since: still not handled */
        { "reconcile, not migrated, stale: act",      false, false, HAD_SRC,  &rec_dst, PLAN_DECIDED, ACTION_FLAP },
};

static void test_table(void **state) {
        struct meta_nic src = { .pci = "0000:00:02.0" }, dst = { .pci = "0000:00:02.0" };

        nic_identity_from_record(&rec_src, &src.id);
        nic_identity_from_record(&rec_dst, &dst.id);
        for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
                const struct meta_nic *had = rows[i].had == HAD_SRC ? &src : rows[i].had == HAD_DST ? &dst : NULL;
                enum action kind = 99;
                char reason[256] = "";
                enum nic_plan p = plan_nic(rows[i].event, rows[i].migrated_in, had, MAC_A, rows[i].now, &kind,
                                           reason, sizeof(reason));

                if (p != rows[i].want)
                        fail_msg("%s: plan %d, want %d", rows[i].name, p, rows[i].want);
                if (p == PLAN_DECIDED && kind != rows[i].kind)
                        fail_msg("%s: %s, want %s (%s)", rows[i].name, action_to_string(kind),
                                 action_to_string(rows[i].kind), reason);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
