/* SPDX-License-Identifier: MIT */
/* The set of libvirt connections relinkd follows (--connect URIs, --watch globs), each with its
 * pod netns; reconnects with exponential backoff; lifecycle and DEVICE_REMOVED events. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <libvirt/libvirt.h>

#include "trigger/options.h"

/* One open connection and the pod netns it serves. Refcounted: actions outlive connections. */
struct pod {
        unsigned refs;
        bool alive;                  /* false once the connection closed */
        virConnectPtr vc;
        int ns_fd;
        uint64_t ns_dev, ns_ino;
        char label[128];             /* short name for logs: the pod directory or the URI */
};

struct pod *pod_ref(struct pod *p);
void pod_unref(struct pod *p);

int conns_start(const struct opts *o);
/* Deregister every callback and close every connection. */
void conns_stop(void);
