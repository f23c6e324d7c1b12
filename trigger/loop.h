/* SPDX-License-Identifier: MIT */
/* Event-loop helpers: one-shot timers, readable-fd watches, a clock.
 *
 * The loop seam. Everything time- or fd-driven in relinkd goes through these functions, which call
 * the installed struct loop_ops: by default libvirt's event loop (virEventAddTimeout/AddHandle) and
 * CLOCK_MONOTONIC. Unit tests install a fake (tests/unit/fake_loop.c): a virtual clock they advance
 * themselves, timers fired in due order, fds they make readable. Together with struct virtdom_ops
 * (trigger/virtdom.h: the domain and the guest's port) this is the whole world an action sees. */
#pragma once

#include <stdint.h>

typedef void (*timer_fn)(void *opaque);
typedef void (*fd_fn)(int fd, void *opaque);

struct loop_ops {
        int (*timer_add)(unsigned ms, timer_fn fn, void *opaque);   /* one shot; id > 0 or -errno */
        void (*timer_remove)(int id);                               /* pending timer; never fires after */
        int (*fd_add)(int fd, fd_fn fn, void *opaque);              /* call fn while fd is readable */
        void (*fd_remove)(int id);
        int64_t (*now_us)(void);                                    /* monotonic */
};

/* Install ops (NULL: libvirt's default event loop and CLOCK_MONOTONIC). */
void loop_set_ops(const struct loop_ops *ops);

/* Run fn(opaque) once, after ms (0: on the next loop iteration). Returns a timer id > 0 or -errno. */
int timer_after(unsigned ms, timer_fn fn, void *opaque);
/* Cancel a pending timer (id <= 0 or already fired: no-op); *id is reset to 0. */
void timer_cancel(int *id);
/* Call fn(fd, opaque) whenever fd is readable. A watch id > 0 or -errno. */
int fd_watch(int fd, fd_fn fn, void *opaque);
/* Stop watching (id <= 0: no-op); *id is reset to 0. */
void fd_unwatch(int *id);
/* The loop's monotonic clock in milliseconds, microseconds (CLOCK_MONOTONIC by default, so values
 * compare across relinkd restarts on one boot). */
int64_t now_ms(void);
int64_t now_us(void);
/* The last libvirt error as text (never NULL): asks struct virtdom_ops. */
const char *virt_error(void);
/* An -errno from a libvirt wrapper as text: -EIO means libvirt failed (virt_error()), else strerror. */
const char *virt_strerror(int r);
