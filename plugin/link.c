/* SPDX-License-Identifier: MIT */
/* Read the pod interface with libnl, from a netlink socket created inside the pod netns. */
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <stdio.h>

#include "common/mac.h"
#include "common/nlroute.h"
#include "common/util.h"
#include "plugin/plugin.h"

static void read_addrs(struct nl_sock *sk, struct link_info *li) {
        _cleanup_(nl_cache_putp) struct nl_cache *cache = NULL;

        if (rtnl_addr_alloc_cache(sk, &cache) < 0)
                return;
        for (struct nl_object *o = nl_cache_get_first(cache); o && li->n_addrs < RECORD_MAX_IPS;
             o = nl_cache_get_next(o)) {
                struct rtnl_addr *a = (struct rtnl_addr *)o;
                struct nl_addr *local = rtnl_addr_get_local(a);
                struct record_ip *ip;
                int family = rtnl_addr_get_family(a);

                if (rtnl_addr_get_ifindex(a) != li->ifindex || !local || rtnl_addr_get_scope(a) != RT_SCOPE_UNIVERSE ||
                    (family != AF_INET && family != AF_INET6))
                        continue;
                ip = &li->addrs[li->n_addrs];
                memset(ip, 0, sizeof(*ip));
                ip->family = family;
                if (!inet_ntop(family, nl_addr_get_binary_addr(local), ip->address, sizeof(ip->address)))
                        continue;
                ip->prefix = (unsigned)rtnl_addr_get_prefixlen(a);
                li->n_addrs++;
        }
}

int link_read(int netns_fd, const char *ifname, int ifindex, bool want_addrs, struct link_info *ret) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
        struct link_info li = {0};
        struct nl_addr *mac;
        const char *name;
        int r;

        r = nlroute_socket_in(netns_fd, &sk);
        if (r < 0)
                return r;
        r = rtnl_link_get_kernel(sk, ifindex > 0 ? ifindex : 0, ifindex > 0 ? NULL : ifname, &link);
        if (r < 0)
                return nl_to_errno(r);

        li.ifindex = rtnl_link_get_ifindex(link);
        name = rtnl_link_get_name(link);
        if (name)
                snprintf(li.name, sizeof(li.name), "%s", name);
        li.mtu = rtnl_link_get_mtu(link);
        li.master = rtnl_link_get_master(link);
        mac = rtnl_link_get_addr(link);
        if (mac && nl_addr_get_len(mac) == 6)
                mac_format(nl_addr_get_binary_addr(mac), li.mac);
        if (want_addrs)
                read_addrs(sk, &li);
        *ret = li;
        return 0;
}
