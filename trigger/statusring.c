/* SPDX-License-Identifier: MIT */
/* The decision ring of `relinkd status`: a fixed array, evicting per domain first, then overall. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "trigger/statusring.h"

struct slot {
        struct st_decision d;        /* d.seq == 0: free */
        bool claimed;
};

static struct slot ring[STATUSRING_MAX];
static uint64_t last_seq;

static int64_t wall_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define COPY(dst, src) snprintf((dst), sizeof(dst), "%s", (src) ? (src) : "")

/* Where the next decision of uuid goes: the domain's oldest once it has its share, else a free
 * slot, else the oldest of all. */
static struct slot *slot_for(const char *uuid) {
        struct slot *dom_oldest = NULL, *free_slot = NULL, *oldest = NULL;
        unsigned dom_n = 0;

        for (size_t i = 0; i < STATUSRING_MAX; i++) {
                struct slot *s = &ring[i];

                if (s->d.seq == 0) {
                        if (!free_slot)
                                free_slot = s;
                        continue;
                }
                if (!oldest || s->d.seq < oldest->d.seq)
                        oldest = s;
                if (streq(s->d.uuid, uuid)) {
                        dom_n++;
                        if (!dom_oldest || s->d.seq < dom_oldest->d.seq)
                                dom_oldest = s;
                }
        }
        if (dom_n >= STATUSRING_PER_DOMAIN)
                return dom_oldest;
        return free_slot ? free_slot : oldest;
}

uint64_t statusring_decision(const char *uuid, const char *domain, const char *pod, const char *pci, const char *mac,
                             const char *record, enum action kind, const char *reason, const char *evidence,
                             const char *trigger, const char *final) {
        struct slot *s = slot_for(uuid ? uuid : "");
        struct st_decision *d = &s->d;

        *s = (struct slot) {};
        d->seq = ++last_seq;
        d->at_ms = wall_ms();
        COPY(d->uuid, uuid);
        COPY(d->domain, domain);
        COPY(d->pod, pod);
        COPY(d->nic_pci, pci);
        COPY(d->mac, mac);
        COPY(d->record, record);
        COPY(d->decision, action_to_string(kind));
        COPY(d->reason, reason);
        COPY(d->evidence, evidence);
        COPY(d->trigger, trigger);
        COPY(d->result, final ? final : "none");
        d->renewal_ms = -1;
        return d->seq;
}

uint64_t statusring_claim(const char *uuid, const char *pci) {
        struct slot *newest = NULL;

        for (size_t i = 0; i < STATUSRING_MAX; i++) {
                struct slot *s = &ring[i];

                if (s->d.seq && streq(s->d.uuid, uuid) && streq(s->d.nic_pci, pci) &&
                    (!newest || s->d.seq > newest->d.seq))
                        newest = s;
        }
        if (!newest || newest->claimed || streq(newest->d.decision, action_to_string(ACTION_NONE)) ||
            !streq(newest->d.result, "none"))
                return 0;
        newest->claimed = true;
        COPY(newest->d.result, "pending");
        return newest->d.seq;
}

static const char *result_text(enum action_result r) {
        switch (r) {
        case RESULT_VERIFIED:
                return "verified";
        case RESULT_FAILED:
                return "FAILED";
        case RESULT_ABORTED:
                return "aborted";
        case RESULT_ESCALATED:
        case _RESULT_MAX:
                break;
        }
        return "pending";
}

void statusring_outcome(uint64_t seq, enum action kind, enum action_result result, const char *note,
                        int64_t renewal_ms) {
        if (seq == 0)
                return;
        for (size_t i = 0; i < STATUSRING_MAX; i++) {
                struct st_decision *d = &ring[i].d;

                if (d->seq != seq || !ring[i].claimed)
                        continue;
                COPY(d->result, result_text(result));
                d->result_at_ms = wall_ms();
                COPY(d->kind, action_to_string(kind));
                COPY(d->note, note);
                d->renewal_ms = result == RESULT_VERIFIED ? renewal_ms : -1;
                return;
        }
}

static int by_seq(const void *a, const void *b) {
        const struct st_decision *x = a, *y = b;

        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

size_t statusring_copy(struct st_decision *out, size_t max) {
        size_t n = 0;

        for (size_t i = 0; i < STATUSRING_MAX && n < max; i++)
                if (ring[i].d.seq)
                        out[n++] = ring[i].d;
        qsort(out, n, sizeof(*out), by_seq);
        return n;
}

void statusring_reset(void) {
        memset(ring, 0, sizeof(ring));
        last_seq = 0;
}
