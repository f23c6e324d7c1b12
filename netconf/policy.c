/* SPDX-License-Identifier: MIT */
/* Policy names (see policy.h). */
#include <errno.h>

#include "common/util.h"
#include "netconf/policy.h"

const char *policy_to_string(enum relink_policy p) {
        switch (p) {
        case POLICY_ANY:
                return "any";
        case POLICY_FLAP:
                return "flap";
        case POLICY_REPLUG:
                return "replug";
        case POLICY_NONE:
                return "none";
        case _POLICY_MAX:
                break;
        }
        return "?";
}

int policy_from_string(const char *s, enum relink_policy *ret) {
        for (enum relink_policy p = 0; s && p < _POLICY_MAX; p++)
                if (streq(s, policy_to_string(p))) {
                        *ret = p;
                        return 0;
                }
        return -EINVAL;
}
