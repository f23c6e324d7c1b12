/* SPDX-License-Identifier: MIT */
/* The narrowest policy (see policy.h). */
#include "trigger/action.h"
#include "trigger/policy.h"

unsigned policy_allow(enum relink_policy p) {
        switch (p) {
        case POLICY_ANY:
                return ACTION_ALLOW_FLAP | ACTION_ALLOW_REPLUG;
        case POLICY_FLAP:
                return ACTION_ALLOW_FLAP;
        case POLICY_REPLUG:
                return ACTION_ALLOW_REPLUG;
        case POLICY_NONE:
        case _POLICY_MAX:
                break;
        }
        return 0;
}

static enum relink_policy policy_of_allow(unsigned allow) {
        switch (allow & (ACTION_ALLOW_FLAP | ACTION_ALLOW_REPLUG)) {
        case ACTION_ALLOW_FLAP | ACTION_ALLOW_REPLUG:
                return POLICY_ANY;
        case ACTION_ALLOW_FLAP:
                return POLICY_FLAP;
        case ACTION_ALLOW_REPLUG:
                return POLICY_REPLUG;
        default:
                return POLICY_NONE;
        }
}

enum relink_policy policy_narrowest(enum relink_policy a, enum relink_policy b) {
        return policy_of_allow(policy_allow(a) & policy_allow(b));
}

void policy_resolve(const struct attach_policy *p, bool daemon_observe, struct policy_rule *ret) {
        enum relink_policy net = p->network < _POLICY_MAX ? p->network : POLICY_NONE;
        enum relink_policy vm = p->vm < _POLICY_MAX ? p->vm : POLICY_NONE;
        enum relink_policy n = policy_narrowest(net, vm);

        ret->policy = n;
        if (net == POLICY_ANY && vm == POLICY_ANY)
                ret->src = POLICY_SRC_DEFAULT;
        else if (n == net)
                ret->src = POLICY_SRC_NETWORK;     /* the network's, or both say the same */
        else if (n == vm)
                ret->src = POLICY_SRC_VM;
        else
                ret->src = POLICY_SRC_BOTH;
        ret->observe = daemon_observe ? OBSERVE_DAEMON
                       : p->network_observe ? OBSERVE_NETWORK
                       : p->vm_observe ? OBSERVE_VM : OBSERVE_OFF;
}

bool policy_permits(enum relink_policy p, enum action kind) {
        switch (kind) {
        case ACTION_NONE:
                return true;
        case ACTION_FLAP:
                return policy_allow(p) != 0;
        case ACTION_REATTACH:
                return (policy_allow(p) & ACTION_ALLOW_REPLUG) != 0;
        }
        return false;
}

const char *policy_src_to_string(enum policy_src s) {
        switch (s) {
        case POLICY_SRC_DEFAULT:
                return "default";
        case POLICY_SRC_NETWORK:
                return "network";
        case POLICY_SRC_VM:
                return "vm";
        case POLICY_SRC_BOTH:
                return "network+vm";
        }
        return "?";
}

const char *observe_src_to_string(enum observe_src s) {
        switch (s) {
        case OBSERVE_OFF:
                return "off";
        case OBSERVE_DAEMON:
                return "daemon";
        case OBSERVE_NETWORK:
                return "network";
        case OBSERVE_VM:
                return "vm";
        }
        return "?";
}
