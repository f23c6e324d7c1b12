/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/inaddr.h"

int inaddr_parse(const char *s, struct inaddr *ret) {
        struct inaddr a = { 0 };

        if (!s || !*s)
                return -EINVAL;
        if (inet_pton(AF_INET, s, a.b) == 1)
                a.family = AF_INET;
        else if (inet_pton(AF_INET6, s, a.b) == 1)
                a.family = AF_INET6;
        else
                return -EINVAL;
        *ret = a;
        return 0;
}

int cidr_parse(const char *s, struct inaddr *ret, int *ret_prefix) {
        char buf[INET6_ADDRSTRLEN];
        const char *slash;
        unsigned long p = 0;
        struct inaddr a;
        char *end;
        size_t n;

        if (!s)
                return -EINVAL;
        slash = strchr(s, '/');
        n = slash ? (size_t) (slash - s) : strlen(s);
        if (n == 0 || n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, n);
        buf[n] = '\0';
        if (inaddr_parse(buf, &a) < 0)
                return -EINVAL;
        if (slash) {
                if (!isdigit((unsigned char) slash[1]))
                        return -EINVAL;
                errno = 0;
                p = strtoul(slash + 1, &end, 10);
                if (errno || *end || p > (a.family == AF_INET6 ? 128u : 32u))
                        return -EINVAL;
        }
        *ret = a;
        *ret_prefix = slash ? (int) p : -1;
        return 0;
}

int inaddr_format(const struct inaddr *a, char *buf, size_t size) {
        if (a->family != AF_INET && a->family != AF_INET6)
                return -EINVAL;
        if (!inet_ntop(a->family, a->b, buf, (socklen_t) size))
                return -ENOSPC;
        return 0;
}

bool inaddr_equal(const struct inaddr *a, const struct inaddr *b) {
        return a->family == b->family && memcmp(a->b, b->b, a->family == AF_INET ? 4 : 16) == 0;
}
