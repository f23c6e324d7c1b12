/* SPDX-License-Identifier: MIT */
/* One-shot timers and fd watches on libvirt's event loop (or a test's fake): the daemon never
 * sleeps, every wait is a timer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/libvirt.h>

#include "trigger/loop.h"
#include "trigger/virtdom.h"

struct cb {
        timer_fn timer;
        fd_fn fd;
        void *opaque;
};

static void timer_fire(int id, void *opaque) {
        struct cb *t = opaque;

        /* One shot: remove first (the free callback runs later, from the loop), then call. */
        virEventRemoveTimeout(id);
        t->timer(t->opaque);
}

static int lv_timer_add(unsigned ms, timer_fn fn, void *opaque) {
        struct cb *t = calloc(1, sizeof(*t));
        int id;

        if (!t)
                return -ENOMEM;
        t->timer = fn;
        t->opaque = opaque;
        id = virEventAddTimeout((int) ms, timer_fire, t, free);
        if (id < 0) {
                free(t);
                return -EIO;
        }
        return id;
}

static void lv_timer_remove(int id) {
        virEventRemoveTimeout(id);
}

static void fd_fire(int watch, int fd, int events, void *opaque) {
        struct cb *c = opaque;

        c->fd(fd, c->opaque);
}

static int lv_fd_add(int fd, fd_fn fn, void *opaque) {
        struct cb *c = calloc(1, sizeof(*c));
        int id;

        if (!c)
                return -ENOMEM;
        c->fd = fn;
        c->opaque = opaque;
        id = virEventAddHandle(fd, VIR_EVENT_HANDLE_READABLE, fd_fire, c, free);
        if (id < 0) {
                free(c);
                return -EIO;
        }
        return id;
}

static void lv_fd_remove(int id) {
        virEventRemoveHandle(id);
}

static int64_t mono_us(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const struct loop_ops libvirt_loop = {
        .timer_add = lv_timer_add,
        .timer_remove = lv_timer_remove,
        .fd_add = lv_fd_add,
        .fd_remove = lv_fd_remove,
        .now_us = mono_us,
};

static const struct loop_ops *loop = &libvirt_loop;

void loop_set_ops(const struct loop_ops *ops) {
        loop = ops ? ops : &libvirt_loop;
}

int timer_after(unsigned ms, timer_fn fn, void *opaque) {
        return loop->timer_add(ms, fn, opaque);
}

void timer_cancel(int *id) {
        if (*id > 0)
                loop->timer_remove(*id);
        *id = 0;
}

int fd_watch(int fd, fd_fn fn, void *opaque) {
        return loop->fd_add(fd, fn, opaque);
}

void fd_unwatch(int *id) {
        if (*id > 0)
                loop->fd_remove(*id);
        *id = 0;
}

int64_t now_ms(void) {
        return loop->now_us() / 1000;
}

int64_t now_us(void) {
        return loop->now_us();
}

const char *virt_error(void) {
        const char *m = virtdom->last_error();

        return m ? m : "unknown libvirt error";
}

const char *virt_strerror(int r) {
        return r == -EIO ? virt_error() : strerror(-r);
}
