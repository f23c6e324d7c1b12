/* SPDX-License-Identifier: MIT */
/* What `relinkd status` shows, as plain structs, and its JSON form (cJSON stays in netconf/). The
 * daemon (trigger/status.c) fills a snapshot on its loop; nothing here knows about relinkd's state. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One followed launcher (a libvirt daemon and the pod netns it serves). */
struct st_launcher {
        char label[128];             /* pod UID / directory, or the URI */
        char pod_uid[64];            /* "" when the path is not a kubelet pod path */
        char origin[16];             /* connect, watch, kubevirt */
        char socket[512];            /* "" for a remote URI */
        char state[16];              /* connected, connecting, backoff, closed */
        bool has_netns;              /* ns_dev/ns_ino are set (connected) */
        uint64_t ns_dev, ns_ino;
        int64_t since_ms;            /* wall clock (Unix ms) of the last state change */
};

/* One action in flight. */
struct st_action {
        char domain[256];
        char uuid[40];
        char pod[128];
        char nic_pci[16], nic_alias[64];
        char mac[18];                /* the MAC at the slot now */
        char record[600];
        char kind[16];               /* the current rung's: flap, reattach */
        char phase[16];              /* start, queued, link-down, detaching, attaching, verify */
        unsigned rung, n_rungs;      /* 1-based rung of the ladder, and how many it has */
        int64_t elapsed_ms;          /* since the triggering event */
};

/* One decision and what became of it. */
struct st_decision {
        uint64_t seq;                /* 1, 2, … in decision order */
        int64_t at_ms;               /* wall clock (Unix ms) of the decision */
        char domain[256];
        char uuid[40];
        char pod[128];
        char nic_pci[16];
        char mac[18];
        char record[600];
        char decision[16];           /* none, flap, reattach */
        char trigger[16];
        char reason[256];
        char evidence[256];
        char result[16];             /* none (no action), pending, verified, FAILED, aborted, denied
                                      * (policy), observed (observe-only) */
        int64_t result_at_ms;        /* wall clock of the result; 0 while none/pending */
        char kind[16];               /* the action's last rung (flap, reattach), "" without one */
        char note[256];              /* why it failed / aborted, or a verification note */
        int64_t renewal_ms;          /* verified: event → renewal; -1 otherwise */
};

struct st_snapshot {
        const char *version;
        int pid;
        int64_t now_ms;              /* wall clock (Unix ms) when taken */
        struct st_launcher *launchers;
        size_t n_launchers;
        struct st_action *actions;
        size_t n_actions;
        struct st_decision *decisions;   /* oldest first */
        size_t n_decisions;
};

/* The snapshot as one JSON object, newline-terminated (*ret: malloc'd). 0 or -ENOMEM. */
int st_render_json(const struct st_snapshot *s, char **ret);
/* Unix ms → "2026-12-02T04:05:22.123Z" into buf (ms <= 0: "-"). */
void st_format_time(int64_t ms, char *buf, size_t size);
