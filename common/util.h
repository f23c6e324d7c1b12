/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the plugin and the daemon: cleanup attributes, fd helpers. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((__cleanup__(f)))
#define TAKE_PTR(p) ({ __typeof__(p) _t = (p); (p) = NULL; _t; })
#define TAKE_FD(fd) ({ int _t = (fd); (fd) = -1; _t; })
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define streq(a, b) (strcmp((a), (b)) == 0)

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

/* Copy src into a fixed buffer; -ENAMETOOLONG when it does not fit (dst untouched). */
static inline int strcpy_bounded(char *dst, size_t size, const char *src) {
        size_t n = strlen(src);
        if (n >= size)
                return -ENAMETOOLONG;
        memcpy(dst, src, n + 1);
        return 0;
}
