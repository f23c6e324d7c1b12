/* SPDX-License-Identifier: MIT */
/* relinkd metrics, Prometheus text format, written atomically to --metrics-file. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "trigger/decide.h"

enum action_result { RESULT_VERIFIED, RESULT_ESCALATED, RESULT_FAILED, RESULT_ABORTED, _RESULT_MAX };

#define METRICS_MAX_BUCKETS 16

struct histogram {
        const double *bounds;        /* upper bounds, ascending, +Inf implied */
        size_t n_bounds;
        uint64_t counts[METRICS_MAX_BUCKETS];  /* per bucket, not cumulative */
        uint64_t count;
        double sum;
};

struct metrics {
        uint64_t actions[3][_RESULT_MAX];   /* [enum action][result]; ACTION_NONE row unused */
        uint64_t decisions[3];              /* [enum action] */
        uint64_t served[_SERVED_MAX];       /* [enum served]: what the served-MAC probe established */
        uint64_t policy_denied[3];          /* [enum action]: decisions the operator's policy forbids */
        uint64_t observed[3];               /* [enum action]: decisions only logged (observe-only) */
        uint64_t connect_failures;
        unsigned connections;               /* open now */
        unsigned connections_known;         /* followed (open or retrying) */
        unsigned nics_missing;              /* NICs relinkd unplugged and has not put back (0 at rest) */
        uint64_t late_releases;             /* guest released a NIC after the unplug deadline */
        uint64_t recovered_late;            /* actions reported FAILED that later ended verified */
        uint64_t unplug_reasks;             /* unplug requests repeated to a guest that had not released */
        uint64_t attach_fallbacks;          /* the new NIC could not be attached: the old one put back */
        uint64_t libvirt_calls_unanswered;  /* libvirt calls past the call deadline, or refused meanwhile */
        uint64_t libvirt_call_timeouts;     /* calls abandoned at the deadline (a launcher stuck) */
        struct histogram renewal;           /* migration event → verified renewal */
        struct histogram first_call;        /* migration event → first libvirt call */
};

void metrics_init(struct metrics *m);
void histogram_observe(struct histogram *h, double v);
const char *action_result_to_string(enum action_result r);
/* Render (caller frees). 0 or -ENOMEM. */
int metrics_render(const struct metrics *m, char **ret);

/* The daemon's instance. */
extern struct metrics relinkd_metrics;
/* Set the output file (NULL: none). */
int metrics_open(const char *path);
/* Write the file if set and its text changed since the last successful write; failures are
 * returned (-errno), the daemon logs them once. */
int metrics_flush(void);
