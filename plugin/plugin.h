/* SPDX-License-Identifier: MIT */
/* bin/relink internals: the call as the runtime made it, verb bodies, the pod link, CNI errors. */
#pragma once

#include <stdbool.h>
#include "netconf/conf.h"
#include "netconf/record.h"

/* CNI error codes (spec) and relink's own (100+, CHECK). */
enum {
        CNI_ERR_INCOMPATIBLE_VERSION = 1,
        CNI_ERR_UNSUPPORTED_FIELD = 2,
        CNI_ERR_UNKNOWN_CONTAINER = 3,
        CNI_ERR_INVALID_ENV = 4,
        CNI_ERR_IO = 5,
        CNI_ERR_DECODE = 6,
        CNI_ERR_INVALID_CONFIG = 7,
        CNI_ERR_TRY_AGAIN = 11,
        CNI_ERR_NOT_AVAILABLE = 50,
        RELINK_ERR_NO_RECORD = 100,        /* CHECK: no record for this attachment */
        RELINK_ERR_PREV_RESULT = 101,      /* CHECK: record disagrees with prevResult */
        RELINK_ERR_LIVE = 102,             /* CHECK: record disagrees with the live interface/netns */
};

struct cni_call {
        const char *command;
        const char *container_id;          /* validated record_name_valid() when the verb needs it */
        const char *netns;                 /* may be NULL for DEL */
        const char *ifname;                /* validated record_ifname_valid() */
        const char *cni_args;              /* CNI_ARGS as given; only ADD parses it (DEL/CHECK/GC never fail on it) */
        struct netconf *conf;
};

int verb_add(const struct cni_call *c);
int verb_del(const struct cni_call *c);
int verb_check(const struct cni_call *c);
int verb_status(const struct cni_call *c);
int verb_gc(const struct cni_call *c);

/* cnierr.c: remember the first error (returns -1 for `return cni_fail(...)`), print it once. */
int cni_fail(unsigned code, const char *details, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool cni_failed(void);
unsigned cni_error_code(void);          /* 0 when no error */
void cni_error_reset(void);             /* tests */
void cni_emit_error(const char *command, const char *cni_version);

/* link.c: the pod interface as the kernel sees it, inside netns_fd. */
struct link_info {
        int ifindex;
        char name[IFNAMSIZ];
        char mac[18];
        unsigned mtu;
        int master;                        /* ifindex of the bridge it is enslaved to, 0 when none */
        struct record_ip addrs[RECORD_MAX_IPS];   /* global-scope addresses (only with want_addrs) */
        size_t n_addrs;
};
/* By ifindex when > 0, else by name. -ENODEV when there is no such link. */
int link_read(int netns_fd, const char *ifname, int ifindex, bool want_addrs, struct link_info *ret);
