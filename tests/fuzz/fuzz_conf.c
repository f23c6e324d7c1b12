/* SPDX-License-Identifier: MIT */
/* The plugin's stdin: network configuration with prevResult (every cniVersion), then what ADD does with
 * it: re-encode prevResult in the config's version (twice: the result must be stable), find the pod
 * interface, copy its IPs into a record and encode that record. */
#include <stdio.h>

#include "netconf/conf.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct netconf *c = NULL;
        char err[256];
        char *a = NULL, *b = NULL, *rec_json = NULL;

        if (size > CONF_MAX_INPUT)
                return 0;
        if (conf_parse((const char *) data, size, &c, err, sizeof(err)) < 0)
                return 0;
        if (c->has_prev_result && conf_prev_result_json(c, &a) == 0 && conf_prev_result_json(c, &b) == 0 &&
            strcmp(a, b) != 0)
                abort();        /* documented: repeated calls give the same output */
        if (c->has_prev_result) {
                struct record r = { .schema = RECORD_SCHEMA };
                int i = prev_result_pod_iface(&c->prev, "eth0");

                prev_result_ips_for(&c->prev, i, &r);
                snprintf(r.network, sizeof(r.network), "%s", c->name);
                snprintf(r.cni_version, sizeof(r.cni_version), "%s", c->cni_version);
                snprintf(r.vm, sizeof(r.vm), "%s", c->vm);
                (void) record_to_json(&r, &rec_json);
        }
        free(a);
        free(b);
        free(rec_json);
        conf_free(c);
        return 0;
}
