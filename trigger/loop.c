/* SPDX-License-Identifier: MIT */
/* One-shot timers on virEventAddTimeout: the daemon never sleeps, every wait is a timer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "trigger/loop.h"

struct timer {
        int id;
        timer_fn fn;
        void *opaque;
};

static void timer_fire(int id, void *opaque) {
        struct timer *t = opaque;

        /* One shot: remove first (the free callback runs later, from the loop), then call. */
        virEventRemoveTimeout(id);
        t->fn(t->opaque);
}

int timer_after(unsigned ms, timer_fn fn, void *opaque) {
        struct timer *t = calloc(1, sizeof(*t));
        int id;

        if (!t)
                return -ENOMEM;
        t->fn = fn;
        t->opaque = opaque;
        id = virEventAddTimeout((int) ms, timer_fire, t, free);
        if (id < 0) {
                free(t);
                return -EIO;
        }
        t->id = id;
        return id;
}

void timer_cancel(int *id) {
        if (*id > 0)
                virEventRemoveTimeout(*id);
        *id = 0;
}

int64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t now_us(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

const char *virt_error(void) {
        const char *m = virGetLastErrorMessage();

        return m ? m : "unknown libvirt error";
}

const char *virt_strerror(int r) {
        return r == -EIO ? virt_error() : strerror(-r);
}
