/* SPDX-License-Identifier: MIT */
/* IP address and CIDR text: one parser for the plugin's CNI input, the record, relinkd's metadata and
 * its decisions. IPv4 dotted quad or IPv6 (inet_pton); a prefix is decimal digits only, ≤ 32 / 128. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct inaddr {
        int family;                  /* AF_INET or AF_INET6 */
        unsigned char b[16];         /* network order; IPv4 in the first 4 */
};

/* "10.1.2.3" / "fd00::1" → family and bytes. 0 or -EINVAL (NULL, empty, anything else). */
int inaddr_parse(const char *s, struct inaddr *ret);
/* "A/P" → address and prefix; ret_prefix gets -1 when s has no "/P" (callers that need one check).
 * 0 or -EINVAL. */
int cidr_parse(const char *s, struct inaddr *ret, int *ret_prefix);
/* Canonical text (inet_ntop: lower-case, IPv6 compressed). 0 or -ENOSPC / -EINVAL. */
int inaddr_format(const struct inaddr *a, char *buf, size_t size);
bool inaddr_equal(const struct inaddr *a, const struct inaddr *b);
