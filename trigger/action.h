/* SPDX-License-Identifier: MIT */
/* Per-NIC actions as event-loop state machines: flap (link down, hold, up) or re-attach (detach,
 * DEVICE_REMOVED, attach with the record's MAC at the same PCI address), then verification by the
 * guest's DHCP on the NIC's tap, escalation (flap → re-attach) and loud failure. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <libvirt/libvirt.h>

#include "netconf/record.h"
#include "trigger/pod.h"
#include "trigger/decide.h"
#include "trigger/domxml.h"

struct action_req {
        struct pod *pod;
        virDomainPtr dom;
        const struct dom_nic *nic;
        const struct record *rec;
        enum action kind;            /* ACTION_FLAP or ACTION_REATTACH */
        const char *mac_new;         /* re-attach: the MAC to plug (the one the target's DHCP serves);
                                      * NULL or "": the record's MAC (or the NIC's when the record has none) */
        const char *mac_alt;         /* the other candidate MAC, tried when the guest's DHCP from mac_new
                                      * goes unanswered; NULL or "": none */
        int64_t t_event;             /* now_ms() of the triggering event */
        bool migrated;               /* observe renewal time (a real migration event) */
        const char *resume_xml;      /* a pending re-attach found in the domain: attach this element */
};

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
/* Shutdown: bring held links up, finish what can be finished synchronously, free everything. */
void actions_shutdown(void);
unsigned actions_active(void);
