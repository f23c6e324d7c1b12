/* SPDX-License-Identifier: MIT */
/* relinkd's per-domain metadata (<nics>…): what decodes must encode and decode to the same entries. */
#include "trigger/metadata.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct meta_nic *nics = NULL, *back = NULL;
        size_t n = 0, n_back = 0;
        char *xml, *enc = NULL;

        if (size > RELINK_META_MAX_BYTES + 1)
                return 0;
        xml = fuzz_cstr(data, size);
        if (!xml)
                return 0;
        if (metadata_decode(xml, &nics, &n) == 0) {
                if (metadata_encode(nics, n, &enc) != 0 || metadata_decode(enc, &back, &n_back) != 0 || n_back != n)
                        abort();
                for (size_t i = 0; i < n; i++)
                        if (!metadata_find(back, n_back, nics[i].pci))
                                abort();
        }
        free(enc);
        free(back);
        free(nics);
        free(xml);
        return 0;
}
