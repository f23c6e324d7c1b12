/* SPDX-License-Identifier: MIT */
/* cJSON helpers shared by conf.c, record.c and daemonstatus.c. Internal to netconf/: nothing outside includes this. */
#pragma once

#include <cJSON.h>
#include <stddef.h>

static inline void cjson_deletep(cJSON **p) { cJSON_Delete(*p); }
#define _cleanup_cjson_ __attribute__((__cleanup__(cjson_deletep)))

/*
 * Parse buf[0..len) as one JSON value followed only by whitespace. Refused, with a reason in err:
 *   -EBADMSG  not JSON, a NUL byte, or not well-formed UTF-8 (RFC 8259 requires it)
 *   -EINVAL   "\u0000" in any string (C would cut the string there), or an object with two keys that
 *             Go's encoding/json would treat as one (equal ignoring case; cJSON decides by the first,
 *             Go runtimes by the last, so neither may decide)
 */
/* Format a message into err (when non-NULL) and return r: the error-with-message idiom of netconf/. */
int netconf_fail(char *err, size_t size, int r, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int json_parse_strict(const char *buf, size_t len, cJSON **ret, char *err, size_t err_size);

/* Encode helpers: 0 or -ENOMEM. An item that cannot be added is deleted (the caller never owns it again). */
int json_add_str(cJSON *o, const char *k, const char *v);
int json_add_num(cJSON *o, const char *k, double v);
int json_add_null(cJSON *o, const char *k);
int json_add_item(cJSON *o, const char *k, cJSON *item);
int json_append(cJSON *a, cJSON *item);
