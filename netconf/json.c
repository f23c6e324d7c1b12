/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "netconf/json.h"

int netconf_fail(char *err, size_t size, int r, const char *fmt, ...) {
        va_list ap;

        if (err && size) {
                va_start(ap, fmt);
                vsnprintf(err, size, fmt, ap);
                va_end(ap);
        }
        return r;
}

/* "\u0000" anywhere: cJSON would cut the string there, so two different names would read as one.
 * Every backslash of a valid document starts an escape, so pairs are skipped as they come. */
static bool has_nul_escape(const char *buf, size_t len) {
        for (size_t i = 0; i + 1 < len; i++) {
                if (buf[i] != '\\')
                        continue;
                if (buf[i + 1] == 'u' && i + 5 < len && memcmp(buf + i + 2, "0000", 4) == 0)
                        return true;
                i++;
        }
        return false;
}

/*
 * Key comparison as Go's encoding/json matches keys to struct fields: case-insensitively, where
 * U+212A KELVIN SIGN folds to 'k' and U+017F LONG S to 's' (the only non-ASCII runes that fold to
 * ASCII). Two keys that compare equal here would both decide one field in a Go runtime.
 */
static unsigned fold_next(const char **p) {
        const unsigned char *s = (const unsigned char *)*p;

        if (s[0] == 0xe2 && s[1] == 0x84 && s[2] == 0xaa) {
                *p += 3;
                return 'k';
        }
        if (s[0] == 0xc5 && s[1] == 0xbf) {
                *p += 2;
                return 's';
        }
        *p += 1;
        return (unsigned)tolower(s[0]);
}

static int fold_cmp(const char *a, const char *b) {
        for (;;) {
                unsigned x = *a ? fold_next(&a) : 0, y = *b ? fold_next(&b) : 0;
                if (x != y)
                        return x < y ? -1 : 1;
                if (x == 0)
                        return 0;
        }
}

static int fold_cmp_p(const void *a, const void *b) {
        return fold_cmp(*(const char *const *)a, *(const char *const *)b);
}

/* First key of o that another key of o matches (fold_cmp), NULL when all differ. */
static int duplicate_key(const cJSON *o, const char **ret_key) {
        const cJSON *a, *b;
        size_t n = 0;

        *ret_key = NULL;
        for (a = o->child; a; a = a->next)
                n++;
        if (n <= 16) {          /* the usual object: pairwise, no allocation */
                for (a = o->child; a; a = a->next)
                        for (b = a->next; b; b = b->next)
                                if (fold_cmp(a->string, b->string) == 0) {
                                        *ret_key = a->string;
                                        return 0;
                                }
                return 0;
        }
        const char **keys = malloc(n * sizeof(*keys));
        size_t i = 0;

        if (!keys)
                return -ENOMEM;
        for (a = o->child; a; a = a->next)
                keys[i++] = a->string;
        qsort(keys, n, sizeof(*keys), fold_cmp_p);
        for (i = 1; i < n && !*ret_key; i++)
                if (fold_cmp(keys[i - 1], keys[i]) == 0)
                        *ret_key = keys[i];
        free(keys);
        return 0;
}

static int check_keys(const cJSON *v, char *err, size_t es) {
        const char *dup;
        int r;

        if (cJSON_IsObject(v)) {
                r = duplicate_key(v, &dup);
                if (r < 0)
                        return r;
                if (dup)
                        return netconf_fail(err, es, -EINVAL, "duplicate key '%.64s'", dup);
        }
        if (cJSON_IsObject(v) || cJSON_IsArray(v))
                for (const cJSON *c = v->child; c; c = c->next) {
                        r = check_keys(c, err, es);
                        if (r < 0)
                                return r;
                }
        return 0;
}

int json_parse_strict(const char *buf, size_t len, cJSON **ret, char *err, size_t es) {
        const char *end = NULL;
        cJSON *o;
        int r;

        if (len == 0)
                return netconf_fail(err, es, -EBADMSG, "empty document");
        if (memchr(buf, '\0', len))
                return netconf_fail(err, es, -EBADMSG, "NUL byte in the document");
        if (!utf8_valid(buf, len))
                return netconf_fail(err, es, -EBADMSG, "document is not valid UTF-8");
        if (has_nul_escape(buf, len))
                return netconf_fail(err, es, -EINVAL, "\\u0000 in a string");
        o = cJSON_ParseWithLengthOpts(buf, len, &end, false);
        if (!o)
                return netconf_fail(err, es, -EBADMSG, "not valid JSON");
        for (; end && end < buf + len; end++)
                if (!isspace((unsigned char)*end)) {
                        cJSON_Delete(o);
                        return netconf_fail(err, es, -EBADMSG, "not valid JSON (data after the value)");
                }
        r = check_keys(o, err, es);
        if (r < 0) {
                cJSON_Delete(o);
                return r;
        }
        *ret = o;
        return 0;
}

int json_add_str(cJSON *o, const char *k, const char *v) {
        return cJSON_AddStringToObject(o, k, v) ? 0 : -ENOMEM;
}

int json_add_num(cJSON *o, const char *k, double v) {
        return cJSON_AddNumberToObject(o, k, v) ? 0 : -ENOMEM;
}

int json_add_null(cJSON *o, const char *k) {
        return cJSON_AddNullToObject(o, k) ? 0 : -ENOMEM;
}

int json_add_item(cJSON *o, const char *k, cJSON *item) {
        if (!item)
                return -ENOMEM;
        if (!cJSON_AddItemToObject(o, k, item)) {
                cJSON_Delete(item);
                return -ENOMEM;
        }
        return 0;
}

int json_append(cJSON *a, cJSON *item) {
        if (!item)
                return -ENOMEM;
        if (!cJSON_AddItemToArray(a, item)) {
                cJSON_Delete(item);
                return -ENOMEM;
        }
        return 0;
}
