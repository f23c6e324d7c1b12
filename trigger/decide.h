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

/* The served-MAC rule. On a migration target the pod's DHCP server answers one MAC: the VM spec's MAC
 * if set, else (KubeVirt ≤ 1.8) the new pod's MAC — the record's — or (≥ 1.9) the MAC the VM already
 * has. A probe asks the server which of the NIC's live MAC and the record's MAC it answers; then:
 *   served = NIC MAC (alone or both)  → keep the MAC: the base action (flap, or none), plugging the
 *                                       NIC MAC again if a flap must escalate to a re-plug
 *   served = record MAC ≠ NIC MAC     → re-attach with the record MAC (the other one as alternative)
 *   nothing answers, probe impossible → fallback: keep the MAC (base action), the record MAC as the
 *                                       alternative — a flap is reversible, a re-plug with a MAC the
 *                                       server ignores cuts the guest off for good
 *   record MAC = NIC MAC (or either unknown) → no probe needed: the base action. */
enum probe_answer { PROBE_NOT_RUN, PROBE_IMPOSSIBLE, PROBE_UNANSWERED, PROBE_ANSWERED };
/* What the probe established; NOT_PROBED: no probe was needed. */
enum served { SERVED_NOT_PROBED, SERVED_NIC, SERVED_RECORD, SERVED_BOTH, SERVED_NONE, SERVED_UNKNOWN, _SERVED_MAX };

struct served_in {
        enum action base;            /* decide(had, NULL, now): IPs, routes, MTU — the MAC rule left out */
        const char *base_reason;
        const char *nic_mac;         /* the NIC's live MAC */
        const char *rec_mac;         /* the record's MAC (the new pod's) */
        enum probe_answer nic, rec;  /* what the probe found for each candidate */
        int probe_ms;                /* the probe's duration; < 0 unknown */
        const char *probe_error;     /* PROBE_IMPOSSIBLE: why (may be NULL) */
};

struct served_decision {
        enum action kind;
        enum served served;
        char mac_new[18];            /* the MAC to plug: re-attach, or a flap escalated to a re-plug */
        char mac_alt[18];            /* the other candidate, tried when mac_new goes unanswered; "" none */
        char reason[256];            /* what changed, e.g. "mac a → b", "ip a/24 → b/24", "unchanged" */
        char evidence[256];          /* served=… probe=… [probe_ms=…] [fallback=…] */
};

/* True when the two MACs differ (both known): only then does the served MAC need a probe. */
bool served_probe_needed(const char *nic_mac, const char *rec_mac);
/* Pure. */
void decide_served(const struct served_in *in, struct served_decision *ret);
/* "-", "nic", "record", "both", "none", "unknown" */
const char *served_to_string(enum served s);
