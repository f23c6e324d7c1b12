/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/mac.h"

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        c = (char) (c | 0x20);
        return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int mac_parse(const char *s, uint8_t ret[6]) {
        uint8_t m[6];

        if (!s)
                return -EINVAL;
        for (int i = 0; i < 6; i++) {
                int hi = hexval(s[0]), lo = hi < 0 ? -1 : hexval(s[1]);

                if (hi < 0 || lo < 0)
                        return -EINVAL;
                m[i] = (uint8_t) (hi << 4 | lo);
                s += 2;
                if (i < 5 && *s++ != ':')
                        return -EINVAL;
        }
        if (*s)
                return -EINVAL;
        memcpy(ret, m, 6);
        return 0;
}

void mac_format(const uint8_t m[6], char out[18]) {
        snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

bool mac_normalise(const char *s, char out[18]) {
        uint8_t m[6];

        if (mac_parse(s, m) < 0)
                return false;
        mac_format(m, out);
        return true;
}
