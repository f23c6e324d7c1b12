/* SPDX-License-Identifier: MIT */
/* Prometheus rendering of relinkd's metrics: exact lines, cumulative buckets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/util.h"
#include "trigger/metrics.h"

static void assert_line(const char *text, const char *line) {
        size_t n = strlen(line);

        for (const char *p = text; (p = strstr(p, line)); p++)
                if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
                        return;
        fail_msg("missing line '%s' in:\n%s", line, text);
}

static void test_empty(void **state) {
        struct metrics m;
        char *text = NULL;

        metrics_init(&m);
        assert_int_equal(metrics_render(&m, &text), 0);
        assert_line(text, "# TYPE relinkd_actions_total counter");
        assert_line(text, "relinkd_actions_total{kind=\"flap\",result=\"verified\"} 0");
        assert_line(text, "relinkd_actions_total{kind=\"reattach\",result=\"failed\"} 0");
        assert_line(text, "relinkd_decisions_total{decision=\"none\"} 0");
        assert_line(text, "relinkd_renewal_seconds_bucket{le=\"+Inf\"} 0");
        assert_line(text, "relinkd_renewal_seconds_count 0");
        assert_line(text, "relinkd_connections 0");
        assert_line(text, "relinkd_served_mac_total{served=\"record\"} 0");
        assert_null(strstr(text, "served=\"-\""));
        assert_null(strstr(text, "kind=\"none\""));
        free(text);
}

static void test_counts_and_buckets(void **state) {
        struct metrics m;
        char *text = NULL;

        metrics_init(&m);
        m.actions[ACTION_FLAP][RESULT_ESCALATED] = 2;
        m.actions[ACTION_REATTACH][RESULT_VERIFIED] = 3;
        m.decisions[ACTION_NONE] = 7;
        m.policy_denied[ACTION_REATTACH] = 5;
        m.observed[ACTION_FLAP] = 6;
        m.connections = 4;
        histogram_observe(&m.renewal, 0.6);     /* le 0.75 */
        histogram_observe(&m.renewal, 1.0);     /* le 1: bounds are inclusive */
        histogram_observe(&m.renewal, 5.5);     /* le 8 */
        histogram_observe(&m.renewal, 100);     /* +Inf only */
        histogram_observe(&m.first_call, 0.0004);
        assert_int_equal(metrics_render(&m, &text), 0);
        assert_line(text, "relinkd_actions_total{kind=\"flap\",result=\"escalated\"} 2");
        assert_line(text, "relinkd_actions_total{kind=\"reattach\",result=\"verified\"} 3");
        assert_line(text, "relinkd_decisions_total{decision=\"none\"} 7");
        assert_line(text, "relinkd_policy_denied_total{kind=\"reattach\"} 5");
        assert_line(text, "relinkd_policy_denied_total{kind=\"flap\"} 0");
        assert_line(text, "relinkd_observed_total{decision=\"flap\"} 6");
        assert_line(text, "relinkd_observed_total{decision=\"none\"} 0");
        assert_line(text, "relinkd_renewal_seconds_bucket{le=\"0.5\"} 0");
        assert_line(text, "relinkd_renewal_seconds_bucket{le=\"0.75\"} 1");
        assert_line(text, "relinkd_renewal_seconds_bucket{le=\"1\"} 2");
        assert_line(text, "relinkd_renewal_seconds_bucket{le=\"5\"} 2");
        assert_line(text, "relinkd_renewal_seconds_bucket{le=\"8\"} 3");
        assert_line(text, "relinkd_renewal_seconds_bucket{le=\"60\"} 3");
        assert_line(text, "relinkd_renewal_seconds_bucket{le=\"+Inf\"} 4");
        assert_line(text, "relinkd_renewal_seconds_sum 107.100000");
        assert_line(text, "relinkd_renewal_seconds_count 4");
        assert_line(text, "relinkd_event_to_first_call_seconds_bucket{le=\"0.001\"} 1");
        assert_line(text, "relinkd_connections 4");
        free(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_empty),
                cmocka_unit_test(test_counts_and_buckets),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
