/* SPDX-License-Identifier: MIT */
/* DEL: forget the attachment. Best effort: missing netns, prevResult, record or store are all fine. */
#include "common/log.h"
#include "common/util.h"
#include "netconf/store.h"
#include "plugin/plugin.h"

int verb_del(const struct cni_call *c) {
        const struct netconf *conf = c->conf;
        _cleanup_(store_closep) struct store *s = NULL;
        _cleanup_close_ int lock_fd = -1;
        int k;

        k = store_open(conf->state_dir, false, &s);
        if (k == -ENOENT)
                return 0;
        if (k < 0) {
                log_warn("DEL: cannot open stateDir %s: %s (nothing removed)", LOG_Q(conf->state_dir), store_strerror(k));
                return 0;
        }
        lock_fd = store_lock(s, conf->name, false);
        if (lock_fd == -ENOENT)
                return 0;
        if (lock_fd == -EAGAIN)
                return cni_fail(CNI_ERR_TRY_AGAIN, NULL, "state of network '%s' is locked (GC running)", conf->name);
        if (lock_fd < 0) {
                log_warn("DEL: cannot lock network '%s': %s (nothing removed)", conf->name, store_strerror(lock_fd));
                return 0;
        }
        k = store_remove(s, conf->name, c->container_id, c->ifname);
        if (k < 0 && k != -ENOENT)
                log_warn("DEL: cannot remove record %s ifname=%s: %s", c->container_id, LOG_Q(c->ifname), strerror(-k));
        else
                log_info("DEL network=%s container=%s ifname=%s%s", conf->name, c->container_id, LOG_Q(c->ifname),
                         k == -ENOENT ? " (no record)" : "");
        return 0;
}
