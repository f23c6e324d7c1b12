/* SPDX-License-Identifier: MIT */
/* Counters and histograms rendered in the Prometheus text exposition format. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/util.h"
#include "trigger/metrics.h"

static const double renewal_bounds[] = { 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 13, 20, 30, 60 };
static const double first_call_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1 };

struct metrics relinkd_metrics;
static char *metrics_path;
static char *metrics_written;    /* what the file holds: unchanged text is not rewritten */

void metrics_init(struct metrics *m) {
        memset(m, 0, sizeof(*m));
        m->renewal.bounds = renewal_bounds;
        m->renewal.n_bounds = ARRAY_SIZE(renewal_bounds);
        m->first_call.bounds = first_call_bounds;
        m->first_call.n_bounds = ARRAY_SIZE(first_call_bounds);
}

void histogram_observe(struct histogram *h, double v) {
        size_t i;

        for (i = 0; i < h->n_bounds && v > h->bounds[i]; i++)
                ;
        h->counts[i]++;      /* i == n_bounds: the +Inf bucket */
        h->count++;
        h->sum += v;
}

const char *action_result_to_string(enum action_result r) {
        switch (r) {
        case RESULT_VERIFIED:
                return "verified";
        case RESULT_ESCALATED:
                return "escalated";
        case RESULT_FAILED:
                return "failed";
        case RESULT_ABORTED:
                return "aborted";
        case _RESULT_MAX:
                break;
        }
        return "unknown";
}

struct buf {
        char *s;
        size_t len, size;
        bool oom;
};

static void __attribute__((format(printf, 2, 3))) put(struct buf *b, const char *fmt, ...) {
        va_list ap;
        int n;

        if (b->oom)
                return;
        for (;;) {
                va_start(ap, fmt);
                n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->size - b->len : 0, fmt, ap);
                va_end(ap);
                if (n < 0) {
                        b->oom = true;
                        return;
                }
                if (b->s && b->len + (size_t) n < b->size) {
                        b->len += (size_t) n;
                        return;
                }
                size_t size = (b->size ? b->size * 2 : 4096) + (size_t) n;
                char *s = realloc(b->s, size);
                if (!s) {
                        b->oom = true;
                        return;
                }
                b->s = s;
                b->size = size;
        }
}

static void put_histogram(struct buf *b, const char *name, const char *help, const struct histogram *h) {
        uint64_t cum = 0;

        put(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
        for (size_t i = 0; i < h->n_bounds; i++) {
                cum += h->counts[i];
                put(b, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i], (unsigned long long) cum);
        }
        put(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long) h->count);
        put(b, "%s_sum %.6f\n%s_count %llu\n", name, h->sum, name, (unsigned long long) h->count);
}

int metrics_render(const struct metrics *m, char **ret) {
        static const enum action kinds[] = { ACTION_FLAP, ACTION_REATTACH };
        static const enum action decisions[] = { ACTION_NONE, ACTION_FLAP, ACTION_REATTACH };
        struct buf b = {};

        put(&b, "# HELP relinkd_actions_total Actions on guest NICs by kind and result.\n"
                "# TYPE relinkd_actions_total counter\n");
        for (size_t k = 0; k < ARRAY_SIZE(kinds); k++)
                for (int r = 0; r < _RESULT_MAX; r++)
                        put(&b, "relinkd_actions_total{kind=\"%s\",result=\"%s\"} %llu\n",
                            action_to_string(kinds[k]), action_result_to_string((enum action_result) r),
                            (unsigned long long) m->actions[kinds[k]][r]);
        put(&b, "# HELP relinkd_decisions_total Decisions taken for migrated guest NICs.\n"
                "# TYPE relinkd_decisions_total counter\n");
        for (size_t d = 0; d < ARRAY_SIZE(decisions); d++)
                put(&b, "relinkd_decisions_total{decision=\"%s\"} %llu\n", action_to_string(decisions[d]),
                    (unsigned long long) m->decisions[decisions[d]]);
        put(&b, "# HELP relinkd_served_mac_total Decisions that probed which MAC the pod's DHCP server "
                "answers, by outcome.\n# TYPE relinkd_served_mac_total counter\n");
        for (int s = SERVED_NIC; s < _SERVED_MAX; s++)
                put(&b, "relinkd_served_mac_total{served=\"%s\"} %llu\n", served_to_string((enum served) s),
                    (unsigned long long) m->served[s]);
        put(&b, "# HELP relinkd_policy_denied_total Decisions not carried out because the operator's policy "
                "(relinkPolicy) forbids the action the guest needs, by kind.\n"
                "# TYPE relinkd_policy_denied_total counter\n");
        for (size_t k = 0; k < ARRAY_SIZE(kinds); k++)
                put(&b, "relinkd_policy_denied_total{kind=\"%s\"} %llu\n", action_to_string(kinds[k]),
                    (unsigned long long) m->policy_denied[kinds[k]]);
        put(&b, "# HELP relinkd_observed_total Decisions only logged, not carried out (observe-only: "
                "relinkd --observe or relinkObserve), by decision.\n# TYPE relinkd_observed_total counter\n");
        for (size_t d = 0; d < ARRAY_SIZE(decisions); d++)
                put(&b, "relinkd_observed_total{decision=\"%s\"} %llu\n", action_to_string(decisions[d]),
                    (unsigned long long) m->observed[decisions[d]]);
        put_histogram(&b, "relinkd_renewal_seconds",
                      "Time from the migration completion event to the guest's verified DHCP renewal.",
                      &m->renewal);
        put_histogram(&b, "relinkd_event_to_first_call_seconds",
                      "Time from the migration completion event to relinkd's first libvirt call for it.",
                      &m->first_call);
        put(&b, "# HELP relinkd_connections libvirt connections open now.\n"
                "# TYPE relinkd_connections gauge\nrelinkd_connections %u\n", m->connections);
        put(&b, "# HELP relinkd_connections_followed libvirt daemons followed (open or reconnecting).\n"
                "# TYPE relinkd_connections_followed gauge\nrelinkd_connections_followed %u\n",
            m->connections_known);
        put(&b, "# HELP relinkd_connect_failures_total Failed attempts to open a libvirt connection.\n"
                "# TYPE relinkd_connect_failures_total counter\nrelinkd_connect_failures_total %llu\n",
            (unsigned long long) m->connect_failures);
        put(&b, "# HELP relinkd_nics_missing Guest NICs relinkd unplugged and has not put back yet (0 at rest).\n"
                "# TYPE relinkd_nics_missing gauge\nrelinkd_nics_missing %u\n", m->nics_missing);
        put(&b, "# HELP relinkd_late_releases_total NICs the guest released after the unplug deadline.\n"
                "# TYPE relinkd_late_releases_total counter\nrelinkd_late_releases_total %llu\n",
            (unsigned long long) m->late_releases);
        put(&b, "# HELP relinkd_recovered_late_total Actions reported FAILED that later ended verified.\n"
                "# TYPE relinkd_recovered_late_total counter\nrelinkd_recovered_late_total %llu\n",
            (unsigned long long) m->recovered_late);
        put(&b, "# HELP relinkd_unplug_reasks_total Unplug requests repeated while the guest had not released.\n"
                "# TYPE relinkd_unplug_reasks_total counter\nrelinkd_unplug_reasks_total %llu\n",
            (unsigned long long) m->unplug_reasks);
        put(&b, "# HELP relinkd_attach_fallbacks_total New NICs that could not be attached (the old one put back).\n"
                "# TYPE relinkd_attach_fallbacks_total counter\nrelinkd_attach_fallbacks_total %llu\n",
            (unsigned long long) m->attach_fallbacks);
        put(&b, "# HELP relinkd_libvirt_call_timeouts_total libvirt calls abandoned at --call-timeout-ms (a launcher's "
                "daemon stuck; its connection is reopened).\n"
                "# TYPE relinkd_libvirt_call_timeouts_total counter\nrelinkd_libvirt_call_timeouts_total %llu\n",
            (unsigned long long) m->libvirt_call_timeouts);
        put(&b, "# HELP relinkd_libvirt_calls_unanswered_total libvirt calls that got no answer: abandoned at the "
                "deadline, or not sent while an earlier one to the same daemon was outstanding.\n"
                "# TYPE relinkd_libvirt_calls_unanswered_total counter\nrelinkd_libvirt_calls_unanswered_total %llu\n",
            (unsigned long long) m->libvirt_calls_unanswered);
        if (b.oom) {
                free(b.s);
                return -ENOMEM;
        }
        *ret = b.s;
        return 0;
}

int metrics_open(const char *path) {
        metrics_init(&relinkd_metrics);
        free(metrics_path);
        metrics_path = NULL;
        free(metrics_written);
        metrics_written = NULL;
        if (!path)
                return 0;
        metrics_path = strdup(path);
        return metrics_path ? 0 : -ENOMEM;
}

int metrics_flush(void) {
        _cleanup_free_ char *text = NULL, *d = NULL, *f = NULL;
        _cleanup_close_ int dfd = -1;
        int r;

        if (!metrics_path)
                return 0;
        r = metrics_render(&relinkd_metrics, &text);
        if (r < 0)
                return r;
        if (metrics_written && streq(text, metrics_written))
                return 0;
        d = strdup(metrics_path);
        f = strdup(metrics_path);
        if (!d || !f)
                return -ENOMEM;
        dfd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        r = write_atomic_at(dfd, basename(f), text, strlen(text), 0644, false);
        if (r < 0)
                return r;
        free(metrics_written);
        metrics_written = TAKE_PTR(text);
        return 0;
}
