/* SPDX-License-Identifier: MIT */
/* Domain jobs: every libvirt call runs from a timer, never from a callback. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>

#include "common/log.h"
#include "common/util.h"
#include "netconf/store.h"
#include "trigger/action.h"
#include "trigger/decide.h"
#include "trigger/loop.h"
#include "trigger/metrics.h"
#include "trigger/nicmap.h"
#include "trigger/reconcile.h"
#include "trigger/virtdom.h"

#define POSTCOPY_POLL_MS 200
#define POSTCOPY_MAX_POLLS 3000      /* 10 minutes */

struct job {
        struct job *next;
        struct pod *pod;
        virDomainPtr dom;
        char uuid[VIR_UUID_STRING_BUFLEN];
        enum trigger_kind why;
        int64_t t_event;
        int timer;
        unsigned polls;
        bool first_call_done;
};

static struct job *jobs;

const char *trigger_to_string(enum trigger_kind k) {
        switch (k) {
        case TRIGGER_MIGRATED:
                return "migrated";
        case TRIGGER_POSTCOPY:
                return "postcopy";
        case TRIGGER_BOOTED:
                return "booted";
        case TRIGGER_RECONCILE:
                return "reconcile";
        }
        return "?";
}

static bool trigger_is_migration(enum trigger_kind k) {
        return k == TRIGGER_MIGRATED || k == TRIGGER_POSTCOPY;
}

static void job_free(struct job *j) {
        for (struct job **pj = &jobs; *pj; pj = &(*pj)->next)
                if (*pj == j) {
                        *pj = j->next;
                        break;
                }
        timer_cancel(&j->timer);
        if (j->dom)
                virDomainFree(j->dom);
        pod_unref(j->pod);
        free(j);
}

static void job_run(void *opaque);

void domain_schedule(struct pod *p, virDomainPtr dom, enum trigger_kind why, int64_t t_event) {
        char uuid[VIR_UUID_STRING_BUFLEN];
        struct job *j;
        int r;

        if (virDomainGetUUIDString(dom, uuid) < 0)
                return;
        /* One pending job per domain and kind of trigger: RESUMED/POSTCOPY then RESUMED/MIGRATED
         * for the same migration, or a reconcile racing an event, collapse into one. */
        for (j = jobs; j; j = j->next)
                if (j->pod->vc == p->vc && streq(j->uuid, uuid) &&
                    trigger_is_migration(j->why) == trigger_is_migration(why)) {
                        if (trigger_is_migration(why) && why == TRIGGER_MIGRATED && j->why == TRIGGER_POSTCOPY)
                                log_debug("domain=%s post-copy completed", virDomainGetName(dom));
                        return;
                }
        j = calloc(1, sizeof(*j));
        if (!j)
                return;
        memcpy(j->uuid, uuid, sizeof(uuid));
        j->pod = pod_ref(p);
        virDomainRef(dom);
        j->dom = dom;
        j->why = why;
        j->t_event = t_event;
        r = timer_after(0, job_run, j);
        if (r < 0) {
                log_error("domain=%s cannot schedule: %s", virDomainGetName(dom), strerror(-r));
                j->next = NULL;
                virDomainFree(j->dom);
                pod_unref(j->pod);
                free(j);
                return;
        }
        j->timer = r;
        j->next = jobs;
        jobs = j;
}

void jobs_cancel_all(void) {
        while (jobs)
                job_free(jobs);
}

static int store_records(const struct pod *p, struct record ***ret, size_t *ret_n) {
        struct store *s = NULL;
        int r;

        r = store_open(relinkd_cfg->state_dir, false, &s);
        if (r == -ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (r < 0)
                return r;
        r = records_for_netns(s, p->ns_dev, p->ns_ino, ret, ret_n);
        store_close(s);
        return r;
}

static void identity_of(const struct record *rec, const char *live_mac, struct nic_identity *ret) {
        nic_identity_from_record(rec, ret);
        if (live_mac && *live_mac)
                snprintf(ret->mac, sizeof(ret->mac), "%s", live_mac);
}

static void job_handle(struct job *j) {
        const char *name = virDomainGetName(j->dom);
        struct dom_nic *nics = NULL;
        struct record **recs = NULL;
        struct pod_link *links = NULL;
        struct meta_nic *meta = NULL, *fresh = NULL;
        size_t n_nics = 0, n_recs = 0, n_links = 0, n_meta = 0, n_fresh = 0;
        bool have_meta, migrated;
        int state, reason, r;
        int64_t t_call = now_ms();

        r = virtdom_state(j->dom, &state, &reason);
        if (trigger_is_migration(j->why) && !j->first_call_done) {
                j->first_call_done = true;
                histogram_observe(&relinkd_metrics.first_call, (double) (t_call - j->t_event) / 1000.0);
        }
        if (r < 0) {
                log_warn("domain=%s conn=%s cannot get state: %s", name, j->pod->label, virt_error());
                return;
        }
        if (state == VIR_DOMAIN_RUNNING && reason == VIR_DOMAIN_RUNNING_POSTCOPY) {
                /* Device changes wait for the migration job to finish: poll, do not block. */
                if (j->polls++ == 0)
                        log_info("domain=%s conn=%s post-copy in progress, acting once it completes t_ms=%lld",
                                 name, j->pod->label, (long long) (t_call - j->t_event));
                if (j->polls < POSTCOPY_MAX_POLLS) {
                        int t = timer_after(POSTCOPY_POLL_MS, job_run, j);
                        if (t > 0) {
                                j->timer = t;
                                return;
                        }
                }
                log_error("domain=%s conn=%s post-copy did not complete; not acting", name, j->pod->label);
                return;
        }
        if (state != VIR_DOMAIN_RUNNING) {
                log_debug("domain=%s conn=%s not running (state %d reason %d), skipped", name, j->pod->label,
                          state, reason);
                return;
        }
        migrated = trigger_is_migration(j->why) || reason == VIR_DOMAIN_RUNNING_MIGRATED ||
                   reason == VIR_DOMAIN_RUNNING_POSTCOPY_FAILED;

        r = store_records(j->pod, &recs, &n_recs);
        if (r < 0) {
                log_error("domain=%s cannot read the state store '%s': %s", name, relinkd_cfg->state_dir,
                          strerror(-r));
                goto out;
        }
        if (n_recs == 0) {
                log_debug("domain=%s conn=%s no records for this pod netns: not ours", name, j->pod->label);
                goto out;
        }
        r = virtdom_nics(j->dom, &nics, &n_nics);
        if (r < 0) {
                log_warn("domain=%s cannot read its live XML: %s", name, r == -EIO ? virt_error() : strerror(-r));
                goto out;
        }
        r = pod_links_read(j->pod->ns_fd, &links, &n_links);
        if (r < 0) {
                log_error("domain=%s conn=%s cannot list the pod's links: %s", name, j->pod->label, strerror(-r));
                goto out;
        }
        r = virtdom_meta_get(j->dom, &meta, &n_meta);
        have_meta = r >= 0;
        if (r < 0 && r != -ENOENT)
                log_warn("domain=%s unreadable relink metadata (%s): treated as absent", name,
                         r == -EIO ? virt_error() : strerror(-r));

        for (size_t i = 0; i < n_nics; i++) {
                const struct dom_nic *nic = &nics[i];
                const struct meta_nic *had = have_meta ? metadata_find(meta, n_meta, nic->pci) : NULL;
                const struct record *rec;
                char why[256] = "", recname[600];
                enum action kind;
                size_t idx;

                if (nicmap_match(links, n_links, nic->target, recs, n_recs, &idx) < 0) {
                        log_debug("domain=%s nic=%s tap=%s bound to no record: untouched", name, nic->pci,
                                  nic->target);
                        continue;
                }
                rec = recs[idx];
                snprintf(recname, sizeof(recname), "%s/%s@%s", rec->network, rec->container_id, rec->ifname);
                if (!*nic->pci) {
                        log_warn("domain=%s nic=%s has no PCI address: untouched", name, nic->alias);
                        continue;
                }
                if (!migrated && !had) {
                        /* First sight: this is what the guest has now; it travels with the domain. */
                        struct meta_nic *m = realloc(fresh, (n_fresh + 1) * sizeof(*m));
                        if (!m)
                                break;
                        fresh = m;
                        memset(&fresh[n_fresh], 0, sizeof(*fresh));
                        snprintf(fresh[n_fresh].pci, sizeof(fresh[n_fresh].pci), "%s", nic->pci);
                        identity_of(rec, nic->mac, &fresh[n_fresh].id);
                        n_fresh++;
                        log_info("domain=%s nic=%s mac=%s record=%s first-sight trigger=%s: recording identity",
                                 name, nic->pci, nic->mac, recname, trigger_to_string(j->why));
                        continue;
                }
                kind = decide(had ? &had->id : NULL, nic->mac, rec, why, sizeof(why));
                if (kind == ACTION_NONE && !trigger_is_migration(j->why)) {
                        /* Reconciling an already handled domain: nothing to say at info level. */
                        log_debug("domain=%s nic=%s record=%s unchanged", name, nic->pci, recname);
                        continue;
                }
                relinkd_metrics.decisions[kind]++;
                log_info("domain=%s nic=%s mac=%s record=%s decision=%s reason=\"%s\" trigger=%s t_ms=%lld "
                         "first_call_ms=%lld", name, nic->pci, nic->mac, recname, action_to_string(kind), why,
                         trigger_to_string(j->why), (long long) (now_ms() - j->t_event),
                         (long long) (t_call - j->t_event));
                if (kind == ACTION_NONE || relinkd_cfg->dry_run)
                        continue;
                r = action_start(&(struct action_req) {
                        .pod = j->pod, .dom = j->dom, .nic = nic, .rec = rec, .kind = kind, .reason = why,
                        .t_event = j->t_event, .migrated = trigger_is_migration(j->why),
                });
                if (r == -EBUSY)
                        log_info("domain=%s nic=%s action already in progress", name, nic->pci);
                else if (r < 0)
                        log_error("domain=%s nic=%s cannot start %s: %s", name, nic->pci, action_to_string(kind),
                                  strerror(-r));
        }
        if (n_fresh > 0 && !relinkd_cfg->dry_run) {
                /* Keep entries of NICs we did not look at (e.g. unbound now). */
                for (size_t k = 0; k < n_meta; k++) {
                        if (metadata_find(fresh, n_fresh, meta[k].pci))
                                continue;
                        struct meta_nic *m = realloc(fresh, (n_fresh + 1) * sizeof(*m));
                        if (!m)
                                break;
                        fresh = m;
                        fresh[n_fresh++] = meta[k];
                }
                r = virtdom_meta_put(j->dom, fresh, n_fresh);
                if (r < 0)
                        log_warn("domain=%s cannot write relink metadata: %s", name,
                                 r == -EIO ? virt_error() : strerror(-r));
        }
out:
        metrics_flush();
        free(fresh);
        free(meta);
        free(links);
        dom_nics_free(nics, n_nics);
        records_free(recs, n_recs);
}

static void job_run(void *opaque) {
        struct job *j = opaque;

        j->timer = 0;
        if (j->pod->alive)
                job_handle(j);
        virResetLastError();
        if (j->timer == 0)
                job_free(j);
}

struct reconcile_req {
        struct pod *pod;
};

static void reconcile_run(void *opaque) {
        struct reconcile_req *q = opaque;
        virDomainPtr *doms = NULL;
        int n;

        if (q->pod->alive) {
                n = virConnectListAllDomains(q->pod->vc, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
                if (n < 0)
                        log_warn("conn=%s cannot list domains: %s", q->pod->label, virt_error());
                for (int i = 0; i < n; i++) {
                        domain_schedule(q->pod, doms[i], TRIGGER_RECONCILE, now_ms());
                        virDomainFree(doms[i]);
                }
                free(doms);
        }
        pod_unref(q->pod);
        free(q);
}

void pod_reconcile(struct pod *p) {
        struct reconcile_req *q = calloc(1, sizeof(*q));

        if (!q)
                return;
        q->pod = pod_ref(p);
        if (timer_after(0, reconcile_run, q) < 0) {
                pod_unref(q->pod);
                free(q);
        }
}
