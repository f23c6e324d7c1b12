/* SPDX-License-Identifier: MIT */
/* The decision table: (what the guest had, live MAC, the record now) → action + reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/util.h"
#include "trigger/decide.h"

#define MAC_A "0a:58:0a:f4:01:05"
#define MAC_B "0a:58:0a:f4:02:07"

struct ip { const char *addr; unsigned prefix; const char *gw; };
struct rt { const char *dst; const char *gw; };
struct side {
        const char *mac;
        unsigned mtu;
        struct ip ips[4];
        struct rt routes[4];
};

static const struct row {
        const char *name;
        bool no_metadata;
        struct side had;
        const char *live_mac;
        struct side now;
        enum action want;
        const char *reason;               /* exact */
} rows[] = {
        { "unchanged",
          .had = { MAC_A, 1500, { { "10.244.1.5", 24, "10.244.1.1" } }, { { "0.0.0.0/0", "10.244.1.1" } } },
          .live_mac = MAC_A,
          .now = { MAC_A, 1500, { { "10.244.1.5", 24, "10.244.1.1" } }, { { "0.0.0.0/0", "10.244.1.1" } } },
          ACTION_NONE, "unchanged" },
        { "mac differs → reattach",
          .had = { MAC_A, 1500, { { "10.244.1.5", 24, "" } } },
          .live_mac = MAC_A,
          .now = { MAC_B, 1500, { { "10.244.1.5", 24, "" } } },
          ACTION_REATTACH, "mac " MAC_A " → " MAC_B },
        { "mac differs, no metadata → reattach wins",
          .no_metadata = true, .live_mac = MAC_A,
          .now = { MAC_B, 1500, { { "10.244.2.7", 24, "" } } },
          ACTION_REATTACH, "mac " MAC_A " → " MAC_B },
        { "mac case only → not a change",
          .had = { MAC_A, 1500, { { "10.244.1.5", 24, "" } } },
          .live_mac = "0A:58:0A:F4:01:05",
          .now = { MAC_A, 1500, { { "10.244.1.5", 24, "" } } },
          ACTION_NONE, "unchanged" },
        { "record mac upper case",
          .had = { "0A:58:0A:F4:01:05", 0, { { "10.244.1.5", 24, "" } } },
          .live_mac = MAC_A,
          .now = { "0A:58:0A:F4:01:05", 1500, { { "10.244.1.5", 24, "" } } },
          ACTION_NONE, "unchanged" },
        { "no metadata → flap",
          .no_metadata = true, .live_mac = MAC_A,
          .now = { MAC_A, 1500, { { "10.244.1.5", 24, "" } } },
          ACTION_FLAP, "no metadata: assume changed" },
        { "ip changed → flap",
          .had = { MAC_A, 1500, { { "10.244.1.5", 24, "" } } },
          .live_mac = MAC_A,
          .now = { MAC_A, 1500, { { "10.244.2.7", 24, "" } } },
          ACTION_FLAP, "ip 10.244.1.5/24 → 10.244.2.7/24" },
        { "prefix changed → flap",
          .had = { MAC_A, 1500, { { "10.244.1.5", 24, "" } } },
          .live_mac = MAC_A,
          .now = { MAC_A, 1500, { { "10.244.1.5", 16, "" } } },
          ACTION_FLAP, "ip 10.244.1.5/24 → 10.244.1.5/16" },
        { "gateway only → flap",
          .had = { MAC_A, 1500, { { "10.244.1.5", 24, "10.244.1.1" } } },
          .live_mac = MAC_A,
          .now = { MAC_A, 1500, { { "10.244.1.5", 24, "10.244.1.254" } } },
          ACTION_FLAP, "ip 10.244.1.5/24 gw 10.244.1.1 → 10.244.1.5/24 gw 10.244.1.254" },
        { "gateway removed → flap",
          .had = { MAC_A, 1500, { { "10.244.1.5", 24, "10.244.1.1" } } },
          .live_mac = MAC_A,
          .now = { MAC_A, 1500, { { "10.244.1.5", 24, "" } } },
          ACTION_FLAP, "ip 10.244.1.5/24 gw 10.244.1.1 → 10.244.1.5/24 gw none" },
        { "ip order does not matter",
          .had = { MAC_A, 1500, { { "10.244.1.5", 24, "" }, { "fd00::5", 64, "fd00::1" } } },
          .live_mac = MAC_A,
          .now = { MAC_A, 1500, { { "fd00::5", 64, "fd00::1" }, { "10.244.1.5", 24, "" } } },
          ACTION_NONE, "unchanged" },
        { "ipv6 spelled differently is equal",
          .had = { MAC_A, 0, { { "FD00:0:0::5", 64, "fd00::1" } } },
          .live_mac = MAC_A,
          .now = { MAC_A, 1500, { { "fd00::5", 64, "fd00:0::1" } } },
          ACTION_NONE, "unchanged" },
        { "ipv6 changed → flap",
          .had = { MAC_A, 1500, { { "10.244.1.5", 24, "" }, { "fd00:1::5", 64, "" } } },
          .live_mac = MAC_A,
          .now = { MAC_A, 1500, { { "10.244.1.5", 24, "" }, { "fd00:2::7", 64, "" } } },
          ACTION_FLAP, "ip fd00:1::5/64 → fd00:2::7/64" },
        { "ip added → flap",
          .had = { MAC_A, 1500, { { "10.244.1.5", 24, "" } } },
          .live_mac = MAC_A,
          .now = { MAC_A, 1500, { { "10.244.1.5", 24, "" }, { "fd00::5", 64, "" } } },
          ACTION_FLAP, "ip none → fd00::5/64" },
        { "ip removed → flap",
          .had = { MAC_A, 1500, { { "10.244.1.5", 24, "" }, { "fd00::5", 64, "" } } },
          .live_mac = MAC_A,
          .now = { MAC_A, 1500, { { "10.244.1.5", 24, "" } } },
          ACTION_FLAP, "ip fd00::5/64 → none" },
        { "route only → flap",
          .had = { MAC_A, 1500, { { "10.244.1.5", 24, "" } }, { { "0.0.0.0/0", "10.244.1.1" } } },
          .live_mac = MAC_A,
          .now = { MAC_A, 1500, { { "10.244.1.5", 24, "" } }, { { "0.0.0.0/0", "10.244.1.254" } } },
          ACTION_FLAP, "route 0.0.0.0/0 via 10.244.1.1 → 0.0.0.0/0 via 10.244.1.254" },
        { "route added → flap",
          .had = { MAC_A, 1500, { { "10.244.1.5", 24, "" } } },
          .live_mac = MAC_A,
          .now = { MAC_A, 1500, { { "10.244.1.5", 24, "" } }, { { "10.96.0.0/12", "" } } },
          ACTION_FLAP, "route none → 10.96.0.0/12" },
        { "route order and spelling do not matter",
          .had = { MAC_A, 1500, { { "10.244.1.5", 24, "" } },
                   { { "default", "10.244.1.1" }, { "10.96.0.0/12", "10.244.1.1" }, { "::/0", "fd00::1" } } },
          .live_mac = MAC_A,
          .now = { MAC_A, 1500, { { "10.244.1.5", 24, "" } },
                   { { "0:0::/0", "fd00::1" }, { "10.96.1.2/12", "10.244.1.1" }, { "0.0.0.0/0", "10.244.1.1" } } },
          ACTION_NONE, "unchanged" },
        { "route prefix differs → flap",
          .had = { MAC_A, 1500, { { "10.244.1.5", 24, "" } }, { { "10.96.0.0/12", "" } } },
          .live_mac = MAC_A,
          .now = { MAC_A, 1500, { { "10.244.1.5", 24, "" } }, { { "10.96.0.0/16", "" } } },
          ACTION_FLAP, "route 10.96.0.0/12 → 10.96.0.0/16" },
        { "mtu changed → flap",
          .had = { MAC_A, 1500, { { "10.244.1.5", 24, "" } } },
          .live_mac = MAC_A,
          .now = { MAC_A, 1450, { { "10.244.1.5", 24, "" } } },
          ACTION_FLAP, "mtu 1500 → 1450" },
        { "mtu unknown is ignored",
          .had = { MAC_A, 0, { { "10.244.1.5", 24, "" } } },
          .live_mac = MAC_A,
          .now = { MAC_A, 1450, { { "10.244.1.5", 24, "" } } },
          ACTION_NONE, "unchanged" },
        { "ip difference reported before route and mtu",
          .had = { MAC_A, 1500, { { "10.244.1.5", 24, "" } }, { { "0.0.0.0/0", "10.244.1.1" } } },
          .live_mac = MAC_A,
          .now = { MAC_A, 9000, { { "10.244.2.7", 24, "" } }, { { "0.0.0.0/0", "10.244.2.1" } } },
          ACTION_FLAP, "ip 10.244.1.5/24 → 10.244.2.7/24" },
        { "no live mac: compare the rest",
          .had = { MAC_A, 1500, { { "10.244.1.5", 24, "" } } },
          .live_mac = NULL,
          .now = { MAC_B, 1500, { { "10.244.1.5", 24, "" } } },
          ACTION_NONE, "unchanged" },
};

static size_t fill_ips(const struct ip *in, struct record_ip *out) {
        size_t n = 0;

        for (; n < 4 && in[n].addr; n++) {
                out[n].family = strchr(in[n].addr, ':') ? AF_INET6 : AF_INET;
                snprintf(out[n].address, sizeof(out[n].address), "%s", in[n].addr);
                out[n].prefix = in[n].prefix;
                snprintf(out[n].gateway, sizeof(out[n].gateway), "%s", in[n].gw ? in[n].gw : "");
        }
        return n;
}

static size_t fill_routes(const struct rt *in, struct record_route *out) {
        size_t n = 0;

        for (; n < 4 && in[n].dst; n++) {
                snprintf(out[n].dst, sizeof(out[n].dst), "%s", in[n].dst);
                snprintf(out[n].gw, sizeof(out[n].gw), "%s", in[n].gw ? in[n].gw : "");
        }
        return n;
}

static void record_fill(const struct side *s, struct record *r) {
        memset(r, 0, sizeof(*r));
        snprintf(r->mac, sizeof(r->mac), "%s", s->mac ? s->mac : "");
        r->mtu = s->mtu;
        r->n_ips = fill_ips(s->ips, r->ips);
        r->n_routes = fill_routes(s->routes, r->routes);
}

/* One cmocka test per row; the row comes in as the test's state. */
static void test_row(void **state) {
        static struct record had_rec, now;          /* large: keep them off the stack */
        const struct row *t = *state;
        struct nic_identity had;
        char reason[256];
        enum action a;

        record_fill(&t->had, &had_rec);
        nic_identity_from_record(&had_rec, &had);
        record_fill(&t->now, &now);
        a = decide(t->no_metadata ? NULL : &had, t->live_mac, &now, reason, sizeof(reason));
        if (a != t->want || strcmp(reason, t->reason) != 0)
                print_error("row '%s': got %s '%s', want %s '%s'\n", t->name, action_to_string(a),
                            reason, action_to_string(t->want), t->reason);
        assert_int_equal(a, t->want);
        assert_string_equal(reason, t->reason);
}

static void test_reason_optional_and_truncated(void **state) {
        static struct record now;
        struct side s = { MAC_B, 1500, { { "10.244.1.5", 24, "" } }, { { NULL, NULL } } };
        char small[8];

        record_fill(&s, &now);
        assert_int_equal(decide(NULL, MAC_A, &now, NULL, 0), ACTION_REATTACH);
        assert_int_equal(decide(NULL, MAC_B, &now, NULL, 0), ACTION_FLAP);
        assert_int_equal(decide(NULL, MAC_A, &now, small, sizeof(small)), ACTION_REATTACH);
        assert_string_equal(small, "mac 0a:");
}

static void test_identity_from_record(void **state) {
        static struct record r;
        struct nic_identity id;
        struct side s = { "0A:58:0A:F4:01:05", 1450, { { "10.244.1.5", 24, "10.244.1.1" } },
                          { { "0.0.0.0/0", "10.244.1.1" }, { "10.96.0.0/12", "" } } };

        record_fill(&s, &r);
        nic_identity_from_record(&r, &id);
        assert_string_equal(id.mac, MAC_A);
        assert_int_equal(id.mtu, 1450);
        assert_int_equal(id.n_ips, 1);
        assert_string_equal(id.ips[0].address, "10.244.1.5");
        assert_string_equal(id.ips[0].gateway, "10.244.1.1");
        assert_int_equal(id.n_routes, 2);
        assert_string_equal(id.routes[1].dst, "10.96.0.0/12");

        r.n_ips = RECORD_MAX_IPS + 5;            /* corrupt count: clamped, no overflow */
        r.n_routes = RECORD_MAX_ROUTES + 5;
        nic_identity_from_record(&r, &id);
        assert_int_equal(id.n_ips, RECORD_MAX_IPS);
        assert_int_equal(id.n_routes, RECORD_MAX_ROUTES);
}

static void test_identity_equal(void **state) {
        static struct record r;
        struct nic_identity a, b;
        struct side s = { MAC_A, 1500, { { "10.244.1.5", 24, "" }, { "fd00::5", 64, "" } }, { { NULL, NULL } } };

        record_fill(&s, &r);
        nic_identity_from_record(&r, &a);
        b = a;
        assert_true(nic_identity_equal(&a, &b));
        b.ips[0] = a.ips[1];
        b.ips[1] = a.ips[0];
        assert_true(nic_identity_equal(&a, &b));
        snprintf(b.mac, sizeof(b.mac), "%s", "0A:58:0A:F4:01:05");
        assert_true(nic_identity_equal(&a, &b));
        snprintf(b.mac, sizeof(b.mac), "%s", MAC_B);
        assert_false(nic_identity_equal(&a, &b));
        b = a;
        b.mtu = 9000;
        assert_false(nic_identity_equal(&a, &b));
        b.mtu = 0;
        assert_true(nic_identity_equal(&a, &b));
}

static void test_action_strings(void **state) {
        assert_string_equal(action_to_string(ACTION_NONE), "none");
        assert_string_equal(action_to_string(ACTION_FLAP), "flap");
        assert_string_equal(action_to_string(ACTION_REATTACH), "reattach");
}

/* The served-MAC rule: (base decision, NIC MAC, record MAC, probe answers) → action, MACs, evidence. */
#define A PROBE_ANSWERED
#define U PROBE_UNANSWERED
#define I PROBE_IMPOSSIBLE
#define N PROBE_NOT_RUN
#define IPCH "ip 10.244.1.5/24 → 10.244.2.7/24"

static const struct srow {
        const char *name;
        enum action base;
        const char *base_reason, *nic, *rec;
        enum probe_answer a_nic, a_rec;
        int ms;
        const char *err;
        enum action want;
        const char *mac_new, *mac_alt, *reason, *evidence;      /* exact */
} srows[] = {
        { "kubevirt-1.9: served = nic, ip changed → flap, keep mac",
          ACTION_FLAP, IPCH, MAC_A, MAC_B, A, U, 4, NULL,
          ACTION_FLAP, MAC_A, "", IPCH, "served=nic probe=nic:answered,record:unanswered probe_ms=4" },
        { "spec mac: served = nic, nothing else changed → none",
          ACTION_NONE, "unchanged", MAC_A, MAC_B, A, U, 3, NULL,
          ACTION_NONE, MAC_A, "", "unchanged", "served=nic probe=nic:answered,record:unanswered probe_ms=3" },
        { "kubevirt-1.8: served = record → reattach with it, nic mac the alternative",
          ACTION_FLAP, IPCH, MAC_A, MAC_B, U, A, 5, NULL,
          ACTION_REATTACH, MAC_B, MAC_A, "mac " MAC_A " → " MAC_B,
          "served=record probe=nic:unanswered,record:answered probe_ms=5" },
        { "served = record even when nothing else changed → reattach",
          ACTION_NONE, "unchanged", MAC_A, MAC_B, U, A, 2, NULL,
          ACTION_REATTACH, MAC_B, MAC_A, "mac " MAC_A " → " MAC_B,
          "served=record probe=nic:unanswered,record:answered probe_ms=2" },
        { "both served → keep the mac, record mac the alternative",
          ACTION_FLAP, IPCH, MAC_A, MAC_B, A, A, 2, NULL,
          ACTION_FLAP, MAC_A, MAC_B, IPCH, "served=both probe=nic:answered,record:answered probe_ms=2" },
        { "nothing answers → fallback: flap keeping the mac, record mac the alternative",
          ACTION_FLAP, IPCH, MAC_A, MAC_B, U, U, 402, NULL,
          ACTION_FLAP, MAC_A, MAC_B, IPCH,
          "served=none probe=nic:unanswered,record:unanswered probe_ms=402 fallback=keep-mac" },
        { "nothing answers, nothing else changed → fallback none",
          ACTION_NONE, "unchanged", MAC_A, MAC_B, U, U, 401, NULL,
          ACTION_NONE, MAC_A, MAC_B, "unchanged",
          "served=none probe=nic:unanswered,record:unanswered probe_ms=401 fallback=keep-mac" },
        { "probe impossible → fallback with the reason",
          ACTION_FLAP, IPCH, MAC_A, MAC_B, I, I, -1, "the tap has no master (not a bridge binding)",
          ACTION_FLAP, MAC_A, MAC_B, IPCH,
          "served=unknown probe=\"impossible: the tap has no master (not a bridge binding)\" fallback=keep-mac" },
        { "probe not run → fallback",
          ACTION_FLAP, "no metadata: assume changed", MAC_A, MAC_B, N, N, -1, NULL,
          ACTION_FLAP, MAC_A, MAC_B, "no metadata: assume changed",
          "served=unknown probe=\"not run: no reason given\" fallback=keep-mac" },
        { "record mac = nic mac → no probe needed",
          ACTION_FLAP, IPCH, MAC_A, MAC_A, N, N, -1, NULL,
          ACTION_FLAP, MAC_A, "", IPCH, "served=- probe=\"not needed: record mac = nic mac\"" },
        { "macs differ in case only → no probe needed, lower case",
          ACTION_NONE, "unchanged", "0A:58:0A:F4:01:05", MAC_A, N, N, -1, NULL,
          ACTION_NONE, MAC_A, "", "unchanged", "served=- probe=\"not needed: record mac = nic mac\"" },
        { "record without a mac → no probe needed",
          ACTION_FLAP, IPCH, MAC_A, "", N, N, -1, NULL,
          ACTION_FLAP, MAC_A, "", IPCH, "served=- probe=\"not needed: the record has no mac\"" },
        { "nic mac unknown → no probe needed, plug the record's",
          ACTION_FLAP, IPCH, NULL, MAC_B, N, N, -1, NULL,
          ACTION_FLAP, MAC_B, "", IPCH, "served=- probe=\"not needed: the nic's mac is unknown\"" },
        { "upper-case inputs come out lower case",
          ACTION_FLAP, IPCH, "0A:58:0A:F4:01:05", "0A:58:0A:F4:02:07", U, A, 1, NULL,
          ACTION_REATTACH, MAC_B, MAC_A, "mac " MAC_A " → " MAC_B,
          "served=record probe=nic:unanswered,record:answered probe_ms=1" },
};

static void test_served_row(void **state) {
        const struct srow *t = *state;
        struct served_decision d;

        decide_served(&(struct served_in) {
                .base = t->base, .base_reason = t->base_reason, .nic_mac = t->nic, .rec_mac = t->rec,
                .nic = t->a_nic, .rec = t->a_rec, .probe_ms = t->ms, .probe_error = t->err,
        }, &d);
        if (d.kind != t->want || strcmp(d.evidence, t->evidence) != 0)
                print_error("row '%s': got %s %s\n", t->name, action_to_string(d.kind), d.evidence);
        assert_int_equal(d.kind, t->want);
        assert_string_equal(d.mac_new, t->mac_new);
        assert_string_equal(d.mac_alt, t->mac_alt);
        assert_string_equal(d.reason, t->reason);
        assert_string_equal(d.evidence, t->evidence);
        /* the enum (metrics) says what the evidence says */
        char want[32];
        snprintf(want, sizeof(want), "served=%s ", served_to_string(d.served));
        assert_memory_equal(d.evidence, want, strlen(want));
}

/* The base the reconciler feeds in: decide() with the MAC rule left out (live_mac NULL). */
static void test_served_from_decide(void **state) {
        static struct record had_rec, now;
        struct side had = { MAC_A, 1500, { { "10.244.1.5", 24, "" } }, { { NULL, NULL } } };
        struct side cur = { MAC_B, 1500, { { "10.244.2.7", 24, "" } }, { { NULL, NULL } } };
        struct nic_identity id;
        struct served_decision d;
        char why[256];
        enum action base;

        record_fill(&had, &had_rec);
        nic_identity_from_record(&had_rec, &id);
        record_fill(&cur, &now);
        assert_int_equal(decide(&id, MAC_A, &now, NULL, 0), ACTION_REATTACH);     /* the old rule */
        base = decide(&id, NULL, &now, why, sizeof(why));
        assert_int_equal(base, ACTION_FLAP);
        decide_served(&(struct served_in) { .base = base, .base_reason = why, .nic_mac = MAC_A,
                                            .rec_mac = now.mac, .nic = A, .rec = U, .probe_ms = 2 }, &d);
        assert_int_equal(d.kind, ACTION_FLAP);
        assert_string_equal(d.reason, IPCH);
        assert_true(served_probe_needed(MAC_A, MAC_B));
        assert_false(served_probe_needed(MAC_A, "0A:58:0A:F4:01:05"));
        assert_false(served_probe_needed(MAC_A, ""));
        assert_false(served_probe_needed(NULL, MAC_B));
}

int main(void) {
        static const struct CMUnitTest fixed[] = {
                cmocka_unit_test(test_reason_optional_and_truncated),
                cmocka_unit_test(test_identity_from_record),
                cmocka_unit_test(test_identity_equal),
                cmocka_unit_test(test_action_strings),
                cmocka_unit_test(test_served_from_decide),
        };
        struct CMUnitTest tests[ARRAY_SIZE(rows) + ARRAY_SIZE(srows) + ARRAY_SIZE(fixed)];
        size_t n = 0;

        for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
                tests[n++] = (struct CMUnitTest) {
                        .name = rows[i].name, .test_func = test_row, .initial_state = (void *) &rows[i],
                };
        for (size_t i = 0; i < ARRAY_SIZE(srows); i++)
                tests[n++] = (struct CMUnitTest) {
                        .name = srows[i].name, .test_func = test_served_row, .initial_state = (void *) &srows[i],
                };
        for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
                tests[n++] = fixed[i];
        return _cmocka_run_group_tests("decide", tests, n, NULL, NULL);
}
