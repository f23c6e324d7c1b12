/* SPDX-License-Identifier: MIT */
/* GC (1.1.0): drop this network's records that the runtime no longer lists in cni.dev/valid-attachments. */
#include "common/log.h"
#include "common/util.h"
#include "netconf/store.h"
#include "plugin/plugin.h"

struct stale {
        const struct netconf *conf;
        struct attachment *items;
        size_t n, cap;
};

static bool is_valid(const struct netconf *conf, const struct record *r) {
        for (size_t i = 0; i < conf->n_valid; i++)
                if (streq(conf->valid[i].container_id, r->container_id) && streq(conf->valid[i].ifname, r->ifname))
                        return true;
        return false;
}

static int collect(const struct record *r, void *userdata) {
        struct stale *st = userdata;

        if (is_valid(st->conf, r))
                return 0;
        if (st->n == st->cap) {
                size_t cap = st->cap ? st->cap * 2 : 16;
                struct attachment *p = realloc(st->items, cap * sizeof(*p));
                if (!p)
                        return -ENOMEM;
                st->items = p;
                st->cap = cap;
        }
        strcpy(st->items[st->n].container_id, r->container_id);
        strcpy(st->items[st->n].ifname, r->ifname);
        st->n++;
        return 0;
}

/* Temp files of writers killed mid-write (network dir under our exclusive lock, and the store dir). */
static unsigned sweep(struct store *s, const char *network) {
        unsigned swept = 0;
        int k = store_sweep_temp(s, network, STORE_TEMP_MAX_AGE, &swept);

        if (k < 0)
                log_warn("GC: cannot remove stale temp files: %s", store_strerror(k));
        return swept;
}

int verb_gc(const struct cni_call *c) {
        const struct netconf *conf = c->conf;
        _cleanup_(store_closep) struct store *s = NULL;
        _cleanup_close_ int lock_fd = -1;
        struct stale st = { .conf = conf };
        unsigned skipped = 0;
        size_t removed = 0;
        int k;

        if (!conf->has_valid_attachments)
                return cni_fail(CNI_ERR_INVALID_CONFIG, NULL, "GC needs cni.dev/valid-attachments");
        k = store_open(conf->state_dir, false, &s);
        if (k == -ENOENT)
                return 0;
        if (k < 0)
                return cni_fail(CNI_ERR_IO, store_strerror(k), "cannot open stateDir '%s'", conf->state_dir);
        lock_fd = store_lock(s, conf->name, true);
        if (lock_fd == -ENOENT) {
                sweep(s, NULL);
                return 0;
        }
        if (lock_fd == -EAGAIN)
                return cni_fail(CNI_ERR_TRY_AGAIN, NULL, "state of network '%s' is busy", conf->name);
        if (lock_fd < 0)
                return cni_fail(CNI_ERR_IO, store_strerror(lock_fd), "cannot lock network '%s'", conf->name);

        k = store_foreach(s, conf->name, collect, &st, &skipped);
        if (k < 0) {
                free(st.items);
                return cni_fail(CNI_ERR_IO, strerror(-k), "cannot list the records of network '%s'", conf->name);
        }
        for (size_t i = 0; i < st.n; i++) {
                k = store_remove(s, conf->name, st.items[i].container_id, st.items[i].ifname);
                if (k < 0 && k != -ENOENT)
                        log_warn("GC: cannot remove %s ifname=%s: %s", st.items[i].container_id, LOG_Q(st.items[i].ifname),
                                 strerror(-k));
                else if (k == 0)
                        removed++;
        }
        free(st.items);
        unsigned swept = sweep(s, conf->name);
        log_info("GC network=%s valid=%zu removed=%zu skipped-corrupt=%u stale-temp-removed=%u", conf->name,
                 conf->n_valid, removed, skipped, swept);
        return 0;
}
