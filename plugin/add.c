/* SPDX-License-Identifier: MIT */
/* ADD: record the pod interface (prevResult + the live link), then pass prevResult on unchanged. */
#include <stdio.h>
#include <time.h>

#include "common/log.h"
#include "common/netns.h"
#include "common/utf8.h"
#include "common/util.h"
#include "netconf/store.h"
#include "plugin/plugin.h"

static void fill_from_prev_result(const struct prev_result *p, int iface, struct record *r) {
        prev_result_ips_for(p, iface, r);
        r->n_routes = p->n_routes;
        memcpy(r->routes, p->routes, sizeof(r->routes[0]) * p->n_routes);
        r->dns = p->dns;
}

int verb_add(const struct cni_call *c) {
        const struct netconf *conf = c->conf;
        _cleanup_free_ struct record *r = NULL;
        _cleanup_(store_closep) struct store *s = NULL;
        _cleanup_close_ int ns_fd = -1, lock_fd = -1;
        _cleanup_free_ char *out = NULL;
        struct link_info li;
        struct cni_args args;
        char err[512];
        int iface, k;

        if (conf->policy_error[0])
                return cni_fail(CNI_ERR_INVALID_CONFIG, NULL, "%s", conf->policy_error);
        if (cni_args_parse(c->cni_args, &args, err, sizeof(err)) < 0)
                return cni_fail(CNI_ERR_INVALID_ENV, "CNI_ARGS", "%s", err);
        if (!conf->has_prev_result)
                return cni_fail(CNI_ERR_INVALID_CONFIG, NULL,
                                "relink is a chained plugin: ADD needs a prevResult (list relink after the plugin "
                                "that creates the interface)");
        r = calloc(1, sizeof(*r));
        if (!r)
                return cni_fail(CNI_ERR_IO, NULL, "out of memory");

        k = netns_open(c->netns, &ns_fd);
        if (k == -EINVAL)
                return cni_fail(CNI_ERR_INVALID_ENV, NULL, "CNI_NETNS '%s' is not a network namespace", c->netns);
        if (k < 0)
                return cni_fail(CNI_ERR_INVALID_ENV, strerror(-k), "cannot open netns '%s' (CNI_NETNS)", c->netns);
        k = netns_identity(ns_fd, &r->netns_dev, &r->netns_ino);
        if (k < 0)
                return cni_fail(CNI_ERR_IO, strerror(-k), "cannot stat netns '%s'", c->netns);

        iface = prev_result_pod_iface(&conf->prev, c->ifname);
        fill_from_prev_result(&conf->prev, iface < 0 ? -1 : iface, r);
        /* Live state is the truth for ifindex/MAC/MTU; addresses only when prevResult has none. */
        k = link_read(ns_fd, c->ifname, 0, r->n_ips == 0, &li);
        if (k == -ENODEV)
                return cni_fail(CNI_ERR_IO, NULL, "pod interface '%s' not found in netns '%s'", c->ifname, c->netns);
        if (k < 0)
                return cni_fail(CNI_ERR_IO, strerror(-k), "cannot read pod interface '%s' in netns '%s'", c->ifname,
                                c->netns);
        if (r->n_ips == 0) {
                memcpy(r->ips, li.addrs, sizeof(li.addrs[0]) * li.n_addrs);
                r->n_ips = li.n_addrs;
        }

        r->schema = RECORD_SCHEMA;
        strcpy(r->network, conf->name);
        strcpy(r->container_id, c->container_id);
        strcpy(r->ifname, c->ifname);
        r->ifindex = li.ifindex;
        if (strcpy_bounded(r->netns_path, sizeof(r->netns_path), c->netns) < 0)
                return cni_fail(CNI_ERR_INVALID_ENV, NULL, "CNI_NETNS is too long");
        if (!utf8_valid_str(r->netns_path))     /* recorded as a JSON string */
                return cni_fail(CNI_ERR_INVALID_ENV, NULL, "CNI_NETNS is not valid UTF-8");
        memcpy(r->mac, li.mac, sizeof(r->mac));
        if (!r->mac[0] && iface >= 0)
                memcpy(r->mac, conf->prev.ifaces[iface].mac, sizeof(r->mac));
        r->mtu = li.mtu;
        memcpy(r->pod_namespace, args.pod_namespace, sizeof(r->pod_namespace));
        memcpy(r->pod_name, args.pod_name, sizeof(r->pod_name));
        memcpy(r->pod_uid, args.pod_uid, sizeof(r->pod_uid));
        memcpy(r->pod_infra_container_id, args.pod_infra_container_id, sizeof(r->pod_infra_container_id));
        if (conf->vm[0])
                memcpy(r->vm, conf->vm, sizeof(r->vm));
        else
                vm_from_pod(r->pod_namespace, r->pod_name, r->vm, sizeof(r->vm));
        r->policy = conf->policy;
        strcpy(r->cni_version, conf->cni_version);
        r->created = (int64_t)time(NULL);

        k = store_open(conf->state_dir, true, &s);
        if (k < 0)
                return cni_fail(CNI_ERR_IO, store_strerror(k), "cannot open stateDir '%s'", conf->state_dir);
        lock_fd = store_lock(s, conf->name, false);
        if (lock_fd == -EAGAIN)
                return cni_fail(CNI_ERR_TRY_AGAIN, NULL, "state of network '%s' is locked (GC running)", conf->name);
        if (lock_fd < 0)
                return cni_fail(CNI_ERR_IO, store_strerror(lock_fd), "cannot lock network '%s' in '%s'", conf->name,
                                conf->state_dir);
        k = store_put(s, r);
        if (k < 0)
                return cni_fail(CNI_ERR_IO, strerror(-k), "cannot write the record for '%s@%s'", c->container_id,
                                c->ifname);

        k = conf_prev_result_json(conf, &out);
        if (k < 0)
                return cni_fail(CNI_ERR_IO, strerror(-k), "cannot encode prevResult");
        printf("%s\n", out);
        log_info("ADD network=%s container=%s ifname=%s ifindex=%d mac=%s ips=%zu vm=%s policy=%s/%s%s%s", r->network,
                 r->container_id, LOG_Q(r->ifname), r->ifindex, r->mac, r->n_ips, LOG_Q(r->vm),
                 policy_to_string(r->policy.network), policy_to_string(r->policy.vm),
                 r->policy.network_observe ? " observe=network" : "", r->policy.vm_observe ? " observe=vm" : "");
        return 0;
}
