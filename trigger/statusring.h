/* SPDX-License-Identifier: MIT */
/* The last decisions relinkd made and what became of them, for `relinkd status`: a bounded ring
 * (STATUSRING_PER_DOMAIN per domain, STATUSRING_MAX in all; the oldest goes first). reconcile.c
 * records each decision, action.c claims the one it carries out and reports its outcome. Loop
 * thread only; no dependency on the rest of relinkd. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "netconf/daemonstatus.h"
#include "trigger/decide.h"
#include "trigger/metrics.h"

#define STATUSRING_PER_DOMAIN 8
#define STATUSRING_MAX 256

/* A decision for NIC pci of domain uuid (name domain) on pod's connection. final: the result when it
 * is known now that no action follows ("denied" by the policy, "observed" only), else NULL: "none"
 * until an action claims it. Returns its seq (> 0). */
uint64_t statusring_decision(const char *uuid, const char *domain, const char *pod, const char *pci, const char *mac,
                             const char *record, enum action kind, const char *reason, const char *evidence,
                             const char *trigger, const char *final);
/* An action on (uuid, pci) starts: it carries out that NIC's newest decision if that one acts, has
 * no final result and is not claimed yet (result → "pending"). Its seq, or 0 when there is none. */
uint64_t statusring_claim(const char *uuid, const char *pci);
/* The action that claimed seq ended (seq 0, an unclaimed or an evicted entry: no-op). kind: its last rung;
 * renewal_ms: event → verified renewal (-1: none). */
void statusring_outcome(uint64_t seq, enum action kind, enum action_result result, const char *note,
                        int64_t renewal_ms);
/* Copy the entries, oldest first, into out[0..max). Returns how many. */
size_t statusring_copy(struct st_decision *out, size_t max);
/* Forget everything (tests). */
void statusring_reset(void);
