/* SPDX-License-Identifier: MIT */
/*
 * Connections: discovery (--connect URIs, --watch globs, --kubevirt kubelet layout), the pod netns of
 * each daemon (SO_PEERCRED of its socket → /proc/PID/ns/net), open, keepalive, close callback,
 * reconnect with backoff.
 *
 * Long socket paths. A launcher's socket seen from the host is
 * <kubelet-root>/pods/<uid>/volumes/kubernetes.io~empty-dir/libvirt-runtime/<name>, longer than a
 * sockaddr_un holds (connect() → ENAMETOOLONG). For each attempt relinkd makes a symlink to the
 * socket's directory in a private directory of its own (<run>/relinkd.<pid>/<n>) and uses
 * <link>/<name> for the peer probe and in libvirt's URI; the link goes as soon as the attempt returns
 * (libvirt never reopens the path). A link pins nothing, so even an attempt stuck on a daemon that
 * never answers leaves the pod's volume free to unmount. Without a writable private directory the
 * alias is /proc/self/fd/<n>/<name> of the directory opened O_PATH for the attempt.
 *
 * Isolation: every attempt (probe, netns, virConnectOpen, callback registration, domain list) runs on a
 * worker thread of its own; the loop only starts it and takes the result (see struct attempt). The
 * peer probe is a non-blocking connect: a full listen backlog is EAGAIN, logged, counted and retried
 * with backoff. An attempt still running after CONNECT_DEADLINE_MS (a daemon that accepted and never
 * answers) is logged and counted; nothing else waits for it. Tearing a connection down deregisters on
 * a worker too, and the last pod reference closes on one (pod.c): a stalled daemon never holds up the
 * loop or SIGTERM (shutdown waits at most STOP_ATTEMPTS_WAIT_MS + STOP_CLOSE_WAIT_MS).
 *
 * Lifetime of a struct conn (the rule that keeps every pointer to it valid):
 *   - It is reference-counted, atomically (worker threads take and drop references too). References:
 *     the conns list holds one while the conn is listed; a running attempt holds one; libvirt holds one
 *     per registered callback (close callback, each domain event callback), released by that callback's
 *     freecb whenever libvirt lets go of it (after a close callback fired, on deregistration, or when the
 *     virConnect is finally disposed, possibly long after the conn left the list); every pending timer
 *     holds one: a timer id field > 0 means "pending and holding a reference", released when the timer
 *     fires (after its work) or is cancelled (conn_timer_cancel).
 *   - Whoever calls into a conn holds a reference for the duration of the call (the list, the attempt
 *     or the timer that fired), so no step of a call can free the conn under it.
 *   - conn_forget() only unlinks: it marks the conn dead, cancels its timers, tears the connection down
 *     and drops the list's reference. The memory goes with the last reference (conn_unref).
 *   - Every callback and timer checks first that the conn is alive (and, for libvirt callbacks, that the
 *     connection is the conn's current one: conn_current) and does nothing otherwise.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include <libvirt/virterror.h>

#include "common/thread.h"
#include "common/log.h"
#include "common/netns.h"
#include "common/util.h"
#include "trigger/action.h"
#include "trigger/callgate.h"
#include "trigger/conn.h"
#include "trigger/guestwatch.h"
#include "trigger/launcher.h"
#include "trigger/loop.h"
#include "trigger/metrics.h"
#include "trigger/pod.h"
#include "trigger/reconcile.h"

#define BACKOFF_MIN_MS 250
#define KEEPALIVE_INTERVAL_S 5
#define KEEPALIVE_COUNT 3
#define PROBE_DEADLINE_MS 200
#define CONNECT_DEADLINE_MS 5000     /* an attempt taking longer is logged and counted */
#define STOP_ATTEMPTS_WAIT_MS 500    /* shutdown waits this long for running attempts, */
#define STOP_CLOSE_WAIT_MS 700       /* and this much longer for connections being closed */
#define CLOSE_REASON_CALL_DEADLINE (-1) /* not libvirt's: the call gate abandoned a call (on_call_stuck) */

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
        struct attempt *attempt;     /* connection attempt running on a worker thread, or NULL */
        int cb_lifecycle, cb_removed;
        unsigned backoff_ms;
        int retry_timer;             /* > 0: pending, holds a reference */
        int close_timer;             /* > 0: pending, holds a reference */
        int close_reason;
        int64_t t_state;             /* now_ms() when it was found, connected or lost (status) */
};

static struct conn *conns;
static const struct opts *cfg;
static int rescan_timer;
static bool stopping;

/* Atomic: libvirt may call a freecb on a worker thread (teardown, closing). */
static struct conn *conn_ref(struct conn *c) {
        __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
        return c;
}

static void conn_unref(struct conn *c) {
        if (!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) > 0)
                return;
        free(c->uri);
        free(c->netns_path);
        free(c->sock_path);
        free(c);
}

/* Give back a reference that was never handed over, or whose holder is gone, while the caller holds
 * another (a failed registration, a cancelled timer): never the last one. */
static void conn_ref_drop(struct conn *c) {
        unsigned left = __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL);

        assert(left > 0);
        (void) left;
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

static void conn_schedule_retry(struct conn *c);
static void on_close(virConnectPtr vc, int reason, void *opaque);
static void conn_open(struct conn *c);

/* Whether vc is c's current connection. Callbacks run on the loop, but a close callback can also run
 * inside a worker's call to the daemon (a teardown's deregistration): the fields are read atomically
 * (a worker's connection is never the conn's current one, so it stops there). */
static bool conn_current(struct conn *c, virConnectPtr vc) {
        struct pod *p = __atomic_load_n(&c->pod, __ATOMIC_ACQUIRE);

        return !__atomic_load_n(&c->dead, __ATOMIC_ACQUIRE) && p && p->vc == vc;
}

static void on_lifecycle(virConnectPtr vc, virDomainPtr dom, int event, int detail, void *opaque) {
        struct conn *c = opaque;
        int64_t t = now_ms();

        if (!conn_current(c, vc))
                return;
        log_debug("conn=%s domain=%s event=%d detail=%d", c->label, virDomainGetName(dom), event, detail);
        switch (event) {
        case VIR_DOMAIN_EVENT_RESUMED:
                if (detail == VIR_DOMAIN_EVENT_RESUMED_MIGRATED)
                        domain_schedule(c->pod, dom, TRIGGER_MIGRATED, t);
                else if (detail == VIR_DOMAIN_EVENT_RESUMED_POSTCOPY)
                        domain_schedule(c->pod, dom, TRIGGER_POSTCOPY, t);
                else if (detail == VIR_DOMAIN_EVENT_RESUMED_UNPAUSED)
                        /* A reconcile skips paused domains: look again once it runs (e.g. an unplug a
                         * restarted relinkd found outstanding in a paused domain resumes from there). */
                        domain_schedule(c->pod, dom, TRIGGER_RECONCILE, t);
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
                guestwatch_domain_gone(c->pod, dom);
                break;
        default:
                break;
        }
}

static void on_device_removed(virConnectPtr vc, virDomainPtr dom, const char *alias, void *opaque) {
        struct conn *c = opaque;

        if (conn_current(c, vc))
                action_device_removed(c->pod, dom, alias);
}

/* Start fn(arg) on a detached thread that gets no signals; -errno when none can be started. */
/* Deregistering the close callback and the events are calls to the daemon, which may have stalled:
 * they run on a worker with its own pod reference, dropped when done (the last one closes, see pod.h).
 * Until then the callbacks may still run; they ignore a connection that is not their conn's current one. */
struct deregistration {
        struct pod *pod;
        int cb_lifecycle, cb_removed;
};
static unsigned deregistrations;     /* running (atomic) */

static void *deregister_thread(void *opaque) {
        struct deregistration *d = opaque;

        /* releases the close callback's reference through its freecb, or fails harmlessly when the
         * callback already fired (libvirt released it then) */
        virConnectUnregisterCloseCallback(d->pod->vc, on_close);
        if (d->cb_lifecycle >= 0)
                virConnectDomainEventDeregisterAny(d->pod->vc, d->cb_lifecycle);
        if (d->cb_removed >= 0)
                virConnectDomainEventDeregisterAny(d->pod->vc, d->cb_removed);
        virResetLastError();
        pod_unref(d->pod);
        free(d);
        __atomic_sub_fetch(&deregistrations, 1, __ATOMIC_RELEASE);
        return NULL;
}

/* Deregister p's callbacks on a worker holding its own pod reference. Without memory for it, the
 * callbacks go (and release their references) when the connection closes. */
static void deregister_detached(struct pod *p, int cb_lifecycle, int cb_removed) {
        struct deregistration *d = malloc(sizeof(*d));

        if (!d)
                return;
        *d = (struct deregistration) { pod_ref(p), cb_lifecycle, cb_removed };
        __atomic_add_fetch(&deregistrations, 1, __ATOMIC_RELAXED);
        if (thread_detached(deregister_thread, d) < 0)
                deregister_thread(d);
}

/* Tear the connection down (not from within a libvirt callback); never waits for the daemon. */
static void conn_teardown(struct conn *c) {
        struct pod *p = c->pod;

        if (!p)
                return;
        __atomic_store_n(&c->pod, NULL, __ATOMIC_RELEASE);
        c->t_state = now_ms();
        p->alive = false;
        action_pod_lost(p);
        guestwatch_pod_lost(p);
        deregister_detached(p, c->cb_lifecycle, c->cb_removed);
        c->cb_lifecycle = c->cb_removed = -1;
        pod_unref(p);      /* the conn's reference; the connection closes when the last one goes */
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
        case CLOSE_REASON_CALL_DEADLINE:
                return "a call got no answer within --call-timeout-ms";
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
        if (!conn_current(c, vc))
                return;
        c->close_reason = reason;
        r = conn_timer_start(c, &c->close_timer, 0, conn_closed_later);
        if (r < 0)
                log_error("conn=%s cannot schedule reconnect: %s", c->label, strerror(-r));
}

/* The call gate abandoned a call to vc's daemon (trigger/callgate.h): treat the connection as lost —
 * its actions park, it is torn down (the abandoned call keeps its own reference) and reopened with
 * the usual backoff, on a worker, so a daemon that stays stuck holds nothing up. Runs on the loop,
 * inside the caller's libvirt step: only schedules. */
static void on_call_stuck(const void *vc, unsigned waited_ms) {
        relinkd_metrics.libvirt_call_timeouts++;
        for (struct conn *c = conns; c; c = c->next) {
                int r;

                if (!conn_current(c, (virConnectPtr) vc))
                        continue;
                log_warn("conn=%s pod=%s the daemon did not answer a call within %u ms: connection considered lost",
                         c->label, *c->pod_uid ? c->pod_uid : "-", waited_ms);
                c->close_reason = CLOSE_REASON_CALL_DEADLINE;
                r = conn_timer_start(c, &c->close_timer, 0, conn_closed_later);
                if (r < 0)
                        log_error("conn=%s cannot schedule reconnect: %s", c->label, strerror(-r));
                return;
        }
        log_warn("a libvirt call got no answer within %u ms (connection already gone)", waited_ms);
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

/*
 * Opening a connection runs on a worker thread, one attempt per conn at a time: the socket probe,
 * the netns, virConnectOpen (which blocks for as long as a daemon that accepted never answers), and the
 * calls to the daemon that follow (close callback and event registration, the domain list). The thread
 * hands its result back through a pipe the loop watches; the loop then makes the connection the conn's
 * and reconciles. An attempt holds a conn reference; its callbacks hold their own.
 */
struct attempt {
        struct conn *c;
        /* inputs, copied: the conn may change or be forgotten meanwhile */
        char *uri;                   /* NULL: build the session URI from the alias */
        char *sock_path;
        char *netns_path;
        char *link_path;             /* <alias_dir>/<n>: the symlink to the socket's directory, or NULL */
        /* results */
        virConnectPtr vc;            /* open, keepalive set, callbacks registered (ids below) */
        int cb_lifecycle, cb_removed;
        char domains[512];           /* "dom1,dom2" running there, "" when none */
        int ns_fd;
        pid_t pid;
        int err;                     /* -errno of the failed step, 0 on success */
        const char *failed;          /* which step failed */
        char detail[256];
        char uri_used[PATH_MAX + 64];
        int64_t t_start;
        bool overdue;                /* the deadline passed: logged and counted once */
        int deadline_timer;          /* > 0: pending, holds a conn reference */
};

static int attempt_pipe[2] = { -1, -1 };
static char *alias_dir;              /* private (0700) directory for the attempts' symlinks, or NULL */
static unsigned long attempt_seq;
static int attempt_watch = -1;
static unsigned attempts_running;

static void attempt_free(struct attempt *a) {
        if (!a)
                return;
        if (a->vc) {          /* not taken: deregister and close off the loop, as a teardown does */
                struct pod *p = pod_new(a->vc, -1, "attempt");

                if (p) {
                        deregister_detached(p, a->cb_lifecycle, a->cb_removed);
                        pod_unref(p);
                }
        }
        if (a->ns_fd >= 0)
                close(a->ns_fd);
        free(a->uri);
        free(a->sock_path);
        free(a->netns_path);
        free(a->link_path);
        free(a);
}

static int attempt_fail(struct attempt *a, const char *step, int err, const char *detail) {
        a->failed = step;
        a->err = err;
        snprintf(a->detail, sizeof(a->detail), "%s", detail);
        return err;
}

/* Keepalive, callbacks (each registration hands libvirt a conn reference, released by conn_unref_cb; a
 * failed one never took it: libvirt calls no freecb then) and the running domains' names. Until the loop
 * makes this connection the conn's, its callbacks ignore it. */
static int attempt_setup(struct attempt *a) {
        struct conn *c = a->c;
        virDomainPtr *doms = NULL;
        size_t o = 0;
        int n;

        if (virConnectSetKeepAlive(a->vc, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT) < 0)
                snprintf(a->detail, sizeof(a->detail), "keepalive not supported: %s", virt_error());
        if (virConnectRegisterCloseCallback(a->vc, on_close, conn_ref(c), conn_unref_cb) < 0) {
                conn_ref_drop(c);
                return attempt_fail(a, "cannot register its close callback", -EIO, virt_error());
        }
        a->cb_lifecycle = virConnectDomainEventRegisterAny(a->vc, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                           VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), conn_ref(c),
                                                           conn_unref_cb);
        if (a->cb_lifecycle < 0) {
                conn_ref_drop(c);
                return attempt_fail(a, "cannot register domain events", -EIO, virt_error());
        }
        a->cb_removed = virConnectDomainEventRegisterAny(a->vc, NULL, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                                                         VIR_DOMAIN_EVENT_CALLBACK(on_device_removed), conn_ref(c),
                                                         conn_unref_cb);
        if (a->cb_removed < 0) {
                conn_ref_drop(c);
                return attempt_fail(a, "cannot register domain events", -EIO, virt_error());
        }
        n = virConnectListAllDomains(a->vc, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
        for (int i = 0; i < n; i++) {
                const char *name = virDomainGetName(doms[i]);
                int w = snprintf(a->domains + o, sizeof(a->domains) - o, "%s%s", o ? "," : "", name ? name : "?");

                if (w > 0 && (size_t) w < sizeof(a->domains) - o)
                        o += (size_t) w;
                virDomainFree(doms[i]);
        }
        free(doms);
        virResetLastError();
        return 0;
}

/* The worker: probe, netns, virConnectOpen, setup. Touches nothing but *a, its own link and (through
 * atomic references) its conn. */
static int attempt_run(struct attempt *a) {
        char dir[PATH_MAX], name[NAME_MAX + 1], alias[108], via[PATH_MAX];
        _cleanup_close_ int dir_fd = -1;
        struct stat st;
        int r;

        if (a->sock_path) {
                r = path_split(a->sock_path, dir, sizeof(dir), name, sizeof(name));
                if (r == 0 && a->link_path) {
                        /* a short symlink to the socket's directory: pins nothing, even while libvirt's
                         * open hangs on a daemon that never answers */
                        r = symlink(dir, a->link_path) < 0 ? -errno : 0;
                        if (r == 0)
                                snprintf(via, sizeof(via), "%s", a->link_path);
                } else if (r == 0) {
                        /* no private directory for links: the directory's fd, held for the attempt */
                        dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
                        r = dir_fd < 0 ? -errno : 0;
                        if (r == 0)
                                snprintf(via, sizeof(via), "/proc/self/fd/%d", dir_fd);
                }
                if (r == 0)
                        r = socket_alias(via, name, alias, sizeof(alias));
                if (r == 0)
                        r = stat(alias, &st) < 0 ? -errno : S_ISSOCK(st.st_mode) ? 0 : -ENOTSOCK;
                if (r < 0)
                        return attempt_fail(a, "cannot open its socket", r, strerror(-r));
        }
        if (a->netns_path) {
                r = netns_open(a->netns_path, &a->ns_fd);
                if (r < 0)
                        return attempt_fail(a, "cannot open its netns", r, strerror(-r));
        } else if (!a->sock_path) {
                return attempt_fail(a, "cannot find its pod netns", -EREMOTE, "remote URI without --netns");
        } else {
                char path[64];

                r = socket_peer_pid(alias, &a->pid);
                if (r < 0)
                        return attempt_fail(a, "socket peer probe failed", r, probe_strerror(r));
                snprintf(path, sizeof(path), "/proc/%d/ns/net", (int) a->pid);
                r = netns_open(path, &a->ns_fd);
                if (r < 0)
                        return attempt_fail(a, "cannot open the daemon's netns", r, strerror(-r));
        }
        if (a->uri)
                r = strcpy_bounded(a->uri_used, sizeof(a->uri_used), a->uri);
        else
                r = launcher_uri(alias, a->uri_used, sizeof(a->uri_used));
        if (r < 0)
                return attempt_fail(a, "cannot build its URI", r, strerror(-r));
        a->vc = virConnectOpen(a->uri_used);
        if (!a->vc)
                return attempt_fail(a, "cannot connect", -EIO, virt_error());
        return attempt_setup(a);  /* the link goes and dir_fd closes now: libvirt never reopens the path */
}

static void *attempt_thread(void *opaque) {
        struct attempt *a = opaque;
        ssize_t n;

        (void) attempt_run(a);
        if (a->link_path)
                (void) unlink(a->link_path);
        do
                n = write(attempt_pipe[1], &a, sizeof(a));
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t) sizeof(a))
                abort();     /* the loop would wait for this attempt forever */
        return NULL;
}

static void conn_attempt_finish(struct attempt *a);

/* Attempts handed back by their threads, from the loop. */
static void on_attempt_done(int watch, int fd, int events, void *opaque) {
        struct attempt *a;

        while (read(fd, &a, sizeof(a)) == (ssize_t) sizeof(a))
                conn_attempt_finish(a);
}

static void attempt_deadline_fired(void *opaque) {
        struct conn *c = opaque;
        struct attempt *a = c->attempt;

        if (a) {
                a->deadline_timer = 0;
                if (!c->dead) {
                        a->overdue = true;
                        relinkd_metrics.connect_failures++;
                        metrics_flush();
                        log_warn("conn=%s still connecting after %d ms (daemon not answering); the other "
                                 "launchers are not held up", c->label, CONNECT_DEADLINE_MS);
                }
        }
        conn_unref(c);     /* the timer's reference */
}

static void conn_open(struct conn *c) {
        struct attempt *a;
        int r;

        if (c->dead || c->pod || c->attempt || stopping)
                return;
        a = calloc(1, sizeof(*a));
        if (!a) {
                conn_failed(c, "cannot connect", strerror(ENOMEM));
                return;
        }
        a->ns_fd = -1;
        a->cb_lifecycle = a->cb_removed = -1;
        a->t_start = now_ms();
        if ((c->origin == ORIGIN_CONNECT && !(a->uri = strdup(c->uri))) ||
            (c->sock_path && !(a->sock_path = strdup(c->sock_path))) ||
            (c->netns_path && !(a->netns_path = strdup(c->netns_path)))) {
                attempt_free(a);
                conn_failed(c, "cannot connect", strerror(ENOMEM));
                return;
        }
        if (c->sock_path && alias_dir && asprintf(&a->link_path, "%s/%lu", alias_dir, ++attempt_seq) < 0) {
                a->link_path = NULL;
                attempt_free(a);
                conn_failed(c, "cannot connect", strerror(ENOMEM));
                return;
        }
        r = thread_detached(attempt_thread, a);
        if (r < 0) {
                attempt_free(a);
                conn_failed(c, "cannot start a connection attempt", strerror(-r));
                return;
        }
        a->c = conn_ref(c);
        c->attempt = a;
        attempts_running++;
        r = conn_timer_start(c, &a->deadline_timer, CONNECT_DEADLINE_MS, attempt_deadline_fired);
        if (r < 0)
                log_warn("conn=%s no connect deadline: %s", c->label, strerror(-r));
}

static void conn_attempt_finish(struct attempt *a) {
        struct conn *c = a->c;
        struct pod *p;
        char nsdesc[PATH_MAX + 16];
        int r;

        attempts_running--;
        c->attempt = NULL;
        conn_timer_cancel(c, &a->deadline_timer);
        if (c->dead || stopping)
                goto out;
        if (a->overdue)
                log_info("conn=%s connection attempt returned after %lld ms", c->label,
                         (long long) (now_ms() - a->t_start));
        if (a->failed) {
                conn_failed(c, a->failed, a->detail);
                goto out;
        }
        if (*a->detail)
                log_warn("conn=%s %s", c->label, a->detail);
        p = pod_new(a->vc, a->ns_fd, c->label);
        if (!p) {
                conn_failed(c, "cannot connect", strerror(ENOMEM));
                goto out;
        }
        a->vc = NULL;        /* the pod owns both now, and the conn the callbacks */
        a->ns_fd = -1;
        __atomic_store_n(&c->pod, p, __ATOMIC_RELEASE);
        c->cb_lifecycle = a->cb_lifecycle;
        c->cb_removed = a->cb_removed;
        r = netns_identity(p->ns_fd, &p->ns_dev, &p->ns_ino);
        if (r < 0) {
                conn_teardown(c);
                conn_failed(c, "cannot identify its netns", strerror(-r));
                goto out;
        }
        if (c->netns_path)
                snprintf(nsdesc, sizeof(nsdesc), "path=%s", c->netns_path);
        else
                snprintf(nsdesc, sizeof(nsdesc), "peer_pid=%d", (int) a->pid);
        c->backoff_ms = 0;
        c->logged_failure = false;
        c->t_state = now_ms();
        log_info("conn=%s connected pod=%s %s netns=%llu:%llu socket=%s uri=%s", c->label,
                 *c->pod_uid ? c->pod_uid : "-", nsdesc, (unsigned long long) p->ns_dev,
                 (unsigned long long) p->ns_ino, c->sock_path ? c->sock_path : "-", a->uri_used);
        log_info("conn=%s pod=%s domains=%s", c->label, *c->pod_uid ? c->pod_uid : "-",
                 *a->domains ? a->domains : "-");
        update_gauges();
        /* A close between the thread's registration and now went to a connection that was not the
         * conn's yet (ignored): look (locally) whether it is still up. */
        if (virConnectIsAlive(p->vc) != 1) {
                c->close_reason = VIR_CONNECT_CLOSE_REASON_EOF;
                r = conn_timer_start(c, &c->close_timer, 0, conn_closed_later);
                if (r < 0)
                        log_error("conn=%s cannot schedule reconnect: %s", c->label, strerror(-r));
                goto out;
        }
        pod_reconcile(p);
out:
        attempt_free(a);
        conn_unref(c);       /* the attempt's reference */
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
        c->t_state = now_ms();
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
        __atomic_store_n(&c->dead, true, __ATOMIC_RELEASE);
        if (c->attempt)      /* the attempt itself finishes (and lets go) when its thread returns */
                conn_timer_cancel(c, &c->attempt->deadline_timer);
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

void conns_foreach(void (*fn)(const struct conn_info *info, void *opaque), void *opaque) {
        for (struct conn *c = conns; c; c = c->next)
                fn(&(struct conn_info) {
                        .label = c->label, .pod_uid = c->pod_uid, .origin = origin_str(c->origin),
                        .socket = c->sock_path,
                        .state = c->pod ? "connected" : c->attempt ? "connecting" : c->retry_timer > 0 ? "backoff"
                                                                                                   : "closed",
                        .has_netns = c->pod != NULL, .ns_dev = c->pod ? c->pod->ns_dev : 0,
                        .ns_ino = c->pod ? c->pod->ns_ino : 0, .since_ms = c->t_state,
                }, opaque);
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

/* Empty a link directory (links only: nothing else is ever made there) and remove it. */
static void links_dir_remove(int base_fd, const char *name) {
        _cleanup_close_ int fd = openat(base_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d;
        struct dirent *de;

        if (fd < 0)
                return;
        d = fdopendir(fd);
        if (!d)
                return;
        fd = -1;            /* the DIR owns it */
        while ((de = readdir(d)))
                if (de->d_type == DT_LNK)
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
        (void) unlinkat(base_fd, name, AT_REMOVEDIR);
}

/* Link directories of relinkds that died without cleaning up (SIGKILL): relinkd.<pid> of a pid that is
 * gone, owned by us. */
static void links_dirs_sweep(const char *base) {
        _cleanup_close_ int base_fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d;
        struct dirent *de;

        if (base_fd < 0 || !(d = opendir(base)))
                return;
        while ((de = readdir(d))) {
                struct stat st;
                char *end;
                long pid;

                if (strncmp(de->d_name, "relinkd.", 8) != 0)
                        continue;
                errno = 0;
                pid = strtol(de->d_name + 8, &end, 10);
                if (errno || *end || pid <= 0 || pid == (long) getpid())
                        continue;
                if (kill((pid_t) pid, 0) == 0 || errno != ESRCH)
                        continue;
                if (fstatat(base_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
                    st.st_uid != geteuid())
                        continue;
                links_dir_remove(base_fd, de->d_name);
        }
        closedir(d);
}

/* The private directory for socket links, <base>/relinkd.<pid> (mode 0700): base is $RUNTIME_DIRECTORY
 * (systemd), else /run, else /tmp. Left-overs of dead relinkds there are removed first. */
static void alias_dir_create(void) {
        const char *env = getenv("RUNTIME_DIRECTORY");
        const char *bases[] = { env && *env == '/' ? env : NULL, "/run", "/tmp" };
        int err = 0;

        for (size_t i = 0; i < ARRAY_SIZE(bases); i++) {
                char *t;

                if (!bases[i] || asprintf(&t, "%s/relinkd.%d", bases[i], (int) getpid()) < 0)
                        continue;
                links_dirs_sweep(bases[i]);
                if (mkdir(t, 0700) == 0) {
                        alias_dir = t;
                        return;
                }
                err = errno;
                free(t);
        }
        log_warn("no private directory for socket links (%s): long socket paths are reached through "
                 "/proc/self/fd, which holds the socket's directory open during each connection attempt",
                 strerror(err));
}

static void alias_dir_remove(void) {
        _cleanup_close_ int base_fd = -1;
        char *slash;

        if (!alias_dir)
                return;
        /* links of attempts still blocked go too: their connect() is long done */
        slash = strrchr(alias_dir, '/');
        *slash = '\0';
        base_fd = open(*alias_dir ? alias_dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (base_fd >= 0)
                links_dir_remove(base_fd, slash + 1);
        free(alias_dir);
        alias_dir = NULL;
}

int conns_start(const struct opts *o) {
        cfg = o;
        gate_set_stuck_handler(on_call_stuck);
        alias_dir_create();
        if (pipe2(attempt_pipe, O_CLOEXEC) < 0 || fcntl(attempt_pipe[0], F_SETFL, O_NONBLOCK) < 0)
                return -errno;
        attempt_watch = virEventAddHandle(attempt_pipe[0], VIR_EVENT_HANDLE_READABLE, on_attempt_done, NULL, NULL);
        if (attempt_watch < 0)
                return -EIO;
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
        int64_t end = now_ms() + STOP_ATTEMPTS_WAIT_MS, left;

        stopping = true;
        timer_cancel(&rescan_timer);
        while (conns) {
                struct conn *c = conns;
                conns = c->next;
                conn_forget(c);
        }
        /* Attempts still running: let the quick ones finish so they are freed; one stuck on a daemon
         * that never answers is left to the process exit. */
        while (attempts_running > 0 && now_ms() < end) {
                struct pollfd pfd = { .fd = attempt_pipe[0], .events = POLLIN };

                if (poll(&pfd, 1, (int) (end - now_ms())) <= 0)
                        break;
                on_attempt_done(attempt_watch, attempt_pipe[0], VIR_EVENT_HANDLE_READABLE, NULL);
        }
        if (attempts_running > 0)
                log_warn("%u connection attempt(s) still blocked in a daemon that does not answer", attempts_running);
        /* Deregistrations and closes in flight: those of healthy daemons take milliseconds; one that
         * stalled is left to the process exit. */
        while (__atomic_load_n(&deregistrations, __ATOMIC_ACQUIRE) > 0 && now_ms() < end + STOP_CLOSE_WAIT_MS) {
                struct timespec ts = { 0, 10 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        left = end + STOP_CLOSE_WAIT_MS - now_ms();
        if (__atomic_load_n(&deregistrations, __ATOMIC_ACQUIRE) > 0 ||
            !pods_wait_closed(left > 0 ? (unsigned) left : 0))
                log_warn("some connections did not close in time (daemon not answering); exiting anyway");
        if (attempt_watch >= 0)
                virEventRemoveHandle(attempt_watch);
        attempt_watch = -1;
        alias_dir_remove();
        update_gauges();
}
