/* SPDX-License-Identifier: MIT */
/* struct pod: atomic references (connection teardown drops its own on a worker thread); the last
 * one closes the libvirt connection on a worker thread too, so closing never blocks the loop, even
 * when the daemon has stalled (virConnectClose waits for the daemon's answer). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "common/thread.h"
#include "trigger/pod.h"

static unsigned closers;             /* closing threads still running (atomic) */

struct pod *pod_new(virConnectPtr vc, int ns_fd, const char *label) {
        struct pod *p = calloc(1, sizeof(*p));

        if (!p)
                return NULL;
        p->refs = 1;
        p->alive = true;
        p->vc = vc;
        p->ns_fd = ns_fd;
        snprintf(p->label, sizeof(p->label), "%s", label);
        return p;
}

struct pod *pod_ref(struct pod *p) {
        __atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
        return p;
}

static void *closer(void *opaque) {
        virConnectClose(opaque);
        __atomic_sub_fetch(&closers, 1, __ATOMIC_RELEASE);
        return NULL;
}

/* Close vc on a detached thread; inline when no thread can be started. */
static void close_detached(virConnectPtr vc) {
        __atomic_add_fetch(&closers, 1, __ATOMIC_RELAXED);
        if (thread_detached(closer, vc) < 0)
                closer(vc);
}

void pod_unref(struct pod *p) {
        if (!p || __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) > 0)
                return;
        if (p->vc)
                close_detached(p->vc);
        if (p->ns_fd >= 0)
                close(p->ns_fd);
        free(p);
}

bool pods_wait_closed(unsigned ms) {
        struct timespec ts = { 0, 10 * 1000 * 1000 };

        for (unsigned waited = 0; __atomic_load_n(&closers, __ATOMIC_ACQUIRE) > 0; waited += 10) {
                if (waited >= ms)
                        return false;
                nanosleep(&ts, NULL);
        }
        return true;
}
