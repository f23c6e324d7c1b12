/* SPDX-License-Identifier: MIT */
/*
 * relinkd's claim on its state dir: one relinkd per store. Two daemons following the same launchers
 * would each act on every migration (two flaps, two re-attaches for one event), so the second one
 * refuses to start. The claim is an flock on the state dir itself (netconf/store.h: the DaemonSet
 * mounts it read-only, so no file in it), held from start-up to exit; the kernel drops it when relinkd
 * dies, however it dies, so a restarted relinkd (SIGKILL, OOM) takes it over at once. The lock is on
 * the directory's inode: another mount of it (the host's path, a container's bind mount) is the same.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Check the state dir and claim it. A missing directory is created (mode 0700, as the plugin's first
 * ADD would: relinkd may start before any pod on the node has a relink attachment), *ret_created says so.
 * Refused, with a reason in err: not a directory, not openable by relinkd's user, not owned by root
 * (or relinkd's user), group- or world-writable, or claimed by another process (-EWOULDBLOCK,
 * *ret_holder its PID from /proc/locks, 0 when not visible there). Returns the lock fd, to be kept open
 * until exit, or -errno.
 */
int statedir_claim(const char *dir, bool *ret_created, pid_t *ret_holder, char *err, size_t err_size);
