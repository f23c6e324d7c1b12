/* SPDX-License-Identifier: MIT */
/*
 * CHECK: the record exists and agrees with prevResult and with the live interface (by ifindex).
 * A bridge binding may later rename the pod interface (eth0 → eth0-nic), enslave it, give its MAC
 * to the VM and remove its IP: none of that is a failure. What stays meaningful: the netns is the
 * recorded one, the ifindex still exists there, and while no bridge owns the link its MAC is unchanged.
 */
#include <strings.h>

#include "common/log.h"
#include "common/netns.h"
#include "common/util.h"
#include "netconf/store.h"
#include "plugin/plugin.h"

static bool ip_in(const struct record_ip *ip, const struct record_ip *set, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (set[i].family == ip->family && set[i].prefix == ip->prefix && streq(set[i].address, ip->address))
                        return true;
        return false;
}

static int check_prev_result(const struct cni_call *c, const struct record *rec) {
        const struct prev_result *p = &c->conf->prev;
        _cleanup_free_ struct record *want = calloc(1, sizeof(*want));
        int iface = prev_result_pod_iface(p, c->ifname);

        if (!want)
                return cni_fail(CNI_ERR_IO, NULL, "out of memory");
        if (iface >= 0 && p->ifaces[iface].mac[0] && rec->mac[0] && strcasecmp(p->ifaces[iface].mac, rec->mac) != 0)
                return cni_fail(RELINK_ERR_PREV_RESULT, NULL, "prevResult MAC %s of '%s' differs from the recorded %s",
                                p->ifaces[iface].mac, c->ifname, rec->mac);
        prev_result_ips_for(p, iface < 0 ? -1 : iface, want);
        if (want->n_ips == 0)
                return 0;       /* ADD recorded the live addresses then; nothing in prevResult to compare */
        for (size_t i = 0; i < want->n_ips; i++)
                if (!ip_in(&want->ips[i], rec->ips, rec->n_ips))
                        return cni_fail(RELINK_ERR_PREV_RESULT, NULL, "prevResult address %s/%u is not in the record",
                                        want->ips[i].address, want->ips[i].prefix);
        for (size_t i = 0; i < rec->n_ips; i++)
                if (!ip_in(&rec->ips[i], want->ips, want->n_ips))
                        return cni_fail(RELINK_ERR_PREV_RESULT, NULL, "recorded address %s/%u is not in prevResult",
                                        rec->ips[i].address, rec->ips[i].prefix);
        return 0;
}

static int check_live(const struct cni_call *c, const struct record *rec) {
        _cleanup_close_ int ns_fd = -1;
        struct link_info li;
        uint64_t dev, ino;
        int k;

        k = netns_open(c->netns, &ns_fd);
        if (k == -EINVAL)
                return cni_fail(CNI_ERR_INVALID_ENV, NULL, "CNI_NETNS '%s' is not a network namespace", c->netns);
        if (k < 0)
                return cni_fail(CNI_ERR_INVALID_ENV, strerror(-k), "cannot open netns '%s' (CNI_NETNS)", c->netns);
        k = netns_identity(ns_fd, &dev, &ino);
        if (k < 0)
                return cni_fail(CNI_ERR_IO, strerror(-k), "cannot stat netns '%s'", c->netns);
        if ((rec->netns_dev || rec->netns_ino) && (dev != rec->netns_dev || ino != rec->netns_ino))
                return cni_fail(RELINK_ERR_LIVE, NULL, "netns '%s' is not the one recorded at ADD ('%s')", c->netns,
                                rec->netns_path);
        k = link_read(ns_fd, NULL, rec->ifindex, false, &li);
        if (k == -ENODEV)
                return cni_fail(RELINK_ERR_LIVE, NULL, "recorded interface '%s' (ifindex %d) no longer exists in '%s'",
                                rec->ifname, rec->ifindex, c->netns);
        if (k < 0)
                return cni_fail(CNI_ERR_IO, strerror(-k), "cannot read ifindex %d in netns '%s'", rec->ifindex, c->netns);
        if (li.master == 0 && rec->mac[0] && li.mac[0] && !streq(li.mac, rec->mac))
                return cni_fail(RELINK_ERR_LIVE, NULL, "interface '%s' (ifindex %d) has MAC %s, recorded %s", li.name,
                                li.ifindex, li.mac, rec->mac);
        if (!streq(li.name, rec->ifname) || li.master)
                log_debug("CHECK: %s is now %s%s", LOG_Q(rec->ifname), LOG_Q(li.name), li.master ? " (enslaved)" : "");
        return 0;
}

int verb_check(const struct cni_call *c) {
        const struct netconf *conf = c->conf;
        _cleanup_(store_closep) struct store *s = NULL;
        _cleanup_free_ struct record *rec = NULL;
        int k;

        if (conf->policy_error[0])
                return cni_fail(CNI_ERR_INVALID_CONFIG, NULL, "%s", conf->policy_error);
        if (!conf->has_prev_result)
                return cni_fail(CNI_ERR_INVALID_CONFIG, NULL, "CHECK needs a prevResult");
        k = store_open(conf->state_dir, false, &s);
        if (k >= 0)
                k = store_get(s, conf->name, c->container_id, c->ifname, &rec);
        if (k == -ENOENT)
                return cni_fail(RELINK_ERR_NO_RECORD, NULL, "no record for '%s@%s' in network '%s'", c->container_id,
                                c->ifname, conf->name);
        if (k < 0)
                return cni_fail(CNI_ERR_IO, store_strerror(k), "cannot read the record for '%s@%s'", c->container_id,
                                c->ifname);
        if (check_prev_result(c, rec) < 0 || check_live(c, rec) < 0)
                return -1;
        return 0;
}
