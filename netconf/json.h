/* SPDX-License-Identifier: MIT */
/* cJSON helpers shared by conf.c and record.c. Internal to netconf/: nothing outside includes this. */
#pragma once

#include <cJSON.h>
#include <stddef.h>

static inline void cjson_deletep(cJSON **p) { cJSON_Delete(*p); }
#define _cleanup_cjson_ __attribute__((__cleanup__(cjson_deletep)))

/* Parse buf[0..len) as one JSON value followed only by whitespace; NULL otherwise (or on NUL bytes). */
cJSON *json_parse_strict(const char *buf, size_t len);
