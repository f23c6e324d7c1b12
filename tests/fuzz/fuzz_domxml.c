/* SPDX-License-Identifier: MIT */
/* A domain's live XML: list its NICs, then every edit relinkd makes to one <interface>. */
#include "trigger/domxml.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct dom_nic *nics = NULL;
        size_t n = 0;
        char *xml;

        if (size > 1024 * 1024)
                return 0;
        xml = fuzz_cstr(data, size);
        if (!xml)
                return 0;
        if (domxml_nics(xml, &nics, &n) == 0)
                for (size_t i = 0; i < n; i++) {
                        char *a = NULL, *b = NULL, *c = NULL, *d = NULL;

                        if (ifxml_set_link(nics[i].xml, !nics[i].link_up, &a) == 0 &&
                            ifxml_set_mac(a, "0a:58:0a:f4:01:99", &b) == 0 && ifxml_strip_alias(b, &c) == 0)
                                (void) ifxml_drop_target(c, "user", &d);
                        free(a);
                        free(b);
                        free(c);
                        free(d);
                }
        dom_nics_free(nics, n);
        free(xml);
        return 0;
}
