/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>

#include "common/netns.h"
#include "common/nlroute.h"
#include "common/util.h"

int nl_to_errno(int nle) {
        switch (abs(nle)) {
        case NLE_NOMEM:
                return -ENOMEM;
        case NLE_EXIST:
                return -EEXIST;
        case NLE_OBJ_NOTFOUND:
        case NLE_NODEV:
                return -ENODEV;
        case NLE_PERM:
                return -EPERM;
        case NLE_INVAL:
        case NLE_RANGE:
                return -EINVAL;
        case NLE_BUSY:
                return -EBUSY;
        case NLE_OPNOTSUPP:
                return -EOPNOTSUPP;
        default:
                return -EIO;
        }
}

int nlroute_socket_in(int netns_fd, struct nl_sock **ret) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = nl_socket_alloc();
        int saved = -1, r, k;

        if (!sk)
                return -ENOMEM;
        if (netns_fd >= 0) {
                r = netns_enter(netns_fd, &saved);
                if (r < 0)
                        return r;
        }
        k = nl_connect(sk, NETLINK_ROUTE);
        if (netns_fd >= 0)
                netns_leave(saved);
        if (k < 0)
                return nl_to_errno(k);
        *ret = TAKE_PTR(sk);
        return 0;
}
