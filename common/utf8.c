/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "common/utf8.h"

size_t utf8_seq_len(const unsigned char *s, size_t n) {
        unsigned char c;
        size_t len;
        unsigned char lo = 0x80, hi = 0xbf;     /* bounds of the second byte */

        if (n == 0)
                return 0;
        c = s[0];
        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                len = 2;
        else if (c >= 0xe0 && c <= 0xef) {
                len = 3;
                if (c == 0xe0)
                        lo = 0xa0;      /* overlong */
                else if (c == 0xed)
                        hi = 0x9f;      /* UTF-16 surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
                len = 4;
                if (c == 0xf0)
                        lo = 0x90;      /* overlong */
                else if (c == 0xf4)
                        hi = 0x8f;      /* above U+10FFFF */
        } else
                return 0;               /* continuation byte, 0xc0/0xc1, 0xf5..0xff */
        if (n < len || s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < len; i++)
                if (s[i] < 0x80 || s[i] > 0xbf)
                        return 0;
        return len;
}

bool utf8_valid(const char *s, size_t n) {
        const unsigned char *p = (const unsigned char *)s;

        while (n > 0) {
                size_t k;

                if (*p < 0x80) {        /* the common case, byte by byte */
                        p++;
                        n--;
                        continue;
                }
                k = utf8_seq_len(p, n);
                if (k == 0)
                        return false;
                p += k;
                n -= k;
        }
        return true;
}

bool utf8_valid_str(const char *s) {
        return s && utf8_valid(s, strlen(s));
}
