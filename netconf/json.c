/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "netconf/json.h"

cJSON *json_parse_strict(const char *buf, size_t len) {
        const char *end = NULL;
        cJSON *o;

        if (len == 0 || memchr(buf, '\0', len))
                return NULL;
        o = cJSON_ParseWithLengthOpts(buf, len, &end, false);
        for (; o && end && end < buf + len; end++)
                if (!isspace((unsigned char)*end)) {
                        cJSON_Delete(o);
                        return NULL;
                }
        return o;
}
