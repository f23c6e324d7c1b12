/* SPDX-License-Identifier: MIT */
/* Per-NIC actions as event-loop state machines: flap (link down, hold, up) or re-plug (unplug, wait
 * for the guest to release, attach at the same PCI slot), then verification by the server's DHCPACK
 * on the NIC's tap, and a ladder of further tries (flap → same-MAC re-plug → the other candidate MAC).
 *
 * The rule every path keeps: for every NIC relinkd unplugs, the running domain ends with a NIC at
 * that PCI slot — the new one or, where that cannot be attached, the one the guest had. An unplug
 * is never given up while the domain runs (the outstanding entry lives in the domain metadata,
 * trigger/pending.h, so reconnects and restarts resume it); FAILED is a status a later release or
 * renewal clears. All libvirt calls go through trigger/virtdom.h, all waits through trigger/loop.h:
 * both are seams a unit test replaces (docs/architecture.md, "Actions"). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <libvirt/libvirt.h>

#include "netconf/record.h"
#include "trigger/decide.h"
#include "trigger/domxml.h"
#include "trigger/pending.h"
#include "trigger/pod.h"

struct action_req {
        struct pod *pod;
        virDomainPtr dom;
        const struct dom_nic *nic;   /* the live NIC (for a resume: the pending element's) */
        const struct record *rec;
        enum action kind;            /* ACTION_FLAP or ACTION_REATTACH */
        const char *mac_new;         /* re-attach: the MAC to plug (the one the target's DHCP serves);
                                      * NULL or "": the record's MAC (or the NIC's when the record has none) */
        const char *mac_alt;         /* the other candidate MAC, tried when the guest's DHCP from mac_new
                                      * goes unanswered; NULL or "": the MAC the guest had (re-attach),
                                      * none (flap) */
        int64_t t_event;             /* now_ms() of the triggering event */
        bool migrated;               /* observe renewal time (a real migration event) */
        const struct pending_nic *resume; /* an outstanding unplug found in the domain (relinkd restarted):
                                      * wait for the release / attach, whatever state the slot is in */
        unsigned allow;              /* the rungs the operator's policy permits (ACTION_ALLOW_*); 0: all.
                                      * The ladder skips every rung outside it; a ladder left empty is
                                      * -EPERM (the caller says so and counts it) */
        bool skip_flap;              /* the guest's DHCP client is known to ignore a carrier flap (from
                                      * its own DHCP packets): a flap starts at the same-MAC re-plug */
        bool nic_fresh;              /* nic->xml was read from the live domain in this loop turn: the
                                      * first step uses it instead of reading the live XML again */
};

#define ACTION_ALLOW_FLAP    (1u << 0)   /* link down/up */
#define ACTION_ALLOW_REPLUG  (1u << 1)   /* unplug and plug at the same slot, any MAC */

/* Start (from the loop, not a callback). -EBUSY when this NIC already has an action. */
int action_start(const struct action_req *req);
/* This NIC (by PCI address) of dom already has an action on p's connection. */
bool action_busy(const struct pod *p, virDomainPtr dom, const char *pci);
/* From libvirt callbacks (they only schedule). */
void action_device_removed(struct pod *p, virDomainPtr dom, const char *alias);
void action_domain_gone(struct pod *p, virDomainPtr dom);
/* Connection closed: libvirt steps of its actions wait (bounded) for a reconnect to adopt them. */
void action_pod_lost(struct pod *p);
/* A (re)connected pod sees domain dom: take over the waiting actions of that domain (same netns). */
void action_adopt(struct pod *p, virDomainPtr dom);
/* What `relinkd status` shows of an action in flight (valid during the call only). */
struct action_info {
        const char *domain, *uuid, *pod, *pci, *alias, *mac, *record;
        const char *kind;            /* the current rung's */
        const char *phase;
        unsigned rung, n_rungs;      /* 1-based */
        int64_t elapsed_ms;          /* since the triggering event */
};
/* Read only: fn for each action in flight. */
void actions_foreach(void (*fn)(const struct action_info *info, void *opaque), void *opaque);
/* Shutdown: bring held links up, put back NICs the guest released, leave outstanding unplugs to
 * the next relinkd (their pending entry stays in the domain), free everything. */
void actions_shutdown(void);
unsigned actions_active(void);
