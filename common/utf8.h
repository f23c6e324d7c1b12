/* SPDX-License-Identifier: MIT */
/* UTF-8 well-formedness (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Length of the well-formed sequence at s[0..n), 0 when it is not one (or n == 0). */
size_t utf8_seq_len(const unsigned char *s, size_t n);
/* True when s[0..n) is entirely well-formed UTF-8. */
bool utf8_valid(const char *s, size_t n);
/* Same for a NUL-terminated string. */
bool utf8_valid_str(const char *s);
