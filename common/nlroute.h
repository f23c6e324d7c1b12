/* SPDX-License-Identifier: MIT */
/* libnl route sockets bound to a network namespace, the cleanup helpers for libnl objects, and the one
 * place libnl's NLE_* codes become -errno. */
#pragma once

#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>

/* A NETLINK_ROUTE socket created inside the netns behind netns_fd (the calling thread goes back to its
 * own netns; the socket stays bound to that one). netns_fd < 0: the current netns. 0 or -errno. */
int nlroute_socket_in(int netns_fd, struct nl_sock **ret);
/* libnl error (negative NLE_*) → -errno. */
int nl_to_errno(int nle);

static inline void nl_socket_freep(struct nl_sock **s) {
        if (*s)
                nl_socket_free(*s);
}
static inline void nl_cache_putp(struct nl_cache **c) {
        if (*c)
                nl_cache_put(*c);
}
static inline void rtnl_link_putp(struct rtnl_link **l) {
        if (*l)
                rtnl_link_put(*l);
}
static inline void nl_addr_putp(struct nl_addr **a) {
        if (*a)
                nl_addr_put(*a);
}
