/* SPDX-License-Identifier: MIT */
/* A record file as relinkd and the plugin read it; whatever decodes must encode and decode to the same. */
#include "netconf/record.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct record *r = NULL, *back = NULL;
        char *json = NULL, *again = NULL;

        if (size > RECORD_MAX_BYTES)
                return 0;
        if (record_from_json((const char *) data, size, &r) < 0)
                return 0;
        if (record_to_json(r, &json) == 0) {
                if (record_from_json(json, strlen(json), &back) != 0)
                        abort();        /* our own encoding must decode */
                if (record_to_json(back, &again) != 0 || strcmp(json, again) != 0)
                        abort();        /* and be a fixed point */
        }
        free(again);
        free(back);
        free(json);
        free(r);
        return 0;
}
