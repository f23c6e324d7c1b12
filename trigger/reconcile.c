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
#include "trigger/options.h"
#include "trigger/pending.h"
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
        int64_t t_event_us;          /* the same, finer: event → first libvirt call */
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
                        if (why == TRIGGER_MIGRATED && j->why == TRIGGER_POSTCOPY && j->polls > 0) {
                                /* Post-copy finished: act now instead of at the next poll. */
                                log_debug("domain=%s post-copy completed", virDomainGetName(dom));
                                timer_cancel(&j->timer);
                                r = timer_after(0, job_run, j);
                                if (r > 0)
                                        j->timer = r;
                        }
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
        j->t_event_us = now_us();
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

enum nic_plan plan_nic(bool migration_event, bool migrated_in, const struct meta_nic *had, const char *live_mac,
                       const struct record *rec, enum action *ret_kind, char *reason, size_t reason_size) {
        enum action kind;

        if (!migrated_in && !migration_event && !had)
                return PLAN_FIRST_SIGHT;
        kind = decide(had ? &had->id : NULL, live_mac, rec, reason, reason_size);
        if (kind == ACTION_NONE && !migration_event)
                return PLAN_QUIET;
        *ret_kind = kind;
        return PLAN_DECIDED;
}

static void identity_of(const struct record *rec, const char *live_mac, struct nic_identity *ret) {
        nic_identity_from_record(rec, ret);
        if (live_mac && *live_mac)
                snprintf(ret->mac, sizeof(ret->mac), "%s", live_mac);
}

/* Unplugs recorded in the domain and never finished (relinkd restarted or lost the connection
 * between asking the guest to release a NIC and putting one back): the action resumes them in
 * whatever state the slot is in (still held, released, or already re-attached). */
static void resume_pending(struct job *j, const struct dom_nic *nics, size_t n_nics, const struct pod_link *links,
                           size_t n_links, struct record *const *recs, size_t n_recs) {
        const char *name = virDomainGetName(j->dom);
        struct pending_nic *pend = NULL;
        size_t n_pend = 0;
        int r;

        r = pending_get(j->dom, &pend, &n_pend);
        if (r == -ENOENT)
                return;
        if (r < 0) {
                log_warn("domain=%s unreadable pending re-attach metadata: %s", name,
                         virt_strerror(r));
                return;
        }
        for (size_t k = 0; k < n_pend; k++) {
                _cleanup_free_ char *wrapped = NULL;
                struct dom_nic *pn = NULL;
                size_t n_pn = 0, idx;

                if (action_busy(j->pod, j->dom, pend[k].pci))
                        continue;           /* our own re-attach in flight */
                if (asprintf(&wrapped, "<domain><devices>%s</devices></domain>", pend[k].iface_xml) < 0)
                        break;
                r = domxml_nics(wrapped, &pn, &n_pn);
                if (r < 0 || n_pn != 1) {
                        log_error("domain=%s nic=%s pending re-attach element unusable: %s", name, pend[k].pci,
                                  r < 0 ? strerror(-r) : "not one <interface>");
                        dom_nics_free(pn, n_pn);
                        continue;
                }
                if (nicmap_match(links, n_links, pn[0].target, recs, n_recs, &idx) < 0) {
                        log_error("domain=%s nic=%s pending re-attach of tap '%s', which is bound to no record "
                                  "here: left alone", name, pend[k].pci, pn[0].target);
                        dom_nics_free(pn, n_pn);
                        continue;
                }
                relinkd_metrics.decisions[ACTION_REATTACH]++;
                log_info("domain=%s nic=%s mac=%s record=%s/%s@%s decision=reattach reason=\"outstanding unplug "
                         "(%s)\" trigger=%s t_ms=%lld", name, pend[k].pci, pn[0].mac, recs[idx]->network,
                         recs[idx]->container_id, recs[idx]->ifname,
                         virtdom_nic_find(nics, n_nics, pend[k].pci, NULL) >= 0 ? "NIC still at its slot"
                                                                               : "NIC released, not attached",
                         trigger_to_string(j->why), (long long) (now_ms() - j->t_event));
                r = action_start(&(struct action_req) {
                        .pod = j->pod, .dom = j->dom, .nic = &pn[0], .rec = recs[idx], .kind = ACTION_REATTACH,
                        .t_event = j->t_event, .migrated = trigger_is_migration(j->why),
                        .resume = &pend[k],
                });
                if (r < 0 && r != -EBUSY)
                        log_error("domain=%s nic=%s cannot resume the re-attach: %s", name, pend[k].pci,
                                  strerror(-r));
                dom_nics_free(pn, n_pn);
        }
        pending_free(pend, n_pend);
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
        int64_t t_call = now_ms(), t_call_us = now_us();

        r = virtdom_state(j->dom, &state, &reason);
        if (trigger_is_migration(j->why) && !j->first_call_done) {
                j->first_call_done = true;
                histogram_observe(&relinkd_metrics.first_call, (double) (t_call_us - j->t_event_us) / 1e6);
                log_debug("domain=%s event_to_first_call_us=%lld", name, (long long) (t_call_us - j->t_event_us));
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
        action_adopt(j->pod, j->dom);
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
                log_warn("domain=%s cannot read its live XML: %s", name, virt_strerror(r));
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
                         virt_strerror(r));

        if (!relinkd_cfg->dry_run)
                resume_pending(j, nics, n_nics, links, n_links, recs, n_recs);

        for (size_t i = 0; i < n_nics; i++) {
                const struct dom_nic *nic = &nics[i];
                const struct meta_nic *had = have_meta ? metadata_find(meta, n_meta, nic->pci) : NULL;
                const struct record *rec;
                char why[256] = "", recname[600];
                enum action kind = ACTION_NONE;
                enum nic_plan plan;
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
                if (action_busy(j->pod, j->dom, nic->pci)) {
                        log_debug("domain=%s nic=%s action already in progress", name, nic->pci);
                        continue;
                }
                plan = plan_nic(trigger_is_migration(j->why), migrated, had, nic->mac, rec, &kind, why, sizeof(why));
                if (plan == PLAN_FIRST_SIGHT) {
                        /* First sight: this is what the guest has now; it travels with the domain. */
                        struct meta_nic *m = metadata_append(&fresh, &n_fresh);
                        if (!m)
                                break;
                        snprintf(m->pci, sizeof(m->pci), "%s", nic->pci);
                        identity_of(rec, nic->mac, &m->id);
                        log_info("domain=%s nic=%s mac=%s record=%s first-sight trigger=%s: recording identity%s",
                                 name, nic->pci, nic->mac, recname, trigger_to_string(j->why),
                                 relinkd_cfg->dry_run ? " (dry run: not written)" : "");
                        continue;
                }
                if (plan == PLAN_QUIET) {
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
                        .pod = j->pod, .dom = j->dom, .nic = nic, .rec = rec, .kind = kind,
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
                        struct meta_nic *m;

                        if (metadata_find(fresh, n_fresh, meta[k].pci))
                                continue;
                        m = metadata_append(&fresh, &n_fresh);
                        if (!m)
                                break;
                        *m = meta[k];
                }
                r = virtdom_meta_put(j->dom, fresh, n_fresh);
                if (r < 0)
                        log_warn("domain=%s cannot write relink metadata: %s", name,
                                 virt_strerror(r));
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
