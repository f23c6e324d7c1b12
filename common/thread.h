/* SPDX-License-Identifier: MIT */
/* Detached worker threads. Every signal is blocked in them, so SIGTERM/SIGINT always reach the thread
 * whose handler wakes the event loop. */
#pragma once

/* Start fn(arg) on a detached thread with all signals blocked. 0 or -errno (then fn never runs). */
int thread_detached(void *(*fn)(void *), void *arg);
