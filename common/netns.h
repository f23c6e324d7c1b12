/* SPDX-License-Identifier: MIT */
/* Network namespaces: open by path, identify by (st_dev, st_ino), enter and leave by fd. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Open a netns file (/var/run/netns/x, /proc/<pid>/ns/net) without ever blocking or opening
 * anything else (a FIFO, a device node): -EINVAL when it is not a network namespace. */
int netns_open(const char *path, int *ret_fd);
int netns_identity(int fd, uint64_t *ret_dev, uint64_t *ret_ino);
/* Switch the calling thread into netns fd; *ret_saved is the fd to hand to netns_leave(). */
int netns_enter(int fd, int *ret_saved);
/* Go back to the saved netns and close the saved fd. Aborts the process if that fails: no caller
 * can carry on in the wrong netns, so none has to handle it. */
void netns_leave(int saved);
