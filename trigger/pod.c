/* SPDX-License-Identifier: MIT */
/* struct pod: atomic references (connection teardown drops its own on a worker thread); the last
 * one closes the libvirt connection on a worker thread too, so closing never blocks the loop, even
 * when the daemon has stalled (virConnectClose waits for the daemon's answer). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

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
        pthread_attr_t attr;
        sigset_t all, old;
        pthread_t t;
        int r;

        __atomic_add_fetch(&closers, 1, __ATOMIC_RELAXED);
        r = pthread_attr_init(&attr);
        if (r == 0) {
                pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
                sigfillset(&all);          /* signals stay with the loop thread */
                pthread_sigmask(SIG_SETMASK, &all, &old);
                r = pthread_create(&t, &attr, closer, vc);
                pthread_sigmask(SIG_SETMASK, &old, NULL);
                pthread_attr_destroy(&attr);
        }
        if (r != 0)
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
