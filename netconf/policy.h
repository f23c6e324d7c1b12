/* SPDX-License-Identifier: MIT */
/*
 * What relinkd may do for an attachment, as the operator configured it: per network (the relink
 * plugin's conf, "relinkPolicy" / "relinkObserve") and per VM (args.cni, e.g. multus cni-args).
 * The plugin validates the names and stores both in the record; relinkd applies the narrower one
 * (trigger/policy.h). Pure; shared by the plugin and relinkd.
 */
#pragma once

#include <stdbool.h>

#define POLICY_KEY          "relinkPolicy"      /* conf top level and args.cni: any|flap|replug|none */
#define POLICY_OBSERVE_KEY  "relinkObserve"     /* conf top level and args.cni: true = decide and log only */

enum relink_policy {
        POLICY_ANY,                  /* default: flap, re-plug, whatever the guest needs */
        POLICY_FLAP,                 /* link flap only, never unplug the NIC */
        POLICY_REPLUG,               /* re-plug only (same or new MAC), never flap */
        POLICY_NONE,                 /* leave the attachment alone */
        _POLICY_MAX,
};

/* "any", "flap", "replug", "none" */
const char *policy_to_string(enum relink_policy p);
/* The exact lower-case names above; -EINVAL for anything else (NULL included). */
int policy_from_string(const char *s, enum relink_policy *ret);

/* What an attachment's owner asked for, as stored in the record. Zero = no policy at all (any). */
struct attach_policy {
        enum relink_policy network;  /* the network's conf */
        enum relink_policy vm;       /* the VM's args.cni */
        bool network_observe;        /* the network's conf says observe only */
        bool vm_observe;             /* the VM's args.cni says observe only */
};
