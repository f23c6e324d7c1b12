/* SPDX-License-Identifier: MIT */
/* One open libvirt connection to a launcher's daemon and the pod netns it serves. Refcounted:
 * jobs and actions hold a reference and outlive the connection; `alive` says whether libvirt calls
 * through it can still work. Owned by conn.c; everything else only refs, reads and unrefs. */
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
/* Drops a reference; the last one closes the connection and the netns fd. NULL is a no-op. */
void pod_unref(struct pod *p);
