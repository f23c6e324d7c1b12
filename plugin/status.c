/* SPDX-License-Identifier: MIT */
/* STATUS (1.1.0): ready when the state store can be written. */
#include "common/log.h"
#include "common/util.h"
#include "netconf/store.h"
#include "plugin/plugin.h"

int verb_status(const struct cni_call *c) {
        _cleanup_(store_closep) struct store *s = NULL;
        const char *reason = NULL;
        int k;

        k = store_open(c->conf->state_dir, true, &s);
        if (k < 0)
                return cni_fail(CNI_ERR_NOT_AVAILABLE, store_strerror(k), "state directory '%s' cannot be opened",
                                c->conf->state_dir);
        k = store_usable(s, &reason);
        if (k < 0)
                return cni_fail(CNI_ERR_NOT_AVAILABLE, strerror(-k), "%s: '%s'", reason ? reason : "state store unusable",
                                c->conf->state_dir);
        /* Probe files of STATUS calls killed mid-probe (ours is gone already); not a readiness question. */
        k = store_sweep_temp(s, NULL, STORE_TEMP_MAX_AGE, NULL);
        if (k < 0)
                log_warn("STATUS: cannot remove stale probe files: %s", store_strerror(k));
        return 0;
}
