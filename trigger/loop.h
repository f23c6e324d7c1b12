/* SPDX-License-Identifier: MIT */
/* Event-loop helpers over libvirt's default event implementation: one-shot timers, a clock. */
#pragma once

#include <stdint.h>

typedef void (*timer_fn)(void *opaque);

/* Run fn(opaque) once, after ms (0: on the next loop iteration). Returns a timer id > 0 or -errno. */
int timer_after(unsigned ms, timer_fn fn, void *opaque);
/* Cancel a pending timer (id <= 0 or already fired: no-op); *id is reset to 0. */
void timer_cancel(int *id);
/* CLOCK_MONOTONIC in milliseconds, microseconds. */
int64_t now_ms(void);
int64_t now_us(void);
/* The last libvirt error as text (never NULL). */
const char *virt_error(void);
/* An -errno from a libvirt wrapper as text: -EIO means libvirt failed (virt_error()), else strerror. */
const char *virt_strerror(int r);
