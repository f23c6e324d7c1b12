/* SPDX-License-Identifier: MIT */
/* Domain jobs: every libvirt call runs from a timer, never from a callback. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libvirt/virterror.h>

#include "common/log.h"
#include "common/util.h"
#include "netconf/store.h"
#include "trigger/action.h"
#include "trigger/decide.h"
#include "trigger/dhcpprobe.h"
#include "trigger/fingerprint.h"
#include "trigger/guestwatch.h"
#include "trigger/loop.h"
#include "trigger/metrics.h"
#include "trigger/nicmap.h"
#include "trigger/options.h"
#include "trigger/pending.h"
#include "trigger/policy.h"
#include "trigger/reconcile.h"
#include "trigger/statusring.h"
#include "trigger/virtdom.h"

#define POSTCOPY_POLL_MS 200
#define POSTCOPY_MAX_POLLS 3000      /* 10 minutes */

#define PROBE_CACHE_TTL_MS (10 * 60 * 1000)   /* a pod's DHCP server serves one MAC for its life */
#define PROBE_DRAIN_MS 2000                    /* shutdown: wait for the probe veths to be deleted */

/* What a job read from libvirt, the store and the pod netns; kept while it waits for probes. */
struct snap {
        struct dom_nic *nics;
        struct record **recs;
        struct pod_link *links;
        struct meta_nic *meta;
        size_t n_nics, n_recs, n_links, n_meta;
        bool have_meta, migrated;
        int64_t t_call;
};

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
        bool parked;                 /* waiting for served-MAC probes (snap is filled) */
        int64_t t_parked;
        struct snap snap;
        struct meta_nic *fresh;      /* first sightings, while deciding */
        size_t n_fresh;
};

static struct job *jobs;

/* Served-MAC probe results, per (pod netns, domain, tap, NIC MAC, record MAC). Started at
 * STARTED/MIGRATED (head start: the guest is still paused) or by the job that needs one. */
struct pcache {
        struct pcache *next;
        uint64_t ns_dev, ns_ino;
        char uuid[VIR_UUID_STRING_BUFLEN];
        char tap[IFNAMSIZ];
        char mac_nic[18], mac_rec[18];
        struct dhcpprobe *probe;     /* running; NULL once done */
        struct probe_result res;
        bool head_start;
        int expiry;
};

static struct pcache *probes;

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

static void snap_clear(struct snap *s) {
        free(s->meta);
        free(s->links);
        dom_nics_free(s->nics, s->n_nics);
        records_free(s->recs, s->n_recs);
        *s = (struct snap) {};
}

static void job_free(struct job *j) {
        for (struct job **pj = &jobs; *pj; pj = &(*pj)->next)
                if (*pj == j) {
                        *pj = j->next;
                        break;
                }
        timer_cancel(&j->timer);
        snap_clear(&j->snap);
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
                        if (why == TRIGGER_MIGRATED && j->why == TRIGGER_POSTCOPY && j->polls > 0 && !j->parked) {
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

static void pcache_free(struct pcache *e) {
        for (struct pcache **pe = &probes; *pe; pe = &(*pe)->next)
                if (*pe == e) {
                        *pe = e->next;
                        break;
                }
        dhcpprobe_cancel(e->probe);
        timer_cancel(&e->expiry);
        free(e);
}

void jobs_cancel_all(void) {
        unsigned left;

        while (jobs)
                job_free(jobs);
        while (probes)
                pcache_free(probes);
        left = dhcpprobe_drain(PROBE_DRAIN_MS);
        if (left > 0)
                log_warn("%u probe veth(s) still being deleted at exit", left);
}

/* Every job reads the store: say why a file is skipped once per file and reason, not once per job. */
#define SKIP_SEEN_MAX 64
static void log_skipped(const char *network, const char *file, const char *reason, void *userdata) {
        static char seen[SKIP_SEEN_MAX][NAME_MAX + 160];
        static unsigned n_seen;
        char key[sizeof(seen[0])];

        snprintf(key, sizeof(key), "%s/%s %s", network, file, reason);
        for (unsigned i = 0; i < n_seen && i < SKIP_SEEN_MAX; i++)
                if (streq(seen[i], key)) {
                        log_debug("state store '%s': skipped %s/%s: %s", relinkd_cfg->state_dir, network, file,
                                  reason);
                        return;
                }
        snprintf(seen[n_seen++ % SKIP_SEEN_MAX], sizeof(seen[0]), "%s", key);
        log_warn("state store '%s': record file %s/%s skipped: %s; fix or remove it", relinkd_cfg->state_dir,
                 network, file, reason);
}

static int store_records(const struct pod *p, struct record ***ret, size_t *ret_n) {
        struct store *s = NULL;
        unsigned skipped = 0;
        int r;

        r = store_open(relinkd_cfg->state_dir, false, &s);
        if (r == -ENOENT) {
                /* It existed at start-up (statedir.h): removed since, every VM of the node looks "not ours". */
                log_warn("state store '%s' is gone (removed after relinkd started): no records, pod %s not acted on",
                         relinkd_cfg->state_dir, p->label);
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (r < 0)
                return r;
        store_set_skip_report(s, log_skipped, NULL);
        r = records_for_netns(s, p->ns_dev, p->ns_ino, ret, ret_n, &skipped);
        store_close(s);
        if (r >= 0 && skipped > 0)
                log_debug("state store '%s': %u record file(s) skipped", relinkd_cfg->state_dir, skipped);
        return r;
}

enum nic_plan plan_nic(bool migration_event, bool migrated_in, const struct meta_nic *had, const char *live_mac,
                       const struct record *rec, enum action *ret_kind, char *reason, size_t reason_size) {
        enum action kind;

        if (!migrated_in && !migration_event && !had)
                return PLAN_FIRST_SIGHT;
        /* Handled before: the metadata holds the live MAC and the pod's network, only the record's MAC
         * differs (the served MAC was the NIC's, e.g. a spec MAC or KubeVirt ≥ 1.9): nothing to probe. */
        if (!migration_event && had && live_mac && *live_mac && strcasecmp(had->id.mac, live_mac) == 0 &&
            decide(&had->id, NULL, rec, NULL, 0) == ACTION_NONE)
                return PLAN_QUIET;
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
                statusring_decision(j->uuid, name, j->pod->label, pend[k].pci, pn[0].mac, recs[idx]->network,
                                    ACTION_REATTACH, "outstanding unplug", "-", trigger_to_string(j->why), NULL);
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

/* ---------------------------------------------------------------- served-MAC probes */

static struct pcache *pcache_find(uint64_t dev, uint64_t ino, const char *uuid, const char *tap, const char *mac_nic,
                                  const char *mac_rec) {
        for (struct pcache *e = probes; e; e = e->next)
                if (e->ns_dev == dev && e->ns_ino == ino && streq(e->uuid, uuid) && streq(e->tap, tap) &&
                    strcasecmp(e->mac_nic, mac_nic) == 0 && strcasecmp(e->mac_rec, mac_rec) == 0)
                        return e;
        return NULL;
}

static void pcache_expire(void *opaque) {
        struct pcache *e = opaque;

        e->expiry = 0;
        pcache_free(e);
}

static void job_wake(void *opaque);

/* A probe finished (or could not start): keep the result a while, wake the jobs waiting for it. */
static void pcache_done(struct pcache *e) {
        int r;

        r = timer_after(PROBE_CACHE_TTL_MS, pcache_expire, e);
        if (r > 0)
                e->expiry = r;
        for (struct job *j = jobs; j; j = j->next) {
                if (!j->parked || j->timer > 0 || j->pod->ns_dev != e->ns_dev || j->pod->ns_ino != e->ns_ino ||
                    !streq(j->uuid, e->uuid))
                        continue;
                r = timer_after(0, job_wake, j);
                if (r > 0)
                        j->timer = r;
        }
}

static void on_probe_done(const struct probe_result *res, void *opaque) {
        struct pcache *e = opaque;

        e->probe = NULL;
        e->res = *res;
        log_debug("probe tap=%s mac=%s answered=%s mac=%s answered=%s elapsed_ms=%u ready_ms=%u%s", e->tap,
                  res->cand[0].mac, res->cand[0].answered ? "yes" : "no", res->cand[1].mac,
                  res->cand[1].answered ? "yes" : "no", res->elapsed_ms, res->ready_ms,
                  e->head_start ? " head_start" : "");
        pcache_done(e);
}

/* Start probing which of the NIC's MAC and the record's MAC the pod's DHCP server answers. NULL on
 * ENOMEM; an impossible probe is an entry that is already done. */
static struct pcache *pcache_start(struct pod *p, const char *uuid, const char *tap, const char *mac_nic,
                                   const char *mac_rec, bool head_start) {
        const char *macs[2] = { mac_nic, mac_rec };
        struct pcache *e = calloc(1, sizeof(*e));
        int r;

        if (!e)
                return NULL;
        e->ns_dev = p->ns_dev;
        e->ns_ino = p->ns_ino;
        snprintf(e->uuid, sizeof(e->uuid), "%s", uuid);
        snprintf(e->tap, sizeof(e->tap), "%s", tap);
        snprintf(e->mac_nic, sizeof(e->mac_nic), "%s", mac_nic);
        snprintf(e->mac_rec, sizeof(e->mac_rec), "%s", mac_rec);
        e->head_start = head_start;
        e->next = probes;
        probes = e;
        r = dhcpprobe_start(p->ns_fd, tap, macs, 2, relinkd_cfg->probe_timeout_ms, on_probe_done, e, &e->probe);
        if (r < 0) {
                e->probe = NULL;
                e->res = (struct probe_result) { .error = r };
                log_debug("probe tap=%s impossible: %s", tap, dhcpprobe_strerror(r));
                pcache_done(e);
        }
        return e;
}

/* ---------------------------------------------------------------- domain jobs */

/* The record of nic (NULL: bound to none) and its plan. */
static const struct record *nic_plan_of(const struct job *j, const struct dom_nic *nic, const struct meta_nic **ret_had,
                                        enum nic_plan *ret_plan, enum action *ret_kind, char *why, size_t why_size) {
        const struct snap *s = &j->snap;
        const struct meta_nic *had;
        size_t idx;

        if (nicmap_match(s->links, s->n_links, nic->target, s->recs, s->n_recs, &idx) < 0 || !*nic->pci)
                return NULL;
        had = s->have_meta ? metadata_find(s->meta, s->n_meta, nic->pci) : NULL;
        *ret_had = had;
        *ret_plan = plan_nic(trigger_is_migration(j->why), s->migrated, had, nic->mac, s->recs[idx], ret_kind, why,
                             why_size);
        return s->recs[idx];
}

/* Make sure every NIC whose decision needs the served MAC has a probe; count those still running. */
static unsigned job_probes_running(struct job *j) {
        unsigned running = 0;

        for (size_t i = 0; i < j->snap.n_nics; i++) {
                const struct dom_nic *nic = &j->snap.nics[i];
                const struct meta_nic *had;
                const struct record *rec;
                enum action kind;
                enum nic_plan plan;
                struct pcache *e;
                char why[256];

                rec = nic_plan_of(j, nic, &had, &plan, &kind, why, sizeof(why));
                if (!rec || plan != PLAN_DECIDED || !served_probe_needed(nic->mac, rec->mac) ||
                    action_busy(j->pod, j->dom, nic->pci))
                        continue;
                e = pcache_find(j->pod->ns_dev, j->pod->ns_ino, j->uuid, nic->target, nic->mac, rec->mac);
                if (!e)
                        e = pcache_start(j->pod, j->uuid, nic->target, nic->mac, rec->mac, false);
                if (e && e->probe)
                        running++;
        }
        return running;
}

/* The policy forbids what the guest needs: relinkd leaves the NIC alone and says what that means. */
static void policy_denied_log(const char *name, const struct dom_nic *nic, const char *recname,
                              const struct policy_rule *rule, const struct served_decision *d, const char *obs) {
        log_warn("domain=%s nic=%s record=%s policy-denied kind=%s policy=%s(%s)%s: policy %s(%s) forbids %s: the "
                 "guest keeps its NIC as it is (mac %s)%s; nothing done", name, nic->pci, recname,
                 action_to_string(d->kind), policy_to_string(rule->policy), policy_src_to_string(rule->src), obs,
                 policy_to_string(rule->policy), policy_src_to_string(rule->src), action_to_string(d->kind),
                 nic->mac, d->kind == ACTION_REATTACH ? " and the pod's DHCP server may not answer it"
                                                      : " and its old lease until it renews by itself");
}

/* Decide one NIC with the served MAC and act. */
static void job_nic(struct job *j, const struct dom_nic *nic) {
        const char *name = virDomainGetName(j->dom);
        const struct meta_nic *had = NULL;
        const struct record *rec;
        char why[256] = "", base_why[256] = "", recname[600], src[64] = "none", obs[32] = "";
        struct served_decision d;
        struct policy_rule rule;
        struct served_in in;
        enum action kind = ACTION_NONE;
        enum nic_plan plan;
        int r;

        rec = nic_plan_of(j, nic, &had, &plan, &kind, why, sizeof(why));
        if (!rec) {
                if (!*nic->pci)
                        log_warn("domain=%s nic=%s has no PCI address: untouched", name, nic->alias);
                else
                        log_debug("domain=%s nic=%s tap=%s bound to no record: untouched", name, nic->pci,
                                  nic->target);
                return;
        }
        snprintf(recname, sizeof(recname), "%s/%s@%s", rec->network, rec->container_id, rec->ifname);
        if (action_busy(j->pod, j->dom, nic->pci)) {
                log_debug("domain=%s nic=%s action already in progress", name, nic->pci);
                return;
        }
        policy_resolve(&rec->policy, relinkd_cfg->dry_run, &rule);
        if (rule.observe == OBSERVE_OFF)        /* it writes the client into the domain's metadata */
                guestwatch_follow(j->pod, j->dom, nic->pci, nic->target, had);
        if (plan == PLAN_FIRST_SIGHT && rule.observe != OBSERVE_OFF) {
                /* Observe-only writes nothing into the domain, not even its first-sight identity. */
                log_info("domain=%s nic=%s mac=%s record=%s first-sight trigger=%s observe=%s: would record "
                         "identity (not written)", name, nic->pci, nic->mac, recname, trigger_to_string(j->why),
                         observe_src_to_string(rule.observe));
                return;
        }
        if (plan == PLAN_FIRST_SIGHT) {
                /* First sight: this is what the guest has now; it travels with the domain. */
                struct meta_nic *m = metadata_append(&j->fresh, &j->n_fresh);
                if (!m)
                        return;
                snprintf(m->pci, sizeof(m->pci), "%s", nic->pci);
                identity_of(rec, nic->mac, &m->id);
                log_info("domain=%s nic=%s mac=%s record=%s first-sight trigger=%s: recording identity",
                         name, nic->pci, nic->mac, recname, trigger_to_string(j->why));
                return;
        }
        if (plan == PLAN_QUIET && had && *had->applied) {
                /* An action made its change and no action of ours verifies it: the relinkd that did it
                 * died during the verification, or the action ended FAILED. Done once; not done again. Said once: the mark is cleared. */
                struct meta_nic *m = metadata_append(&j->fresh, &j->n_fresh);

                log_info("domain=%s nic=%s mac=%s record=%s decision=none reason=\"the %s was applied by an "
                         "action that did not verify it (relinkd restarted during its verification, or it FAILED): "
                         "not repeated\" applied=%s trigger=%s", name, nic->pci, nic->mac, recname, had->applied,
                         had->applied, trigger_to_string(j->why));
                if (!m)
                        return;
                *m = *had;
                m->applied[0] = '\0';
                return;
        }
        if (plan == PLAN_QUIET) {
                /* Reconciling an already handled domain: nothing to say at info level. */
                log_debug("domain=%s nic=%s record=%s unchanged", name, nic->pci, recname);
                return;
        }

        /* The base: everything but the MAC; the served MAC decides the MAC. */
        in = (struct served_in) {
                .base = decide(had ? &had->id : NULL, NULL, rec, base_why, sizeof(base_why)),
                .base_reason = base_why, .nic_mac = nic->mac, .rec_mac = rec->mac,
                .nic = PROBE_NOT_RUN, .rec = PROBE_NOT_RUN, .probe_ms = -1,
        };
        if (served_probe_needed(nic->mac, rec->mac)) {
                const struct pcache *e = pcache_find(j->pod->ns_dev, j->pod->ns_ino, j->uuid, nic->target,
                                                     nic->mac, rec->mac);

                if (!e || e->probe)
                        in.probe_error = "no probe result";
                else if (e->res.error < 0) {
                        in.nic = in.rec = PROBE_IMPOSSIBLE;
                        in.probe_error = dhcpprobe_strerror(e->res.error);
                } else {
                        in.nic = e->res.cand[0].answered ? PROBE_ANSWERED : PROBE_UNANSWERED;
                        in.rec = e->res.cand[1].answered ? PROBE_ANSWERED : PROBE_UNANSWERED;
                        in.probe_ms = (int) e->res.elapsed_ms;
                }
                if (e)
                        snprintf(src, sizeof(src), "%s", e->head_start ? "head-start" : "job");
                if (j->t_parked)
                        snprintf(src + strlen(src), sizeof(src) - strlen(src), " probe_wait_ms=%lld",
                                 (long long) (now_ms() - j->t_parked));
        }
        decide_served(&in, &d);
        /* MAC kept: the guest's DHCP client (or what worked last time) may make the flap futile. */
        bool skip_flap = d.kind == ACTION_FLAP &&
                         fingerprint_skip_flap(had ? had->client : CLIENT_UNKNOWN, had ? had->worked : WORKED_NONE,
                                               NULL);
        char client[96] = "";
        if (d.kind == ACTION_FLAP)
                snprintf(client, sizeof(client), " client=%s (%s)%s%s first=%s",
                         client_to_string(had ? had->client : CLIENT_UNKNOWN),
                         client_src_to_string(had ? had->client_src : SRC_NONE),
                         had && had->worked != WORKED_NONE ? " worked=" : "",
                         had && had->worked != WORKED_NONE ? worked_to_string(had->worked) : "",
                         skip_flap ? "reattach" : "flap");
        if (d.kind == ACTION_NONE && !trigger_is_migration(j->why)) {
                log_debug("domain=%s nic=%s record=%s unchanged (%s)", name, nic->pci, recname, d.evidence);
                return;
        }
        relinkd_metrics.decisions[d.kind]++;
        relinkd_metrics.served[d.served]++;
        if (rule.observe != OBSERVE_OFF)
                snprintf(obs, sizeof(obs), " observe=%s", observe_src_to_string(rule.observe));
        log_info("domain=%s nic=%s mac=%s record=%s decision=%s reason=\"%s\" %s probe_src=%s mac_new=%s "
                 "mac_alt=%s%s trigger=%s t_ms=%lld first_call_ms=%lld policy=%s(%s)%s", name, nic->pci, nic->mac,
                 recname, action_to_string(d.kind), d.reason, d.evidence, src, d.mac_new,
                 *d.mac_alt ? d.mac_alt : "-", client, trigger_to_string(j->why), (long long) (now_ms() - j->t_event),
                 (long long) (j->snap.t_call - j->t_event), policy_to_string(rule.policy),
                 policy_src_to_string(rule.src), obs);
        statusring_decision(j->uuid, name, j->pod->label, nic->pci, nic->mac, recname, d.kind, d.reason, d.evidence,
                            trigger_to_string(j->why), !policy_permits(rule.policy, d.kind) ? "denied"
                            : rule.observe != OBSERVE_OFF && d.kind != ACTION_NONE ? "observed" : NULL);
        /* The policy's word is final, observed or not: an observing relinkd says what an acting one would. */
        if (!policy_permits(rule.policy, d.kind)) {
                relinkd_metrics.policy_denied[d.kind]++;
                policy_denied_log(name, nic, recname, &rule, &d, obs);
                return;
        }
        if (rule.observe != OBSERVE_OFF) {
                relinkd_metrics.observed[d.kind]++;
                log_info("domain=%s nic=%s record=%s observed%s: would %s mac_new=%s mac_alt=%s allow=%s; the "
                         "domain is not touched", name, nic->pci, recname, obs,
                         d.kind == ACTION_NONE ? "do nothing"
                         : d.kind == ACTION_FLAP && !(policy_allow(rule.policy) & ACTION_ALLOW_FLAP)
                         ? "flap (as a same-MAC re-plug: the policy allows no flap)" : action_to_string(d.kind),
                         d.mac_new, *d.mac_alt ? d.mac_alt : "-", policy_to_string(rule.policy));
                return;
        }
        if (d.kind == ACTION_NONE)
                return;
        r = action_start(&(struct action_req) {
                .pod = j->pod, .dom = j->dom, .nic = nic, .rec = rec, .kind = d.kind,
                .mac_new = d.mac_new, .mac_alt = d.mac_alt,
                .t_event = j->t_event, .migrated = trigger_is_migration(j->why),
                .allow = rule.policy == POLICY_ANY ? 0 : policy_allow(rule.policy),   /* 0: all */
                .skip_flap = skip_flap,
                .nic_fresh = !j->t_parked,   /* read in this loop turn, unless the job waited for a probe */
        });
        if (r == -EPERM) {
                /* a narrowing policy left the ladder empty (e.g. no usable MAC for the rungs it
                 * allows): the same final word */
                relinkd_metrics.policy_denied[d.kind]++;
                policy_denied_log(name, nic, recname, &rule, &d, obs);
        } else if (r == -EBUSY)
                log_info("domain=%s nic=%s action already in progress", name, nic->pci);
        else if (r < 0)
                log_error("domain=%s nic=%s cannot start %s: %s", name, nic->pci, action_to_string(d.kind),
                          strerror(-r));
}

/* Every NIC of the snapshot: decide, act, keep the metadata of first sightings. */
static void job_decide(struct job *j) {
        const struct snap *s = &j->snap;
        int r;

        j->fresh = NULL;
        j->n_fresh = 0;
        for (size_t i = 0; i < s->n_nics; i++)
                job_nic(j, &s->nics[i]);
        if (j->n_fresh > 0 && !relinkd_cfg->dry_run) {
                /* Keep entries of NICs we did not look at (e.g. unbound now). */
                for (size_t k = 0; k < s->n_meta; k++) {
                        struct meta_nic *m;

                        if (metadata_find(j->fresh, j->n_fresh, s->meta[k].pci))
                                continue;
                        m = metadata_append(&j->fresh, &j->n_fresh);
                        if (!m)
                                break;
                        *m = s->meta[k];
                }
                r = virtdom_meta_put(j->dom, j->fresh, j->n_fresh);
                if (r < 0)
                        log_warn("domain=%s cannot write relink metadata: %s", virDomainGetName(j->dom),
                                 virt_strerror(r));
        }
        free(j->fresh);
        j->fresh = NULL;
        j->n_fresh = 0;
        metrics_flush();
}

/* Read everything the decision needs; then probe (parking the job) or decide at once. */
static void job_handle(struct job *j) {
        const char *name = virDomainGetName(j->dom);
        struct snap *s = &j->snap;
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
        snap_clear(s);
        s->t_call = t_call;
        s->migrated = trigger_is_migration(j->why) || reason == VIR_DOMAIN_RUNNING_MIGRATED ||
                      reason == VIR_DOMAIN_RUNNING_POSTCOPY_FAILED;

        r = store_records(j->pod, &s->recs, &s->n_recs);
        if (r < 0) {
                log_error("domain=%s cannot read the state store '%s': %s", name, relinkd_cfg->state_dir,
                          store_strerror(r));
                return;
        }
        if (s->n_recs == 0) {
                log_debug("domain=%s conn=%s no records for this pod netns: not ours", name, j->pod->label);
                return;
        }
        r = virtdom_nics(j->dom, &s->nics, &s->n_nics);
        if (r < 0) {
                log_warn("domain=%s cannot read its live XML: %s", name, virt_strerror(r));
                return;
        }
        r = pod_links_read(j->pod->ns_fd, &s->links, &s->n_links);
        if (r < 0) {
                log_error("domain=%s conn=%s cannot list the pod's links: %s", name, j->pod->label, strerror(-r));
                return;
        }
        r = virtdom_meta_get(j->dom, &s->meta, &s->n_meta);
        s->have_meta = r >= 0;
        if (r < 0 && r != -ENOENT)
                log_warn("domain=%s unreadable relink metadata (%s): treated as absent", name,
                         virt_strerror(r));

        if (!relinkd_cfg->dry_run)
                resume_pending(j, s->nics, s->n_nics, s->links, s->n_links, s->recs, s->n_recs);

        if (job_probes_running(j) > 0) {
                /* The probes' completion wakes the job (job_wake); nothing blocks meanwhile. */
                j->parked = true;
                j->t_parked = now_ms();
                log_debug("domain=%s waiting for the served-MAC probe", name);
                return;
        }
        job_decide(j);
}

static void job_run(void *opaque) {
        struct job *j = opaque;

        j->timer = 0;
        if (j->pod->alive)
                job_handle(j);
        virResetLastError();
        if (j->timer == 0 && !j->parked)
                job_free(j);
}

/* A probe the parked job waits for finished. The job keeps its pod reference while parked, so the
 * pod's connection may have died meanwhile: then the reconcile after the reconnect decides. */
static void job_wake(void *opaque) {
        struct job *j = opaque;

        j->timer = 0;
        if (!j->pod->alive) {
                log_info("domain=%s conn=%s connection lost while probing: the reconcile after the reconnect "
                         "decides", virDomainGetName(j->dom), j->pod->label);
                job_free(j);
                return;
        }
        if (job_probes_running(j) > 0)
                return;                 /* still parked: another probe of this domain runs */
        j->parked = false;
        job_decide(j);
        virResetLastError();
        if (j->timer == 0)
                job_free(j);
}

/* ---------------------------------------------------------------- head start */

struct incoming {
        struct pod *pod;
        virDomainPtr dom;
};

/* STARTED/MIGRATED: start the probes the RESUMED/MIGRATED job will need. */
static void incoming_run(void *opaque) {
        struct incoming *q = opaque;
        char uuid[VIR_UUID_STRING_BUFLEN];
        struct dom_nic *nics = NULL;
        struct record **recs = NULL;
        struct pod_link *links = NULL;
        size_t n_nics = 0, n_recs = 0, n_links = 0, idx;

        if (!q->pod->alive || virDomainGetUUIDString(q->dom, uuid) < 0)
                goto out;
        if (store_records(q->pod, &recs, &n_recs) < 0 || n_recs == 0)
                goto out;
        if (virtdom_nics(q->dom, &nics, &n_nics) < 0 || pod_links_read(q->pod->ns_fd, &links, &n_links) < 0)
                goto out;
        for (size_t i = 0; i < n_nics; i++) {
                if (nicmap_match(links, n_links, nics[i].target, recs, n_recs, &idx) < 0 ||
                    !served_probe_needed(nics[i].mac, recs[idx]->mac) ||
                    pcache_find(q->pod->ns_dev, q->pod->ns_ino, uuid, nics[i].target, nics[i].mac, recs[idx]->mac))
                        continue;
                log_debug("domain=%s nic=%s incoming migration: probing the served MAC ahead (nic %s, record %s)",
                          virDomainGetName(q->dom), nics[i].pci, nics[i].mac, recs[idx]->mac);
                pcache_start(q->pod, uuid, nics[i].target, nics[i].mac, recs[idx]->mac, true);
        }
out:
        virResetLastError();
        free(links);
        dom_nics_free(nics, n_nics);
        records_free(recs, n_recs);
        virDomainFree(q->dom);
        pod_unref(q->pod);
        free(q);
}

void domain_incoming(struct pod *p, virDomainPtr dom) {
        struct incoming *q = calloc(1, sizeof(*q));

        if (!q)
                return;
        q->pod = pod_ref(p);
        virDomainRef(dom);
        q->dom = dom;
        if (timer_after(0, incoming_run, q) < 0) {
                virDomainFree(q->dom);
                pod_unref(q->pod);
                free(q);
        }
}

struct reconcile_req {
        struct pod *pod;
};

static void reconcile_run(void *opaque) {
        struct reconcile_req *q = opaque;
        virDomainPtr *doms = NULL;
        size_t n = 0;
        int r;

        if (q->pod->alive) {
                r = virtdom_list_active(q->pod->vc, &doms, &n);
                if (r < 0)
                        log_warn("conn=%s cannot list domains: %s", q->pod->label, virt_strerror(r));
                for (size_t i = 0; i < n; i++) {
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
