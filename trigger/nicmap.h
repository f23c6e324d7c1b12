/* SPDX-License-Identifier: MIT */
/* Which attachment record a guest NIC is bound to, seen from the pod netns:
 * the NIC's tap → its master bridge → the bridge port whose ifindex is a record's ifindex. */
#pragma once

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "netconf/record.h"

struct store;

struct pod_link {
        int ifindex;
        int master;                  /* 0 when none */
        char name[IFNAMSIZ];
};

/* Every link of the netns (libnl, socket created inside it). Caller frees *ret. 0 or -errno. */
int pod_links_read(int netns_fd, struct pod_link **ret, size_t *ret_n);

/* Pure: the index in recs[] of the record the tap named tap is bound to; -ENOENT when none
 * (no such tap, no master, or no port of that master is recorded). recs are already those of
 * the pod's netns. */
int nicmap_match(const struct pod_link *links, size_t n_links, const char *tap,
                 struct record *const *recs, size_t n_recs, size_t *ret_idx);

/* The records of the store whose netns identity is (dev, ino). Caller: records_free(). 0 or -errno.
 * Unreadable or corrupt record files are skipped, never deleted; their number goes to *ret_skipped
 * (when non-NULL) for the caller to report. */
int records_for_netns(struct store *s, uint64_t dev, uint64_t ino, struct record ***ret, size_t *ret_n,
                      unsigned *ret_skipped);
void records_free(struct record **recs, size_t n);
