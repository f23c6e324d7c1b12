/* SPDX-License-Identifier: MIT */
/* The set of libvirt connections relinkd follows (--connect URIs, --watch globs), each with its
 * pod netns; reconnects with exponential backoff; lifecycle and DEVICE_REMOVED events. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "trigger/options.h"

/* What `relinkd status` shows of a followed daemon (valid during the call only). */
struct conn_info {
        const char *label, *pod_uid, *origin;
        const char *socket;          /* NULL for a remote URI */
        const char *state;           /* connected, connecting, backoff, closed */
        bool has_netns;              /* connected: ns_dev/ns_ino set */
        uint64_t ns_dev, ns_ino;
        int64_t since_ms;            /* now_ms() of the last state change */
};

int conns_start(const struct opts *o);
/* Read only: fn for each followed daemon. */
void conns_foreach(void (*fn)(const struct conn_info *info, void *opaque), void *opaque);
/* Deregister every callback and close every connection. */
void conns_stop(void);
