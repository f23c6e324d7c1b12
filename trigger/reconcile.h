/* SPDX-License-Identifier: MIT */
/* Per-domain handling: on a completed incoming migration, at boot (first sight) and when
 * reconciling after a (re)connect, map NICs to records, decide, start actions, keep metadata. */
#pragma once

#include <stdint.h>

#include <libvirt/libvirt.h>

#include "trigger/pod.h"
#include "trigger/decide.h"
#include "trigger/metadata.h"

enum trigger_kind {
        TRIGGER_MIGRATED,            /* RESUMED/MIGRATED */
        TRIGGER_POSTCOPY,            /* RESUMED/POSTCOPY: act once post-copy has finished */
        TRIGGER_BOOTED,              /* STARTED/BOOTED: write first-sight metadata */
        TRIGGER_RECONCILE,           /* after (re)connect */
};

const char *trigger_to_string(enum trigger_kind k);

enum nic_plan {
        PLAN_FIRST_SIGHT,            /* record what the guest has now in the domain's metadata */
        PLAN_QUIET,                  /* reconciling a handled NIC: unchanged, nothing to log */
        PLAN_DECIDED,                /* log the decision in *ret_kind, act unless ACTION_NONE */
};
/* Pure. migration_event: triggered by RESUMED/MIGRATED or POSTCOPY; migrated_in: the domain came here
 * by a migration (the event, or the state reason on a reconcile); had: its metadata entry or NULL. */
enum nic_plan plan_nic(bool migration_event, bool migrated_in, const struct meta_nic *had, const char *live_mac,
                       const struct record *rec, enum action *ret_kind, char *reason, size_t reason_size);
/* From a libvirt callback: take references and handle dom from a zero-delay timer. t_event: now_ms()
 * when the event arrived. */
void domain_schedule(struct pod *p, virDomainPtr dom, enum trigger_kind why, int64_t t_event);

/* From a libvirt callback, STARTED/MIGRATED: the target pod and its DHCP server exist and the guest is
 * still paused. Start the served-MAC probes its NICs will need, so that the RESUMED/MIGRATED job finds
 * their results instead of waiting for them. */
void domain_incoming(struct pod *p, virDomainPtr dom);

/* Handle every running domain of p (from a timer). */
void pod_reconcile(struct pod *p);
/* Jobs still pending and probes (shutdown; waits briefly for the probes' veths to be deleted). */
void jobs_cancel_all(void);
