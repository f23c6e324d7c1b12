/* SPDX-License-Identifier: MIT */
/* Connections: open, keepalive, close callback, reconnect with backoff, --watch rescans,
 * netns discovery (SO_PEERCRED of the daemon's socket → /proc/PID/ns/net). */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <libvirt/virterror.h>

#include "common/log.h"
#include "common/netns.h"
#include "common/util.h"
#include "trigger/action.h"
#include "trigger/conn.h"
#include "trigger/loop.h"
#include "trigger/metrics.h"
#include "trigger/pod.h"
#include "trigger/reconcile.h"

#define BACKOFF_MIN_MS 250
#define KEEPALIVE_INTERVAL_S 5
#define KEEPALIVE_COUNT 3

struct conn {
        struct conn *next;
        char *uri;
        char *netns_path;            /* --netns, or NULL: find it from the socket peer */
        char *sock_path;             /* the UNIX socket the URI talks to, or NULL (remote) */
        bool watched;                /* from --watch: dropped when the socket vanishes */
        bool seen;                   /* found by the current rescan */
        bool logged_failure;
        struct pod *pod;             /* while open */
        int cb_lifecycle, cb_removed;
        unsigned backoff_ms;
        int retry_timer;
        int close_timer;
        int close_reason;
};

static struct conn *conns;
static const struct opts *cfg;
static int rescan_timer;
static bool stopping;

static void update_gauges(void) {
        unsigned open_n = 0, known = 0;

        for (struct conn *c = conns; c; c = c->next) {
                known++;
                if (c->pod)
                        open_n++;
        }
        if (relinkd_metrics.connections == open_n && relinkd_metrics.connections_known == known)
                return;
        relinkd_metrics.connections = open_n;
        relinkd_metrics.connections_known = known;
        metrics_flush();
}

/* The pid serving a UNIX socket path, from SO_PEERCRED of a fresh connection to it. */
static int socket_peer_pid(const char *path, pid_t *ret) {
        _cleanup_close_ int fd = -1;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct ucred cred;
        socklen_t len = sizeof(cred);

        if (strcpy_bounded(sa.sun_path, sizeof(sa.sun_path), path) < 0)
                return -ENAMETOOLONG;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return -errno;
        if (cred.pid <= 0)
                return -ESRCH;
        *ret = cred.pid;
        return 0;
}

static int conn_netns(struct conn *c, int *ret_fd, char *desc, size_t desc_size) {
        char path[64];
        pid_t pid = 0;
        int r;

        if (c->netns_path) {
                snprintf(desc, desc_size, "%s", c->netns_path);
                return netns_open(c->netns_path, ret_fd);
        }
        if (!c->sock_path)
                return -EREMOTE;
        r = socket_peer_pid(c->sock_path, &pid);
        if (r < 0)
                return r;
        snprintf(path, sizeof(path), "/proc/%d/ns/net", (int) pid);
        snprintf(desc, desc_size, "pid %d", (int) pid);
        return netns_open(path, ret_fd);
}

/* A short name for logs: ".../pods/<pod>/run/libvirt-sock" → "<pod>"; else the URI. */
static void conn_label(const struct conn *c, char *buf, size_t size) {
        const char *p = c->sock_path, *s;

        if (p && (s = strstr(p, "/pods/"))) {
                s += strlen("/pods/");
                snprintf(buf, size, "%.*s", (int) strcspn(s, "/"), s);
                return;
        }
        snprintf(buf, size, "%s", c->sock_path ? c->sock_path : c->uri);
}

static void conn_schedule_retry(struct conn *c);
static void on_close(virConnectPtr vc, int reason, void *opaque);
static void conn_open(void *opaque);

static void on_lifecycle(virConnectPtr vc, virDomainPtr dom, int event, int detail, void *opaque) {
        struct conn *c = opaque;
        int64_t t = now_ms();

        if (!c->pod)
                return;
        log_debug("conn=%s domain=%s event=%d detail=%d", c->pod->label, virDomainGetName(dom), event, detail);
        switch (event) {
        case VIR_DOMAIN_EVENT_RESUMED:
                if (detail == VIR_DOMAIN_EVENT_RESUMED_MIGRATED)
                        domain_schedule(c->pod, dom, TRIGGER_MIGRATED, t);
                else if (detail == VIR_DOMAIN_EVENT_RESUMED_POSTCOPY)
                        domain_schedule(c->pod, dom, TRIGGER_POSTCOPY, t);
                break;
        case VIR_DOMAIN_EVENT_STARTED:
                if (detail == VIR_DOMAIN_EVENT_STARTED_BOOTED)
                        domain_schedule(c->pod, dom, TRIGGER_BOOTED, t);
                else if (detail == VIR_DOMAIN_EVENT_STARTED_MIGRATED)
                        domain_incoming(c->pod, dom);
                break;
        case VIR_DOMAIN_EVENT_STOPPED:
                action_domain_gone(c->pod, dom);
                break;
        default:
                break;
        }
}

static void on_device_removed(virConnectPtr vc, virDomainPtr dom, const char *alias, void *opaque) {
        struct conn *c = opaque;

        if (c->pod)
                action_device_removed(c->pod, dom, alias);
}

/* Tear the connection down (not from within a libvirt callback). */
static void conn_teardown(struct conn *c) {
        struct pod *p = c->pod;

        if (!p)
                return;
        c->pod = NULL;
        virConnectUnregisterCloseCallback(p->vc, on_close);
        virResetLastError();
        if (c->cb_lifecycle >= 0)
                virConnectDomainEventDeregisterAny(p->vc, c->cb_lifecycle);
        if (c->cb_removed >= 0)
                virConnectDomainEventDeregisterAny(p->vc, c->cb_removed);
        c->cb_lifecycle = c->cb_removed = -1;
        p->alive = false;
        action_pod_lost(p);
        pod_unref(p);      /* closes when the last action lets go */
        update_gauges();
}

static const char *close_reason_str(int reason) {
        switch (reason) {
        case VIR_CONNECT_CLOSE_REASON_ERROR:
                return "error";
        case VIR_CONNECT_CLOSE_REASON_EOF:
                return "eof";
        case VIR_CONNECT_CLOSE_REASON_KEEPALIVE:
                return "keepalive timeout";
        case VIR_CONNECT_CLOSE_REASON_CLIENT:
                return "client";
        }
        return "unknown";
}

static void conn_closed_later(void *opaque) {
        struct conn *c = opaque;
        struct stat st;

        c->close_timer = 0;
        if (!c->pod)
                return;
        if (c->watched && c->sock_path && stat(c->sock_path, &st) < 0) {
                /* The pod's daemon went away with its socket (pod deleted, or restarting): the rescan
                 * drops it or picks the new socket up. */
                log_info("conn=%s daemon gone (socket removed)", c->pod->label);
                conn_teardown(c);
                return;
        }
        log_warn("conn=%s connection closed (%s), reconnecting", c->pod->label, close_reason_str(c->close_reason));
        conn_teardown(c);
        c->backoff_ms = 0;
        conn_schedule_retry(c);
}

static void on_close(virConnectPtr vc, int reason, void *opaque) {
        struct conn *c = opaque;
        int r;

        c->close_reason = reason;
        /* No libvirt calls from here: tear down from the loop. */
        if (c->close_timer > 0)
                return;
        r = timer_after(0, conn_closed_later, c);
        if (r < 0)
                log_error("cannot schedule reconnect: %s", strerror(-r));
        else
                c->close_timer = r;
}

static void conn_schedule_retry(struct conn *c) {
        int r;

        if (stopping || c->retry_timer > 0)
                return;
        c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
        if (c->backoff_ms > cfg->backoff_max_ms)
                c->backoff_ms = cfg->backoff_max_ms;
        r = timer_after(c->backoff_ms, conn_open, c);
        if (r < 0)
                log_error("uri=%s cannot schedule reconnect: %s", c->uri, strerror(-r));
        else
                c->retry_timer = r;
}

static void conn_open(void *opaque) {
        struct conn *c = opaque;
        _cleanup_close_ int ns_fd = -1;
        char nsdesc[128] = "", label[128];
        virConnectPtr vc;
        struct pod *p;
        int r;

        c->retry_timer = 0;
        if (c->pod || stopping)
                return;
        conn_label(c, label, sizeof(label));
        r = conn_netns(c, &ns_fd, nsdesc, sizeof(nsdesc));
        if (r < 0) {
                if (!c->logged_failure)
                        log_warn("conn=%s cannot find its pod netns (%s): %s; retrying", label,
                                 c->netns_path ? c->netns_path : "socket peer", strerror(-r));
                c->logged_failure = true;
                relinkd_metrics.connect_failures++;
                conn_schedule_retry(c);
                return;
        }
        vc = virConnectOpen(c->uri);
        if (!vc) {
                if (!c->logged_failure)
                        log_warn("conn=%s cannot connect to '%s': %s; retrying with backoff", label, c->uri,
                                 virt_error());
                c->logged_failure = true;
                relinkd_metrics.connect_failures++;
                conn_schedule_retry(c);
                return;
        }
        p = pod_new(vc, ns_fd, label);
        if (!p) {
                virConnectClose(vc);
                conn_schedule_retry(c);
                return;
        }
        ns_fd = -1;          /* the pod owns it now */
        r = netns_identity(p->ns_fd, &p->ns_dev, &p->ns_ino);
        if (r < 0) {
                pod_unref(p);
                conn_schedule_retry(c);
                return;
        }
        if (virConnectSetKeepAlive(vc, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT) < 0)
                log_warn("conn=%s keepalive not supported: %s", label, virt_error());
        if (virConnectRegisterCloseCallback(vc, on_close, c, NULL) < 0)
                log_warn("conn=%s no close callback: %s", label, virt_error());
        c->pod = p;
        c->cb_lifecycle = virConnectDomainEventRegisterAny(vc, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                           VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), c, NULL);
        c->cb_removed = virConnectDomainEventRegisterAny(vc, NULL, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                                                         VIR_DOMAIN_EVENT_CALLBACK(on_device_removed), c, NULL);
        if (c->cb_lifecycle < 0 || c->cb_removed < 0) {
                log_warn("conn=%s cannot register domain events: %s; reconnecting", label, virt_error());
                conn_teardown(c);
                conn_schedule_retry(c);
                return;
        }
        c->backoff_ms = 0;
        c->logged_failure = false;
        log_info("conn=%s connected uri=%s netns=%s (dev %llu ino %llu)", label, c->uri, nsdesc,
                 (unsigned long long) p->ns_dev, (unsigned long long) p->ns_ino);
        update_gauges();
        pod_reconcile(p);
}

static struct conn *conn_add(const char *uri, const char *netns, const char *sock_path, bool watched) {
        struct conn *c = calloc(1, sizeof(*c));
        char path[4096];
        int r;

        if (!c)
                return NULL;
        c->cb_lifecycle = c->cb_removed = -1;
        c->watched = watched;
        c->uri = strdup(uri);
        c->netns_path = netns ? strdup(netns) : NULL;
        if (sock_path)
                c->sock_path = strdup(sock_path);
        else if ((r = uri_socket_path(uri, path, sizeof(path))) == 0)
                c->sock_path = strdup(path);
        else if (!netns)
                log_warn("uri=%s: %s; give --netns for it", uri,
                         r == -EREMOTE ? "remote URI, its netns cannot be found from a socket" : strerror(-r));
        c->next = conns;
        conns = c;
        return c;
}

static void conn_free(struct conn *c) {
        if (!c)
                return;
        timer_cancel(&c->retry_timer);
        timer_cancel(&c->close_timer);
        conn_teardown(c);
        free(c->uri);
        free(c->netns_path);
        free(c->sock_path);
        free(c);
}

static void rescan(void *opaque) {
        rescan_timer = 0;
        for (struct conn *c = conns; c; c = c->next)
                c->seen = false;
        for (size_t w = 0; w < cfg->n_watch; w++) {
                glob_t g = {};

                if (glob(cfg->watch[w], GLOB_NOSORT, NULL, &g) != 0) {
                        globfree(&g);
                        continue;
                }
                for (size_t i = 0; i < g.gl_pathc; i++) {
                        const char *path = g.gl_pathv[i];
                        struct stat st;
                        struct conn *c;
                        char *uri;

                        if (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
                                continue;
                        for (c = conns; c; c = c->next)
                                if (c->watched && c->sock_path && streq(c->sock_path, path))
                                        break;
                        if (c) {
                                c->seen = true;
                                /* Closed with its socket gone, and the socket is back: reconnect. */
                                if (!c->pod && c->retry_timer == 0 && c->close_timer == 0)
                                        conn_open(c);
                                continue;
                        }
                        if (asprintf(&uri, "qemu+unix:///system?socket=%s", path) < 0)
                                continue;
                        c = conn_add(uri, NULL, path, true);
                        free(uri);
                        if (!c)
                                continue;
                        c->seen = true;
                        log_info("watch: new socket %s", path);
                        conn_open(c);
                }
                globfree(&g);
        }
        /* Drop watched sockets that vanished. */
        for (struct conn **pc = &conns; *pc;) {
                struct conn *c = *pc;

                if (c->watched && !c->seen) {
                        log_info("watch: socket %s is gone, dropping it", c->sock_path);
                        *pc = c->next;
                        conn_free(c);
                        continue;
                }
                pc = &c->next;
        }
        update_gauges();
        if (!stopping && cfg->n_watch > 0) {
                int r = timer_after(cfg->rescan_ms, rescan, NULL);
                if (r > 0)
                        rescan_timer = r;
        }
}

int conns_start(const struct opts *o) {
        cfg = o;
        for (size_t i = 0; i < o->n_connect; i++) {
                struct conn *c = conn_add(o->connect[i].uri, o->connect[i].netns, NULL, false);
                if (!c)
                        return -ENOMEM;
        }
        for (struct conn *c = conns; c; c = c->next)
                conn_open(c);
        if (o->n_watch > 0)
                rescan(NULL);
        update_gauges();
        return 0;
}

void conns_stop(void) {
        stopping = true;
        timer_cancel(&rescan_timer);
        while (conns) {
                struct conn *c = conns;
                conns = c->next;
                conn_free(c);
        }
        update_gauges();
}
