/* SPDX-License-Identifier: MIT */
/* One frame off the pod's tap (Ethernet, 802.1Q, IPv4, UDP, BOOTP, options). */
#include "trigger/dhcpwatch.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct dhcp_seen s;
        uint8_t *copy;

        /* An exact-size heap copy: ASan sees any read past the frame. */
        copy = malloc(size ? size : 1);
        if (!copy)
                return 0;
        memcpy(copy, data, size);
        if (dhcp_parse_frame(copy, size, &s) == 0 &&
            (memchr(s.chaddr, '\0', sizeof(s.chaddr)) == NULL || memchr(s.yiaddr, '\0', sizeof(s.yiaddr)) == NULL ||
             memchr(s.requested, '\0', sizeof(s.requested)) == NULL ||
             memchr(s.server_id, '\0', sizeof(s.server_id)) == NULL))
                abort();        /* every string field is terminated */
        free(copy);
        return 0;
}
