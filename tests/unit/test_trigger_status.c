/* SPDX-License-Identifier: MIT */
/* `relinkd status`: the decision ring (eviction per domain and overall, claims, outcomes) and the
 * snapshot's JSON and table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cJSON.h>

#include "common/util.h"
#include "netconf/daemonstatus.h"
#include "trigger/status.h"
#include "trigger/statusring.h"

static struct st_decision out[STATUSRING_MAX + 8];

static int reset(void **state) {
        statusring_reset();
        return 0;
}

static uint64_t decide_final(const char *uuid, const char *pci, enum action kind, const char *final) {
        return statusring_decision(uuid, "vm", "pod-1", pci, "02:00:00:00:00:01", "net/cid@eth0", kind, "mac a → b",
                                   "served=record probe=ok", "migrated", final);
}

static uint64_t decide_for(const char *uuid, const char *pci, enum action kind) {
        return decide_final(uuid, pci, kind, NULL);
}

static void test_order_and_fields(void **state) {
        uint64_t a = decide_for("u1", "0000:01:00.0", ACTION_FLAP);
        uint64_t b = decide_for("u2", "0000:02:00.0", ACTION_NONE);
        size_t n = statusring_copy(out, STATUSRING_MAX);

        assert_int_equal(n, 2);
        assert_true(a < b);
        assert_int_equal(out[0].seq, a);
        assert_string_equal(out[0].decision, "flap");
        assert_string_equal(out[0].result, "none");       /* no action claimed it yet */
        assert_string_equal(out[0].evidence, "served=record probe=ok");
        assert_true(out[0].at_ms > 0);
        assert_int_equal(out[0].renewal_ms, -1);
        assert_string_equal(out[1].decision, "none");
}

static void test_per_domain_eviction(void **state) {
        uint64_t first = 0;

        for (int i = 0; i < STATUSRING_PER_DOMAIN + 3; i++) {
                uint64_t s = decide_for("busy", "0000:01:00.0", ACTION_FLAP);
                if (i == 0)
                        first = s;
        }
        decide_for("quiet", "0000:01:00.0", ACTION_REATTACH);
        size_t n = statusring_copy(out, STATUSRING_MAX);
        size_t busy = 0;

        for (size_t i = 0; i < n; i++)
                if (streq(out[i].uuid, "busy")) {
                        busy++;
                        assert_true(out[i].seq > first + 2);     /* the three oldest went */
                }
        assert_int_equal(busy, STATUSRING_PER_DOMAIN);
        assert_int_equal(n, STATUSRING_PER_DOMAIN + 1);
        for (size_t i = 1; i < n; i++)
                assert_true(out[i - 1].seq < out[i].seq);
}

static void test_total_eviction(void **state) {
        char uuid[32];
        uint64_t last = 0;

        for (int i = 0; i < STATUSRING_MAX + 10; i++) {
                snprintf(uuid, sizeof(uuid), "dom-%d", i);
                last = decide_for(uuid, "0000:01:00.0", ACTION_FLAP);
        }
        size_t n = statusring_copy(out, STATUSRING_MAX + 8);
        assert_int_equal(n, STATUSRING_MAX);
        assert_string_equal(out[0].uuid, "dom-10");       /* the ten oldest went */
        assert_int_equal(out[n - 1].seq, last);
        /* A short buffer gets what fits. */
        assert_int_equal(statusring_copy(out, 5), 5);
}

static void test_claim_and_outcome(void **state) {
        uint64_t none = decide_for("u", "0000:01:00.0", ACTION_NONE);
        assert_int_equal(statusring_claim("u", "0000:01:00.0"), 0);   /* nothing to carry out */
        uint64_t s = decide_for("u", "0000:01:00.0", ACTION_FLAP);
        assert_int_equal(statusring_claim("u", "0000:01:00.0"), s);
        assert_int_equal(statusring_claim("u", "0000:01:00.0"), 0);   /* claimed once */
        assert_int_equal(statusring_claim("u", "0000:09:00.0"), 0);   /* another NIC */
        size_t n = statusring_copy(out, STATUSRING_MAX);
        assert_int_equal(n, 2);
        assert_string_equal(out[1].result, "pending");
        assert_int_equal(out[1].result_at_ms, 0);

        statusring_outcome(s, ACTION_REATTACH, RESULT_VERIFIED, NULL, 1830);
        statusring_outcome(none, ACTION_FLAP, RESULT_FAILED, "must not apply", -1);   /* never claimed */
        n = statusring_copy(out, STATUSRING_MAX);
        assert_string_equal(out[0].result, "none");
        assert_int_equal(out[0].result_at_ms, 0);
        assert_string_equal(out[1].result, "verified");
        assert_string_equal(out[1].kind, "reattach");
        assert_int_equal(out[1].renewal_ms, 1830);
        assert_true(out[1].result_at_ms >= out[1].at_ms);

        uint64_t f = decide_for("u", "0000:01:00.0", ACTION_REATTACH);
        assert_int_equal(statusring_claim("u", "0000:01:00.0"), f);
        statusring_outcome(f, ACTION_REATTACH, RESULT_FAILED, "no DHCP from the guest", 99);
        statusring_outcome(0, ACTION_FLAP, RESULT_ABORTED, "seq 0", -1);       /* no-op */
        n = statusring_copy(out, STATUSRING_MAX);
        assert_string_equal(out[2].result, "FAILED");
        assert_string_equal(out[2].note, "no DHCP from the guest");
        assert_int_equal(out[2].renewal_ms, -1);

        /* Denied by the policy or only observed: final at once, never claimed by an action. */
        decide_final("u", "0000:01:00.0", ACTION_REATTACH, "denied");
        assert_int_equal(statusring_claim("u", "0000:01:00.0"), 0);
        decide_final("u", "0000:01:00.0", ACTION_FLAP, "observed");
        assert_int_equal(statusring_claim("u", "0000:01:00.0"), 0);
        n = statusring_copy(out, STATUSRING_MAX);
        assert_int_equal(n, 5);
        assert_string_equal(out[3].result, "denied");
        assert_string_equal(out[4].result, "observed");
}

static struct st_snapshot sample(struct st_launcher *l, struct st_action *a, struct st_decision *d) {
        *l = (struct st_launcher) { .label = "3f0e", .pod_uid = "3f0e", .origin = "kubevirt",
                                    .socket = "/var/lib/kubelet/pods/3f0e/x/virtqemud-sock", .state = "connected",
                                    .has_netns = true, .ns_dev = 4, .ns_ino = 4026532571ULL,
                                    .since_ms = 1796184000000LL };
        *a = (struct st_action) { .domain = "default_vm1", .uuid = "u", .pod = "3f0e", .nic_pci = "0000:01:00.0",
                                  .nic_alias = "ua-net1", .mac = "02:00:00:00:00:01", .record = "net/cid@eth0",
                                  .kind = "flap", .phase = "link-down", .rung = 1, .n_rungs = 3, .elapsed_ms = 812 };
        *d = (struct st_decision) { .seq = 7, .at_ms = 1796184001000LL, .domain = "default_vm1", .uuid = "u",
                                    .pod = "3f0e", .nic_pci = "0000:01:00.0", .mac = "02:00:00:00:00:01",
                                    .record = "net/cid@eth0", .decision = "flap", .trigger = "migrated",
                                    .reason = "ip \"a\" → b", .evidence = "served=nic", .result = "verified",
                                    .result_at_ms = 1796184002830LL, .kind = "flap", .renewal_ms = 1830 };
        return (struct st_snapshot) { .version = "9.9", .pid = 42, .now_ms = 1796184003000LL, .launchers = l,
                                      .n_launchers = 1, .actions = a, .n_actions = 1, .decisions = d,
                                      .n_decisions = 1 };
}

static const char *str(const cJSON *o, const char *k) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

        assert_non_null(v);
        if (cJSON_IsNull(v))
                return NULL;
        assert_true(cJSON_IsString(v));
        return v->valuestring;
}

static double num(const cJSON *o, const char *k) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

        assert_non_null(v);
        assert_true(cJSON_IsNumber(v));
        return v->valuedouble;
}

static void test_json(void **state) {
        struct st_launcher l;
        struct st_action a;
        struct st_decision d;
        struct st_snapshot s = sample(&l, &a, &d);
        _cleanup_free_ char *text = NULL;
        cJSON *o, *e;

        assert_int_equal(st_render_json(&s, &text), 0);
        assert_int_equal(text[strlen(text) - 1], '\n');
        o = cJSON_Parse(text);
        assert_non_null(o);
        assert_string_equal(str(o, "version"), "9.9");
        assert_int_equal((int) num(o, "pid"), 42);
        assert_string_equal(str(o, "now"), "2026-12-02T04:00:03.000Z");

        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "launchers")), 1);
        e = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "launchers"), 0);
        assert_string_equal(str(e, "pod_uid"), "3f0e");
        assert_string_equal(str(e, "netns"), "4:4026532571");
        assert_string_equal(str(e, "state"), "connected");
        assert_string_equal(str(e, "since"), "2026-12-02T04:00:00.000Z");
        assert_int_equal((int) num(e, "for_ms"), 3000);

        e = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "actions"), 0);
        assert_string_equal(str(e, "nic"), "0000:01:00.0");
        assert_string_equal(str(e, "alias"), "ua-net1");
        assert_string_equal(str(e, "phase"), "link-down");
        assert_int_equal((int) num(e, "rung"), 1);
        assert_int_equal((int) num(e, "rungs"), 3);
        assert_int_equal((int) num(e, "elapsed_ms"), 812);

        e = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "decisions"), 0);
        assert_int_equal((int) num(e, "seq"), 7);
        assert_string_equal(str(e, "reason"), "ip \"a\" → b");          /* escaped and back */
        assert_string_equal(str(e, "result"), "verified");
        assert_string_equal(str(e, "result_at"), "2026-12-02T04:00:02.830Z");
        assert_int_equal((int) num(e, "renewal_ms"), 1830);
        assert_null(str(e, "note"));
        cJSON_Delete(o);

        /* Not connected, nothing in flight, a decision still pending: nulls, not fake values. */
        l.has_netns = false;
        *l.pod_uid = '\0';
        d.result_at_ms = 0;
        d.renewal_ms = -1;
        snprintf(d.result, sizeof(d.result), "pending");
        s.n_actions = 0;
        free(text);
        text = NULL;
        assert_int_equal(st_render_json(&s, &text), 0);
        o = cJSON_Parse(text);
        assert_non_null(o);
        e = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "launchers"), 0);
        assert_null(str(e, "netns"));
        assert_null(str(e, "pod_uid"));
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "actions")), 0);
        e = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "decisions"), 0);
        assert_null(str(e, "result_at"));
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(e, "renewal_ms")));
        cJSON_Delete(o);
}

static void test_text(void **state) {
        struct st_launcher l;
        struct st_action a;
        struct st_decision d;
        struct st_snapshot s = sample(&l, &a, &d);
        _cleanup_free_ char *text = NULL;

        assert_int_equal(status_render_text(&s, &text), 0);
        assert_non_null(strstr(text, "relinkd 9.9, pid 42, at 2026-12-02T04:00:03.000Z\n"));
        assert_non_null(strstr(text, "Launchers followed: 1\n"));
        assert_non_null(strstr(text, "  3f0e                                 connected  4:4026532571"));
        assert_non_null(strstr(text, "Actions in flight: 1\n"));
        assert_non_null(strstr(text, "0000:01:00.0 (ua-net1)"));
        assert_non_null(strstr(text, " link-down  flap      1/3   812ms"));
        assert_non_null(strstr(text, "  #7 2026-12-02T04:00:01.000Z domain=default_vm1 nic=0000:01:00.0"));
        assert_non_null(strstr(text, "      evidence: served=nic\n"));
        assert_non_null(strstr(text, "      result:   verified at 2026-12-02T04:00:02.830Z kind=flap renewal_ms=1830\n"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_order_and_fields, reset),
                cmocka_unit_test_setup(test_per_domain_eviction, reset),
                cmocka_unit_test_setup(test_total_eviction, reset),
                cmocka_unit_test_setup(test_claim_and_outcome, reset),
                cmocka_unit_test(test_json),
                cmocka_unit_test(test_text),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
