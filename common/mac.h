/* SPDX-License-Identifier: MIT */
/* Ethernet MAC addresses as text: "0a:58:0a:f4:01:05", lower case, the one form relink stores and compares. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* "0A:58:…" → 6 bytes (either case, exactly six colon-separated pairs). 0 or -EINVAL. */
int mac_parse(const char *s, uint8_t ret[6]);
/* 6 bytes → "0a:58:0a:f4:01:05". */
void mac_format(const uint8_t m[6], char out[18]);
/* Any-case text → lower-case text; false (out untouched) when s is not a MAC. */
bool mac_normalise(const char *s, char out[18]);
