/* SPDX-License-Identifier: MIT */
/* NIC → record through the pod netns (libnl route links), and the records of one netns. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>

#include "common/nlroute.h"
#include "common/util.h"
#include "netconf/store.h"
#include "trigger/nicmap.h"

int pod_links_read(int netns_fd, struct pod_link **ret, size_t *ret_n) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_(nl_cache_putp) struct nl_cache *cache = NULL;
        _cleanup_free_ struct pod_link *links = NULL;
        size_t n = 0, cap;
        int r;

        r = nlroute_socket_in(netns_fd, &sk);
        if (r < 0)
                return r;
        if (rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache) < 0)
                return -EIO;
        cap = (size_t) nl_cache_nitems(cache);
        links = calloc(cap ? cap : 1, sizeof(*links));
        if (!links)
                return -ENOMEM;
        for (struct nl_object *o = nl_cache_get_first(cache); o && n < cap; o = nl_cache_get_next(o)) {
                struct rtnl_link *l = (struct rtnl_link *) o;
                const char *name = rtnl_link_get_name(l);

                links[n].ifindex = rtnl_link_get_ifindex(l);
                links[n].master = rtnl_link_get_master(l);
                if (name && strcpy_bounded(links[n].name, sizeof(links[n].name), name) < 0)
                        continue;
                n++;
        }
        *ret = TAKE_PTR(links);
        *ret_n = n;
        return 0;
}

static const struct pod_link *link_by_name(const struct pod_link *links, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (streq(links[i].name, name))
                        return &links[i];
        return NULL;
}

static const struct pod_link *link_by_index(const struct pod_link *links, size_t n, int ifindex) {
        for (size_t i = 0; i < n; i++)
                if (links[i].ifindex == ifindex)
                        return &links[i];
        return NULL;
}

int nicmap_match(const struct pod_link *links, size_t n_links, const char *tap,
                 struct record *const *recs, size_t n_recs, size_t *ret_idx) {
        const struct pod_link *t, *port;

        if (!tap || !*tap)
                return -ENOENT;
        t = link_by_name(links, n_links, tap);
        if (!t || t->master <= 0)
                return -ENOENT;
        for (size_t i = 0; i < n_recs; i++) {
                if (recs[i]->ifindex <= 0 || recs[i]->ifindex == t->ifindex)
                        continue;
                port = link_by_index(links, n_links, recs[i]->ifindex);
                if (port && port->master == t->master) {
                        *ret_idx = i;
                        return 0;
                }
        }
        return -ENOENT;
}

struct collect {
        uint64_t dev, ino;
        struct record **recs;
        size_t n;
};

static int collect_one(const struct record *r, void *userdata) {
        struct collect *c = userdata;
        struct record **recs, *copy;

        if (r->netns_dev != c->dev || r->netns_ino != c->ino)
                return 0;
        copy = malloc(sizeof(*copy));
        recs = realloc(c->recs, (c->n + 1) * sizeof(*recs));
        if (!copy || !recs) {
                free(copy);
                if (recs)
                        c->recs = recs;
                return -ENOMEM;
        }
        memcpy(copy, r, sizeof(*copy));
        c->recs = recs;
        c->recs[c->n++] = copy;
        return 0;
}

void records_free(struct record **recs, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(recs[i]);
        free(recs);
}

int records_for_netns(struct store *s, uint64_t dev, uint64_t ino, struct record ***ret, size_t *ret_n,
                      unsigned *ret_skipped) {
        struct collect c = { .dev = dev, .ino = ino };
        unsigned skipped = 0;
        int r;

        r = store_foreach(s, NULL, collect_one, &c, &skipped);
        if (r < 0) {
                records_free(c.recs, c.n);
                return r;
        }
        *ret = c.recs;
        *ret_n = c.n;
        if (ret_skipped)
                *ret_skipped = skipped;
        return 0;
}
