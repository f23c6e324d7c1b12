/* SPDX-License-Identifier: MIT */
/* The pure decision: what the guest NIC had vs. what the pod has now → none, flap or re-attach. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "netconf/record.h"

enum action { ACTION_NONE, ACTION_FLAP, ACTION_REATTACH };

struct nic_identity {                  /* what a guest NIC is configured for */
        char mac[18];
        unsigned mtu;                  /* 0 = unknown */
        struct record_ip ips[RECORD_MAX_IPS];    size_t n_ips;
        struct record_route routes[RECORD_MAX_ROUTES]; size_t n_routes;
};

void nic_identity_from_record(const struct record *r, struct nic_identity *ret);
/* True when both describe the same network (MAC case-insensitive, IP/route sets order-insensitive, MTU 0 = any). */
bool nic_identity_equal(const struct nic_identity *a, const struct nic_identity *b);

/* had == NULL: no metadata → assume the network changed. live_mac: the NIC's MAC in the live XML
 * (NULL/"" or an empty record MAC skip the MAC rule). Checks: MAC, then IPs, routes, MTU.
 * reason (may be NULL) gets a short human reason, e.g. "mac a→b", "ip 10.244.1.5/24 → 10.244.2.7/24". */
enum action decide(const struct nic_identity *had, const char *live_mac, const struct record *now,
                   char *reason, size_t reason_size);
const char *action_to_string(enum action a);
/* What to try when an action was not verified: FLAP → REATTACH, REATTACH → NONE (give up, report). */
enum action action_escalate(enum action done);
