/* SPDX-License-Identifier: MIT */
/*
 * Connections: discovery (--connect URIs, --watch globs, --kubevirt kubelet layout), the pod netns of
 * each daemon (SO_PEERCRED of its socket → /proc/PID/ns/net), open, keepalive, close callback,
 * reconnect with backoff.
 *
 * Long socket paths. A launcher's socket seen from the host is
 * <kubelet-root>/pods/<uid>/volumes/kubernetes.io~empty-dir/libvirt-runtime/<name>, longer than a
 * sockaddr_un holds (connect() → ENAMETOOLONG). For each attempt relinkd opens the socket's directory
 * (O_PATH) and uses /proc/self/fd/<n>/<name> for the peer probe and in libvirt's URI; the fd is closed
 * as soon as the attempt is over (libvirt never reopens the path), so relinkd never pins a pod volume
 * the kubelet wants to unmount.
 *
 * The peer probe is a non-blocking connect: a UNIX stream connect completes or fails at once, and a
 * listen backlog that is full is EAGAIN instead of a block, so one stuck daemon never stalls the loop.
 *
 * Lifetime of a struct conn (the rule that keeps every pointer to it valid):
 *   - It is reference-counted. References: the conns list holds one while the conn is listed; libvirt
 *     holds one per registered callback (close callback, each domain event callback), released by that
 *     callback's freecb whenever libvirt lets go of it (after a close callback fired, on deregistration,
 *     or when the virConnect is finally disposed, possibly long after the conn left the list); every
 *     pending timer holds one: a timer id field > 0 means "pending and holding a reference", and it is
 *     released when the timer fires (after its work) or is cancelled (conn_timer_cancel).
 *   - Whoever calls into a conn holds a reference for the duration of the call (the list, or the timer
 *     that fired), so no step of a call can free the conn under it.
 *   - conn_forget() only unlinks: it marks the conn dead, cancels its timers, tears the connection down
 *     and drops the list's reference. The memory goes with the last reference (conn_unref).
 *   - Every callback and timer checks `dead` first and does nothing for a forgotten conn.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <poll.h>
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
#include "trigger/launcher.h"
#include "trigger/loop.h"
#include "trigger/metrics.h"
#include "trigger/pod.h"
#include "trigger/reconcile.h"

#define BACKOFF_MIN_MS 250
#define KEEPALIVE_INTERVAL_S 5
#define KEEPALIVE_COUNT 3
#define PROBE_DEADLINE_MS 200

enum conn_origin {
        ORIGIN_CONNECT,              /* --connect: kept for the daemon's lifetime */
        ORIGIN_WATCH,                /* --watch: dropped when the socket vanishes */
        ORIGIN_KUBEVIRT,             /* --kubevirt: likewise */
};

struct conn {
        struct conn *next;
        unsigned refs;
        bool dead;                   /* forgotten: callbacks and timers do nothing */
        enum conn_origin origin;
        char *uri;                   /* --connect: as given; found sockets: NULL (built per attempt) */
        char *netns_path;            /* --netns, or NULL: find it from the socket peer */
        char *sock_path;             /* the UNIX socket the URI talks to, or NULL (remote) */
        uint64_t cur_dev, cur_ino;   /* rescan: identity of the socket file at sock_path (0: gone); two
                                      * names or mounts of one socket are one daemon, one conn */
        char pod_uid[64];            /* from a kubelet path, "" otherwise */
        char label[128];             /* for logs: the pod UID or directory, else the path or URI */
        bool seen;                   /* found by the current rescan */
        bool logged_failure;
        struct pod *pod;             /* while open (holds a pod reference) */
        int cb_lifecycle, cb_removed;
        unsigned backoff_ms;
        int retry_timer;             /* > 0: pending, holds a reference */
        int close_timer;             /* > 0: pending, holds a reference */
        int close_reason;
};

static struct conn *conns;
static const struct opts *cfg;
static int rescan_timer;
static bool stopping;

static struct conn *conn_ref(struct conn *c) {
        c->refs++;
        return c;
}

static void conn_unref(struct conn *c) {
        if (!c || --c->refs > 0)
                return;
        free(c->uri);
        free(c->netns_path);
        free(c->sock_path);
        free(c);
}

/* Give back a reference that was never handed over, or whose holder is gone, while the caller holds
 * another (a failed registration, a cancelled timer): never the last one. */
static void conn_ref_drop(struct conn *c) {
        assert(c->refs > 1);
        c->refs--;
}

/* libvirt's freecb for the opaque of every callback registered with a conn reference. */
static void conn_unref_cb(void *opaque) {
        conn_unref(opaque);
}

/* Start a one-shot timer for c in *slot (no-op when one is pending); it holds a reference. */
static int conn_timer_start(struct conn *c, int *slot, unsigned ms, timer_fn fn) {
        int r;

        if (*slot > 0)
                return 0;
        r = timer_after(ms, fn, c);
        if (r < 0)
                return r;
        *slot = r;
        conn_ref(c);
        return 0;
}

/* Cancel the pending timer in *slot and release its reference (the caller holds another). */
static void conn_timer_cancel(struct conn *c, int *slot) {
        if (*slot <= 0)
                return;
        timer_cancel(slot);
        conn_ref_drop(c);
}

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

/*
 * The pid serving a UNIX socket, from SO_PEERCRED of a fresh connection to it. Never blocks: a UNIX
 * stream connect completes at once or fails (-EAGAIN: listen backlog full); anything still in progress
 * gets PROBE_DEADLINE_MS.
 */
static int socket_peer_pid(const char *path, pid_t *ret) {
        _cleanup_close_ int fd = -1;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct ucred cred;
        socklen_t len = sizeof(cred);

        if (strcpy_bounded(sa.sun_path, sizeof(sa.sun_path), path) < 0)
                return -ENAMETOOLONG;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                struct pollfd pfd = { .fd = fd, .events = POLLOUT };
                int err = 0;
                socklen_t elen = sizeof(err);

                if (errno != EINPROGRESS)
                        return -errno;
                if (poll(&pfd, 1, PROBE_DEADLINE_MS) <= 0)
                        return -ETIMEDOUT;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
                        return -errno;
                if (err)
                        return -err;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return -errno;
        if (cred.pid <= 0)
                return -ESRCH;   /* the daemon is outside relinkd's PID namespace (no hostPID) */
        *ret = cred.pid;
        return 0;
}

static const char *probe_strerror(int r) {
        switch (-r) {
        case EAGAIN:
                return "listen backlog full (daemon not accepting)";
        case ECONNREFUSED:
                return "nobody listening (stale socket)";
        case ESRCH:
                return "daemon outside relinkd's PID namespace (run with hostPID)";
        default:
                return strerror(-r);
        }
}

/* One connection attempt's view of the socket: its directory held open, the short alias. */
struct sock_handle {
        int dir_fd;
        char alias[108];
};

static void sock_handle_done(struct sock_handle *h) {
        if (h->dir_fd >= 0)
                close(h->dir_fd);
        h->dir_fd = -1;
}

static int sock_handle_open(struct conn *c, struct sock_handle *h) {
        char dir[PATH_MAX], name[NAME_MAX + 1];
        struct stat st;
        int r;

        h->dir_fd = -1;
        r = path_split(c->sock_path, dir, sizeof(dir), name, sizeof(name));
        if (r < 0)
                return r;
        h->dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (h->dir_fd < 0)
                return -errno;
        if (fstatat(h->dir_fd, name, &st, 0) < 0)
                r = -errno;
        else if (!S_ISSOCK(st.st_mode))
                r = -ENOTSOCK;
        else
                r = socket_alias(h->dir_fd, name, h->alias, sizeof(h->alias));
        if (r < 0) {
                sock_handle_done(h);
                return r;
        }
        return 0;
}

static void conn_schedule_retry(struct conn *c);
static void on_close(virConnectPtr vc, int reason, void *opaque);
static void conn_open(struct conn *c);

static void on_lifecycle(virConnectPtr vc, virDomainPtr dom, int event, int detail, void *opaque) {
        struct conn *c = opaque;
        int64_t t = now_ms();

        if (c->dead || !c->pod)
                return;
        log_debug("conn=%s domain=%s event=%d detail=%d", c->label, virDomainGetName(dom), event, detail);
        switch (event) {
        case VIR_DOMAIN_EVENT_RESUMED:
                if (detail == VIR_DOMAIN_EVENT_RESUMED_MIGRATED)
                        domain_schedule(c->pod, dom, TRIGGER_MIGRATED, t);
                else if (detail == VIR_DOMAIN_EVENT_RESUMED_POSTCOPY)
                        domain_schedule(c->pod, dom, TRIGGER_POSTCOPY, t);
                break;
        case VIR_DOMAIN_EVENT_STARTED:
                log_info("conn=%s pod=%s domain=%s started", c->label, *c->pod_uid ? c->pod_uid : "-",
                         virDomainGetName(dom));
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

        if (!c->dead && c->pod)
                action_device_removed(c->pod, dom, alias);
}

/* Tear the connection down (not from within a libvirt callback). */
static void conn_teardown(struct conn *c) {
        struct pod *p = c->pod;

        if (!p)
                return;
        c->pod = NULL;
        /* Each call releases the callback's reference through its freecb (a close callback that has
         * fired already released it; unregistering it then fails harmlessly). */
        virConnectUnregisterCloseCallback(p->vc, on_close);
        virResetLastError();
        if (c->cb_lifecycle >= 0)
                virConnectDomainEventDeregisterAny(p->vc, c->cb_lifecycle);
        if (c->cb_removed >= 0)
                virConnectDomainEventDeregisterAny(p->vc, c->cb_removed);
        virResetLastError();
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
        if (c->dead || !c->pod)
                goto out;
        if (c->origin != ORIGIN_CONNECT && stat(c->sock_path, &st) < 0) {
                /* The pod's daemon went away with its socket (pod deleted, or restarting): the rescan
                 * drops it or picks the new socket up. */
                log_info("conn=%s daemon gone (socket removed)", c->label);
                conn_teardown(c);
                goto out;
        }
        log_warn("conn=%s connection closed (%s), reconnecting", c->label, close_reason_str(c->close_reason));
        conn_teardown(c);
        c->backoff_ms = 0;
        conn_schedule_retry(c);
out:
        conn_unref(c);     /* the timer's reference */
}

static void on_close(virConnectPtr vc, int reason, void *opaque) {
        struct conn *c = opaque;
        int r;

        /* No libvirt calls from here (it may run inside any libvirt call): tear down from the loop.
         * libvirt drops this callback's reference right after it returns; the timer takes its own. */
        if (c->dead)
                return;
        c->close_reason = reason;
        r = conn_timer_start(c, &c->close_timer, 0, conn_closed_later);
        if (r < 0)
                log_error("conn=%s cannot schedule reconnect: %s", c->label, strerror(-r));
}

static void conn_retry_fired(void *opaque) {
        struct conn *c = opaque;

        c->retry_timer = 0;
        if (!c->dead)
                conn_open(c);
        conn_unref(c);     /* the timer's reference */
}

static void conn_schedule_retry(struct conn *c) {
        int r;

        if (stopping || c->dead || c->retry_timer > 0)
                return;
        c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
        if (c->backoff_ms > cfg->backoff_max_ms)
                c->backoff_ms = cfg->backoff_max_ms;
        r = conn_timer_start(c, &c->retry_timer, c->backoff_ms, conn_retry_fired);
        if (r < 0)
                log_error("conn=%s cannot schedule reconnect: %s", c->label, strerror(-r));
}

/* A failed attempt: log it once per streak (debug afterwards), count it, retry with backoff. */
static void conn_failed(struct conn *c, const char *what, const char *detail) {
        relinkd_metrics.connect_failures++;
        metrics_flush();
        conn_schedule_retry(c);
        if (!c->logged_failure)
                log_warn("conn=%s %s: %s; retrying with backoff", c->label, what, detail);
        else
                log_debug("conn=%s %s: %s; retrying in %u ms", c->label, what, detail, c->backoff_ms);
        c->logged_failure = true;
}

/* "dom1,dom2" of the daemon's running domains, "-" when none. */
static void conn_log_domains(struct conn *c) {
        virDomainPtr *doms = NULL;
        char names[512] = "";
        size_t o = 0;
        int n = virConnectListAllDomains(c->pod->vc, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);

        if (n < 0) {
                log_debug("conn=%s cannot list domains: %s", c->label, virt_error());
                return;
        }
        for (int i = 0; i < n; i++) {
                const char *name = virDomainGetName(doms[i]);
                int w = snprintf(names + o, sizeof(names) - o, "%s%s", o ? "," : "", name ? name : "?");

                if (w > 0 && (size_t) w < sizeof(names) - o)
                        o += (size_t) w;
                virDomainFree(doms[i]);
        }
        free(doms);
        log_info("conn=%s pod=%s domains=%s", c->label, *c->pod_uid ? c->pod_uid : "-", o ? names : "-");
}

static void conn_open(struct conn *c) {
        _cleanup_close_ int ns_fd = -1;
        struct sock_handle h = { .dir_fd = -1 };
        char uri[sizeof(h.alias) + 64], nsdesc[PATH_MAX + 16];
        const char *use_uri = c->uri;
        virConnectPtr vc;
        struct pod *p;
        pid_t pid = 0;
        int r;

        if (c->dead || c->pod || stopping)
                return;
        if (c->sock_path) {
                r = sock_handle_open(c, &h);
                if (r < 0) {
                        conn_failed(c, "cannot open its socket", strerror(-r));
                        return;
                }
        }
        if (c->netns_path) {
                snprintf(nsdesc, sizeof(nsdesc), "path=%s", c->netns_path);
                r = netns_open(c->netns_path, &ns_fd);
                if (r < 0) {
                        sock_handle_done(&h);
                        conn_failed(c, "cannot open its netns", strerror(-r));
                        return;
                }
        } else if (!c->sock_path) {
                conn_failed(c, "cannot find its pod netns", "remote URI without --netns");
                return;
        } else {
                char path[64];

                r = socket_peer_pid(h.alias, &pid);
                if (r < 0) {
                        sock_handle_done(&h);
                        conn_failed(c, "socket peer probe failed", probe_strerror(r));
                        return;
                }
                snprintf(path, sizeof(path), "/proc/%d/ns/net", (int) pid);
                snprintf(nsdesc, sizeof(nsdesc), "peer_pid=%d", (int) pid);
                r = netns_open(path, &ns_fd);
                if (r < 0) {
                        sock_handle_done(&h);
                        conn_failed(c, "cannot open the daemon's netns", strerror(-r));
                        return;
                }
        }
        if (c->origin != ORIGIN_CONNECT) {
                r = launcher_uri(h.alias, uri, sizeof(uri));
                if (r < 0) {
                        sock_handle_done(&h);
                        conn_failed(c, "cannot build its URI", strerror(-r));
                        return;
                }
                use_uri = uri;
        }
        vc = virConnectOpen(use_uri);
        sock_handle_done(&h);          /* connected or not, the path is not needed any more */
        if (!vc) {
                conn_failed(c, "cannot connect", virt_error());
                return;
        }
        p = pod_new(vc, ns_fd, c->label);
        if (!p) {
                virConnectClose(vc);
                conn_failed(c, "cannot connect", strerror(ENOMEM));
                return;
        }
        ns_fd = -1;          /* the pod owns it now */
        r = netns_identity(p->ns_fd, &p->ns_dev, &p->ns_ino);
        if (r < 0) {
                pod_unref(p);
                conn_failed(c, "cannot identify its netns", strerror(-r));
                return;
        }
        if (virConnectSetKeepAlive(vc, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT) < 0)
                log_warn("conn=%s keepalive not supported: %s", c->label, virt_error());
        /* Every registration hands libvirt a reference, released by conn_unref_cb; a failed one never
         * took it (libvirt calls no freecb then), so it is dropped here. */
        if (virConnectRegisterCloseCallback(vc, on_close, conn_ref(c), conn_unref_cb) < 0) {
                conn_ref_drop(c);
                log_warn("conn=%s no close callback: %s", c->label, virt_error());
        }
        c->pod = p;
        c->cb_lifecycle = virConnectDomainEventRegisterAny(vc, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                           VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), conn_ref(c),
                                                           conn_unref_cb);
        if (c->cb_lifecycle < 0)
                conn_ref_drop(c);
        c->cb_removed = virConnectDomainEventRegisterAny(vc, NULL, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                                                         VIR_DOMAIN_EVENT_CALLBACK(on_device_removed), conn_ref(c),
                                                         conn_unref_cb);
        if (c->cb_removed < 0)
                conn_ref_drop(c);
        if (c->cb_lifecycle < 0 || c->cb_removed < 0) {
                log_warn("conn=%s cannot register domain events: %s; reconnecting", c->label, virt_error());
                conn_teardown(c);
                conn_schedule_retry(c);
                return;
        }
        c->backoff_ms = 0;
        c->logged_failure = false;
        log_info("conn=%s connected pod=%s %s netns=%llu:%llu socket=%s uri=%s", c->label,
                 *c->pod_uid ? c->pod_uid : "-", nsdesc, (unsigned long long) p->ns_dev,
                 (unsigned long long) p->ns_ino, c->sock_path ? c->sock_path : "-", use_uri);
        update_gauges();
        conn_log_domains(c);
        if (c->pod)
                pod_reconcile(c->pod);
}

/* A short name for logs: the pod UID of a kubelet path; ".../pods/<pod>/..." → "<pod>"; else the
 * socket path or the URI. */
static void conn_set_label(struct conn *c) {
        const char *p = c->sock_path, *s;

        if (*c->pod_uid)
                snprintf(c->label, sizeof(c->label), "%s", c->pod_uid);
        else if (p && (s = strstr(p, "/pods/"))) {
                s += strlen("/pods/");
                snprintf(c->label, sizeof(c->label), "%.*s", (int) strcspn(s, "/"), s);
        } else
                snprintf(c->label, sizeof(c->label), "%s", p ? p : c->uri);
}

/* A new listed conn (the list holds its first reference). */
static struct conn *conn_add(enum conn_origin origin, const char *uri, const char *netns, const char *sock_path) {
        struct conn *c = calloc(1, sizeof(*c));
        char path[PATH_MAX];
        int r;

        if (!c)
                return NULL;
        c->refs = 1;
        c->origin = origin;
        c->cb_lifecycle = c->cb_removed = -1;
        c->uri = uri ? strdup(uri) : NULL;
        c->netns_path = netns ? strdup(netns) : NULL;
        if (sock_path)
                c->sock_path = strdup(sock_path);
        else if ((r = uri_socket_path(uri, path, sizeof(path))) == 0)
                c->sock_path = strdup(path);
        else if (!netns)
                log_warn("uri=%s: %s; give --netns for it", uri,
                         r == -EREMOTE ? "remote URI, its netns cannot be found from a socket" : strerror(-r));
        if ((uri && !c->uri) || (netns && !c->netns_path) || (sock_path && !c->sock_path)) {
                conn_unref(c);
                return NULL;
        }
        if (c->sock_path)
                (void) kubelet_pod_uid(c->sock_path, c->pod_uid, sizeof(c->pod_uid));
        conn_set_label(c);
        c->next = conns;
        conns = c;
        return c;
}

/* Unlink c from the list (the caller already did) and let go of it; see the lifetime rule above. */
static void conn_forget(struct conn *c) {
        c->dead = true;
        conn_timer_cancel(c, &c->retry_timer);
        conn_timer_cancel(c, &c->close_timer);
        conn_teardown(c);
        conn_unref(c);     /* the list's reference */
}

static const char *origin_str(enum conn_origin o) {
        switch (o) {
        case ORIGIN_CONNECT:
                return "connect";
        case ORIGIN_WATCH:
                return "watch";
        case ORIGIN_KUBEVIRT:
                return "kubevirt";
        }
        return "?";
}

/* A socket found by a rescan: match it to a followed daemon by path, then by the socket file's identity
 * (another name or mount of a socket already followed), else follow it. */
static void found_socket(const char *path, enum conn_origin origin) {
        struct stat st;
        struct conn *c;

        if (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
                return;
        for (c = conns; c; c = c->next)
                if (c->origin != ORIGIN_CONNECT && streq(c->sock_path, path))
                        break;
        if (!c)
                for (c = conns; c; c = c->next)
                        if (c->origin != ORIGIN_CONNECT && c->cur_ino && c->cur_dev == (uint64_t) st.st_dev &&
                            c->cur_ino == (uint64_t) st.st_ino) {
                                if (!c->seen)
                                        log_debug("conn=%s socket %s is another name of %s", c->label, path,
                                                  c->sock_path);
                                break;
                        }
        if (c) {
                c->seen = true;
                /* Closed with its socket gone, and the socket is back: reconnect. */
                if (!c->pod && c->retry_timer == 0 && c->close_timer == 0)
                        conn_open(c);
                return;
        }
        c = conn_add(origin, NULL, NULL, path);
        if (!c) {
                log_error("socket %s: %s", path, strerror(ENOMEM));
                return;
        }
        c->seen = true;
        c->cur_dev = (uint64_t) st.st_dev;
        c->cur_ino = (uint64_t) st.st_ino;
        log_info("conn=%s discovered pod=%s socket=%s via=%s", c->label, *c->pod_uid ? c->pod_uid : "-", path,
                 origin_str(origin));
        conn_open(c);
}

/* --kubevirt: <root>/pods/<uid>/volumes/kubernetes.io~empty-dir/libvirt-runtime/<name>. */
static void scan_kubelet(void) {
        char dir[PATH_MAX];
        DIR *d;
        struct dirent *de;

        snprintf(dir, sizeof(dir), "%s/pods", cfg->kubelet_root);
        d = opendir(dir);
        if (!d)
                return;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                for (size_t i = 0; i < ARRAY_SIZE(launcher_socket_names); i++) {
                        char path[PATH_MAX];
                        int n = snprintf(path, sizeof(path), "%s/%s/%s/%s", dir, de->d_name, KUBELET_LIBVIRT_RUNTIME,
                                         launcher_socket_names[i]);

                        if (n > 0 && (size_t) n < sizeof(path))
                                found_socket(path, ORIGIN_KUBEVIRT);
                }
        }
        closedir(d);
}

static void rescan(void *opaque) {
        rescan_timer = 0;
        for (struct conn *c = conns; c; c = c->next) {
                struct stat st;

                c->seen = false;
                c->cur_dev = c->cur_ino = 0;
                if (c->origin != ORIGIN_CONNECT && stat(c->sock_path, &st) == 0 && S_ISSOCK(st.st_mode)) {
                        c->cur_dev = (uint64_t) st.st_dev;
                        c->cur_ino = (uint64_t) st.st_ino;
                }
        }
        if (cfg->kubevirt)
                scan_kubelet();
        for (size_t w = 0; w < cfg->n_watch; w++) {
                glob_t g = {};

                if (glob(cfg->watch[w], 0, NULL, &g) == 0)
                        for (size_t i = 0; i < g.gl_pathc; i++)
                                found_socket(g.gl_pathv[i], ORIGIN_WATCH);
                globfree(&g);
        }
        /* Drop the found sockets that vanished. */
        for (struct conn **pc = &conns; *pc;) {
                struct conn *c = *pc;

                if (c->origin != ORIGIN_CONNECT && !c->seen) {
                        log_info("conn=%s pod=%s socket %s is gone, dropping it", c->label,
                                 *c->pod_uid ? c->pod_uid : "-", c->sock_path);
                        *pc = c->next;
                        conn_forget(c);
                        continue;
                }
                pc = &c->next;
        }
        update_gauges();
        if (!stopping) {
                int r = timer_after(cfg->rescan_ms, rescan, NULL);
                if (r > 0)
                        rescan_timer = r;
                else
                        log_error("cannot schedule the rescan: %s", strerror(-r));
        }
}

int conns_start(const struct opts *o) {
        cfg = o;
        for (size_t i = 0; i < o->n_connect; i++) {
                struct conn *c = conn_add(ORIGIN_CONNECT, o->connect[i].uri, o->connect[i].netns, NULL);
                if (!c)
                        return -ENOMEM;
        }
        if (o->kubevirt) {
                char dir[PATH_MAX];
                struct stat st;

                snprintf(dir, sizeof(dir), "%s/pods", o->kubelet_root);
                if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
                        log_warn("kubevirt: '%s' is not a directory (yet): no launchers until it is", dir);
                log_info("kubevirt: following launchers under %s/<pod-uid>/%s/{%s,%s}", dir, KUBELET_LIBVIRT_RUNTIME,
                         launcher_socket_names[0], launcher_socket_names[1]);
        }
        for (struct conn *c = conns; c; c = c->next)
                conn_open(c);
        if (o->n_watch > 0 || o->kubevirt)
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
                conn_forget(c);
        }
        update_gauges();
}
