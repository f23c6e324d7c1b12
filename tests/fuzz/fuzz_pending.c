/* SPDX-License-Identifier: MIT */
/* The pending-unplug element (<pending><nic …><attach>…</attach><had>…</had></nic></pending>). */
#include "trigger/pending.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct pending_nic *p = NULL, *back = NULL;
        size_t n = 0, n_back = 0;
        char *xml, *enc = NULL;

        if (size > 1024 * 1024)
                return 0;
        xml = fuzz_cstr(data, size);
        if (!xml)
                return 0;
        if (pending_decode(xml, &p, &n) == 0) {
                if (pending_encode(p, n, &enc) != 0 || pending_decode(enc, &back, &n_back) != 0 || n_back != n)
                        abort();
                for (size_t i = 0; i < n; i++)
                        if (strcmp(p[i].pci, back[i].pci) != 0 || strcmp(p[i].iface_xml, back[i].iface_xml) != 0 ||
                            p[i].asked_ms != back[i].asked_ms)
                                abort();
        }
        pending_free(back, n_back);
        pending_free(p, n);
        free(enc);
        free(xml);
        return 0;
}
