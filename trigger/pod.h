/* SPDX-License-Identifier: MIT */
/* One open libvirt connection to a launcher's daemon and the pod netns it serves. Refcounted
 * (atomically: conn.c drops its reference on a worker thread): jobs and actions hold a reference and
 * outlive the connection; `alive` says whether libvirt calls through it can still work. Owned by
 * conn.c; everything else only refs, reads and unrefs. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <libvirt/libvirt.h>

struct pod {
        unsigned refs;
        bool alive;                  /* false once the connection closed */
        virConnectPtr vc;
        int ns_fd;
        uint64_t ns_dev, ns_ino;
        char label[128];             /* short name for logs: the pod UID / directory, or the URI */
};

/* A new pod holding vc (taken) and ns_fd (taken); refs = 1, alive. NULL on ENOMEM (nothing taken). */
struct pod *pod_new(virConnectPtr vc, int ns_fd, const char *label);
struct pod *pod_ref(struct pod *p);
/* Drops a reference; the last one closes the netns fd and the connection, the latter on a detached
 * thread (never blocks the caller, even on a stalled daemon). NULL is a no-op. Any thread. */
void pod_unref(struct pod *p);
/* Shutdown: wait up to ms for the connections being closed; false when some are still closing. */
bool pods_wait_closed(unsigned ms);
