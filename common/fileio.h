/* SPDX-License-Identifier: MIT */
/* Capped reads and atomic replacement of files, relative to directory fds. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Read all of fd into a NUL-terminated buffer (caller frees). -EFBIG when longer than max. */
int read_full_fd(int fd, size_t max, char **ret_buf, size_t *ret_len);
/* Same for dir_fd/name, opened with O_NOFOLLOW; -ELOOP/-EFTYPE-like errors for non-regular files. */
int read_full_at(int dir_fd, const char *name, size_t max, char **ret_buf, size_t *ret_len);
/*
 * Replace dir_fd/name atomically: temp file in the same directory (O_CLOEXEC|O_EXCL, mode),
 * write, optionally fsync, renameat. The temp file is unlinked on any failure.
 * Temp names start with '.', so directory walkers can skip them.
 */
int write_atomic_at(int dir_fd, const char *name, const void *data, size_t len, mode_t mode, bool sync);
