/* SPDX-License-Identifier: MIT */
/* Blocking calls with a deadline: the call runs on a thread of its own while the caller (the event
 * loop) waits for it at most a deadline.
 *
 * A libvirt RPC to a launcher daemon that is stopped, swapping or wedged does not return until the
 * connection's keepalive gives up (15–20 s). Made on the loop thread, it would hold up every other
 * launcher's actions for that long. Through the gate the loop waits at most the deadline
 * (--call-timeout-ms); then the call is abandoned to its thread, the key (the connection) is marked
 * stuck, the stuck handler is told (relinkd tears the connection down and reconnects: the actions
 * park and are adopted, trigger/action.h), and every later call for that key is refused at once until
 * the abandoned one has returned. So one stuck launcher costs the loop one deadline, once; nothing
 * else waits on it.
 *
 * Ownership of arg: on 0, the caller's (fn ran to its end; the results are in arg). On -ETIMEDOUT,
 * the worker's: it calls free_fn(arg) once fn returns. On -EBUSY or any other error fn never ran and
 * arg stays the caller's. */
#pragma once

#include <signal.h>
#include <stdbool.h>

typedef void (*gate_fn)(void *arg);

/* Deadline for every call (ms, > 0). */
void gate_set_deadline(unsigned ms);
unsigned gate_deadline(void);
/* Once *flag is non-zero (a shutdown signal), no wait lasts longer than GATE_SHUTDOWN_MS more. */
void gate_set_abort(volatile sig_atomic_t *flag);
#define GATE_SHUTDOWN_MS 300
/* Called on the caller's thread when a call for key passes its deadline (key is stuck from then on). */
void gate_set_stuck_handler(void (*fn)(const void *key, unsigned waited_ms));

/* Run fn(arg) for key; 0, -ETIMEDOUT (abandoned, key now stuck), -EBUSY (key stuck: not run),
 * -errno (no thread: not run). */
int gate_call(const void *key, gate_fn fn, void *arg, gate_fn free_fn);
/* A call for key was abandoned and has not returned yet. */
bool gate_stuck(const void *key);
/* Abandoned calls still running (all keys). */
unsigned gate_abandoned(void);
