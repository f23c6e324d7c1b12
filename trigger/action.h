/* SPDX-License-Identifier: MIT */
/* Per-NIC actions as event-loop state machines: flap (link down, hold, up) or re-attach (detach,
 * DEVICE_REMOVED, attach with the record's MAC at the same PCI address), then verification by the
 * guest's DHCP on the NIC's tap, escalation (flap → re-attach) and loud failure. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <libvirt/libvirt.h>

#include "netconf/record.h"
#include "trigger/conn.h"
#include "trigger/decide.h"
#include "trigger/domxml.h"

struct action_req {
        struct pod *pod;
        virDomainPtr dom;
        const struct dom_nic *nic;
        const struct record *rec;
        enum action kind;            /* ACTION_FLAP or ACTION_REATTACH */
        const char *reason;
        int64_t t_event;             /* now_ms() of the triggering event */
        bool migrated;               /* observe renewal time (a real migration event) */
};

/* Start (from the loop, not a callback). -EBUSY when this NIC already has an action. */
int action_start(const struct action_req *req);
/* From libvirt callbacks (they only schedule). */
void action_device_removed(struct pod *p, virDomainPtr dom, const char *alias);
void action_domain_gone(struct pod *p, virDomainPtr dom);
/* Connection closed: abort its actions (loudly when a NIC is left detached or down). */
void action_pod_lost(struct pod *p);
/* Shutdown: bring held links up, finish what can be finished synchronously, free everything. */
void actions_shutdown(void);
unsigned actions_active(void);
