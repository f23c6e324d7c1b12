/* SPDX-License-Identifier: MIT */
/* Per-domain handling: on a completed incoming migration, at boot (first sight) and when
 * reconciling after a (re)connect, map NICs to records, decide, start actions, keep metadata. */
#pragma once

#include <stdint.h>

#include <libvirt/libvirt.h>

#include "trigger/conn.h"

enum trigger_kind {
        TRIGGER_MIGRATED,            /* RESUMED/MIGRATED */
        TRIGGER_POSTCOPY,            /* RESUMED/POSTCOPY: act once post-copy has finished */
        TRIGGER_BOOTED,              /* STARTED/BOOTED: write first-sight metadata */
        TRIGGER_RECONCILE,           /* after (re)connect */
};

const char *trigger_to_string(enum trigger_kind k);
/* From a libvirt callback: take references and handle dom from a zero-delay timer. t_event: now_ms()
 * when the event arrived. */
void domain_schedule(struct pod *p, virDomainPtr dom, enum trigger_kind why, int64_t t_event);
/* Handle every running domain of p (from a timer). */
void pod_reconcile(struct pod *p);
/* Jobs still pending (shutdown). */
void jobs_cancel_all(void);
