/* SPDX-License-Identifier: MIT */
/*
 * The daemon side of `relinkd status`: a root-only UNIX socket served from relinkd's event loop.
 * A client connects, sends one request line ("json" or "text", at most STATUS_REQUEST_MAX bytes) and
 * reads "ok <length>\n" and the snapshot (launchers followed, actions in flight, last decisions), or
 * "error: <why>\n". Peers whose SO_PEERCRED uid is not 0 get an error line and are closed; the socket
 * is mode 0600 in a 0700 directory. Nothing blocks the loop: accept, read and write are non-blocking,
 * and a client that has not sent its request and read the answer within STATUS_CLIENT_DEADLINE_MS
 * is dropped. At most STATUS_MAX_CLIENTS are served at once (more get "error: busy"), and twice that
 * many connections are kept at all.
 */
#pragma once

#include <stddef.h>

#include "netconf/daemonstatus.h"

#define STATUS_REQUEST_MAX 64
#define STATUS_CLIENT_DEADLINE_MS 2000
#define STATUS_MAX_CLIENTS 16

/* Serve on path (its directory is created 0700 when missing, its parents 0755, and it must be ours
 * and 0700). A stale
 * socket file (nobody answers) is replaced; -EADDRINUSE when another process serves it. 0, or -errno
 * with a message in err. */
int status_start(const char *path, char *err, size_t err_size);
/* Stop serving: drop the clients, remove the socket (when it is still ours). No-op when not started. */
void status_stop(void);
/* The snapshot as the table `relinkd status` prints (*ret: malloc'd). 0 or -ENOMEM. */
int status_render_text(const struct st_snapshot *s, char **ret);
