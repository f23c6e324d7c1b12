/* SPDX-License-Identifier: MIT */
/*
 * relinkd's side of the operator's policy (netconf/policy.h): the narrower of the network's and the
 * VM's policy rules, and says where it came from; observe-only comes from the daemon (--observe),
 * the network or the VM, whichever says so first. Pure, table-tested (tests/unit/test_trigger_policy.c).
 */
#pragma once

#include <stdbool.h>

#include "netconf/policy.h"
#include "trigger/decide.h"

enum policy_src {
        POLICY_SRC_DEFAULT,          /* neither says anything: any */
        POLICY_SRC_NETWORK,          /* the network's policy is the narrower (or both say the same) */
        POLICY_SRC_VM,               /* the VM's is the narrower */
        POLICY_SRC_BOTH,             /* neither alone: flap (one) ∩ replug (the other) = none */
};

enum observe_src { OBSERVE_OFF, OBSERVE_DAEMON, OBSERVE_NETWORK, OBSERVE_VM };

struct policy_rule {
        enum relink_policy policy;   /* the narrowest */
        enum policy_src src;
        enum observe_src observe;    /* OBSERVE_OFF: act */
};

/* daemon_observe: relinkd --observe. */
void policy_resolve(const struct attach_policy *p, bool daemon_observe, struct policy_rule *ret);
/* The narrower of two policies: the intersection of what each allows. */
enum relink_policy policy_narrowest(enum relink_policy a, enum relink_policy b);
/* ACTION_ALLOW_* the policy lets the action ladder use (POLICY_NONE: 0, i.e. nothing: never pass it
 * to action_start, whose 0 means all). */
unsigned policy_allow(enum relink_policy p);
/* Whether a decision of this kind can be carried out at all under p: a flap needs a flap or a
 * re-plug with the same MAC, a re-attach (the guest needs another MAC) needs a re-plug. */
bool policy_permits(enum relink_policy p, enum action kind);
/* "default", "network", "vm", "network+vm" */
const char *policy_src_to_string(enum policy_src s);
/* "off", "daemon", "network", "vm" */
const char *observe_src_to_string(enum observe_src s);
