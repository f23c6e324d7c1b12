/* SPDX-License-Identifier: MIT */
/* `relinkd status`, daemon side: the socket, its clients (each a small state machine on the loop:
 * read the request, write the answer, dropped at the deadline), the snapshot and its table. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "common/version.h"
#include "trigger/action.h"
#include "trigger/conn.h"
#include "trigger/loop.h"
#include "trigger/status.h"
#include "trigger/statusring.h"

#define WRITE_RETRY_MS 10            /* the client's socket buffer is full: try again */
#define ACCEPT_PAUSE_MS 200          /* accept failed for want of resources: wait before the next */

struct client {
        struct client *next;
        int fd, watch, deadline, retry;
        pid_t pid;
        char req[STATUS_REQUEST_MAX + 1];
        size_t req_len;
        char *out;
        size_t out_len, out_off;
        bool answered;               /* the request is read: later bytes are discarded */
        bool closing;                /* all written, our side shut down: waiting for the peer's EOF */
};

static int listen_fd = -1, listen_watch, accept_timer;
static char sock_path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
static dev_t sock_dev;
static ino_t sock_ino;
static struct client *clients;
static unsigned n_clients;

static int fail(char *err, size_t size, int r, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t size, int r, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(err, size, fmt, ap);
        va_end(ap);
        return r;
}

/* ---- the snapshot ---- */

static int64_t wall_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define COPY(dst, src) snprintf((dst), sizeof(dst), "%s", (src) ? (src) : "")

struct collect {
        struct st_snapshot *s;
        int64_t wall_minus_mono;
        int r;
};

static void *grow(void *arr, size_t n, size_t size) {
        /* Double at powers of two (n is the count before the new element). */
        if (n && (n & (n - 1)))
                return arr;
        return reallocarray(arr, n ? 2 * n : 4, size);
}

static void on_conn(const struct conn_info *i, void *opaque) {
        struct collect *c = opaque;
        struct st_launcher *l, *arr;

        if (c->r < 0 || !(arr = grow(c->s->launchers, c->s->n_launchers, sizeof(*arr)))) {
                c->r = -ENOMEM;
                return;
        }
        c->s->launchers = arr;
        l = &arr[c->s->n_launchers++];
        *l = (struct st_launcher) {};
        COPY(l->label, i->label);
        COPY(l->pod_uid, i->pod_uid);
        COPY(l->origin, i->origin);
        COPY(l->socket, i->socket);
        COPY(l->state, i->state);
        l->has_netns = i->has_netns;
        l->ns_dev = i->ns_dev;
        l->ns_ino = i->ns_ino;
        l->since_ms = i->since_ms + c->wall_minus_mono;
}

static void on_action(const struct action_info *i, void *opaque) {
        struct collect *c = opaque;
        struct st_action *a, *arr;

        if (c->r < 0 || !(arr = grow(c->s->actions, c->s->n_actions, sizeof(*arr)))) {
                c->r = -ENOMEM;
                return;
        }
        c->s->actions = arr;
        a = &arr[c->s->n_actions++];
        *a = (struct st_action) {};
        COPY(a->domain, i->domain);
        COPY(a->uuid, i->uuid);
        COPY(a->pod, i->pod);
        COPY(a->nic_pci, i->pci);
        COPY(a->nic_alias, i->alias);
        COPY(a->mac, i->mac);
        COPY(a->record, i->record);
        COPY(a->kind, i->kind);
        COPY(a->phase, i->phase);
        a->rung = i->rung;
        a->n_rungs = i->n_rungs;
        a->elapsed_ms = i->elapsed_ms;
}

static void snapshot_free(struct st_snapshot *s) {
        free(s->launchers);
        free(s->actions);
        free(s->decisions);
}

static int snapshot_take(struct st_snapshot *s) {
        struct collect c = { .s = s };

        *s = (struct st_snapshot) { .version = relink_version, .pid = (int) getpid(), .now_ms = wall_ms() };
        c.wall_minus_mono = s->now_ms - now_ms();
        conns_foreach(on_conn, &c);
        actions_foreach(on_action, &c);
        s->decisions = calloc(STATUSRING_MAX, sizeof(*s->decisions));
        if (c.r < 0 || !s->decisions) {
                snapshot_free(s);
                return -ENOMEM;
        }
        s->n_decisions = statusring_copy(s->decisions, STATUSRING_MAX);
        return 0;
}

/* ---- the table ---- */

static void fmt_dur(int64_t ms, char *buf, size_t size) {
        if (ms < 0)
                ms = 0;
        if (ms < 10000)
                snprintf(buf, size, "%lldms", (long long) ms);
        else if (ms < 600000)
                snprintf(buf, size, "%llds", (long long) (ms / 1000));
        else if (ms < 36000000)
                snprintf(buf, size, "%lldm%02llds", (long long) (ms / 60000), (long long) (ms / 1000 % 60));
        else
                snprintf(buf, size, "%lldh%02lldm", (long long) (ms / 3600000), (long long) (ms / 60000 % 60));
}

int status_render_text(const struct st_snapshot *s, char **ret) {
        char *buf = NULL, t[40], t2[40], d[24];
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return -ENOMEM;
        st_format_time(s->now_ms, t, sizeof(t));
        fprintf(f, "relinkd %s, pid %d, at %s\n", s->version ? s->version : "?", s->pid, t);

        fprintf(f, "\nLaunchers followed: %zu\n", s->n_launchers);
        if (s->n_launchers)
                fprintf(f, "  %-36s %-10s %-20s %-24s %-7s %s\n", "POD", "STATE", "NETNS", "SINCE", "FOR", "SOCKET");
        for (size_t i = 0; i < s->n_launchers; i++) {
                const struct st_launcher *l = &s->launchers[i];
                char ns[48] = "-";

                if (l->has_netns)
                        snprintf(ns, sizeof(ns), "%llu:%llu", (unsigned long long) l->ns_dev,
                                 (unsigned long long) l->ns_ino);
                st_format_time(l->since_ms, t, sizeof(t));
                fmt_dur(s->now_ms - l->since_ms, d, sizeof(d));
                fprintf(f, "  %-36s %-10s %-20s %-24s %-7s %s\n", *l->pod_uid ? l->pod_uid : l->label, l->state, ns,
                        t, d, *l->socket ? l->socket : "-");
        }

        fprintf(f, "\nActions in flight: %zu\n", s->n_actions);
        if (s->n_actions)
                fprintf(f, "  %-24s %-28s %-10s %-9s %-5s %-8s %s\n", "DOMAIN", "NIC", "PHASE", "KIND", "RUNG",
                        "ELAPSED", "RECORD");
        for (size_t i = 0; i < s->n_actions; i++) {
                const struct st_action *a = &s->actions[i];
                char nic[96], rung[16];

                snprintf(nic, sizeof(nic), "%s (%s)", a->nic_pci, *a->nic_alias ? a->nic_alias : "-");
                snprintf(rung, sizeof(rung), "%u/%u", a->rung, a->n_rungs);
                fmt_dur(a->elapsed_ms, d, sizeof(d));
                fprintf(f, "  %-24s %-28s %-10s %-9s %-5s %-8s %s\n", a->domain, nic, a->phase, a->kind, rung, d,
                        a->record);
        }

        fprintf(f, "\nLast decisions: %zu (oldest first; at most %d per domain, %d in all)\n", s->n_decisions,
                STATUSRING_PER_DOMAIN, STATUSRING_MAX);
        for (size_t i = 0; i < s->n_decisions; i++) {
                const struct st_decision *e = &s->decisions[i];

                st_format_time(e->at_ms, t, sizeof(t));
                fprintf(f, "  #%llu %s domain=%s nic=%s mac=%s decision=%s trigger=%s\n", (unsigned long long) e->seq,
                        t, e->domain, e->nic_pci, e->mac, e->decision, e->trigger);
                fprintf(f, "      record:   %s (pod %s)\n", e->record, e->pod);
                fprintf(f, "      reason:   %s\n", e->reason);
                fprintf(f, "      evidence: %s\n", e->evidence);
                st_format_time(e->result_at_ms, t2, sizeof(t2));
                fprintf(f, "      result:   %s", e->result);
                if (e->result_at_ms > 0)
                        fprintf(f, " at %s", t2);
                if (*e->kind)
                        fprintf(f, " kind=%s", e->kind);
                if (e->renewal_ms >= 0)
                        fprintf(f, " renewal_ms=%lld", (long long) e->renewal_ms);
                if (*e->note)
                        fprintf(f, " note=\"%s\"", e->note);
                fputc('\n', f);
        }
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

/* ---- clients ---- */

static void client_free(struct client *c) {
        for (struct client **pc = &clients; *pc; pc = &(*pc)->next)
                if (*pc == c) {
                        *pc = c->next;
                        break;
                }
        fd_unwatch(&c->watch);
        timer_cancel(&c->deadline);
        timer_cancel(&c->retry);
        close(c->fd);
        free(c->out);
        free(c);
        n_clients--;
}

/* Best effort, never blocks: the line goes into an empty socket buffer. */
static void say_error(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say_error(int fd, const char *fmt, ...) {
        char line[256];
        va_list ap;
        int n;

        memcpy(line, "error: ", 7);
        va_start(ap, fmt);
        n = vsnprintf(line + 7, sizeof(line) - 8, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        n = 7 + (n < (int) sizeof(line) - 8 ? n : (int) sizeof(line) - 9);
        line[n++] = '\n';
        (void) !send(fd, line, (size_t) n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* Done writing: shut our side down and close once the peer has (its unread bytes would otherwise
 * reset the connection and lose our last line on the peer's side). The deadline still applies. */
static void client_done(struct client *c) {
        c->answered = c->closing = true;
        if (shutdown(c->fd, SHUT_WR) < 0 || c->watch <= 0)
                client_free(c);
}

static void client_write(void *opaque) {
        struct client *c = opaque;

        c->retry = 0;
        while (c->out_off < c->out_len) {
                ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_DONTWAIT | MSG_NOSIGNAL);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                        int r = timer_after(WRITE_RETRY_MS, client_write, c);

                        if (r > 0) {
                                c->retry = r;
                                return;
                        }
                }
                if (n <= 0) {
                        log_debug("status: client pid=%d gone before the answer was written: %s", (int) c->pid,
                                  n < 0 ? strerror(errno) : "closed");
                        break;
                }
                c->out_off += (size_t) n;
        }
        if (c->out_off < c->out_len)
                client_free(c);
        else
                client_done(c);
}

static void client_answer(struct client *c) {
        _cleanup_free_ char *body = NULL;
        struct st_snapshot s;
        bool json;
        int r;

        c->answered = true;
        c->req[c->req_len] = '\0';
        c->req[strcspn(c->req, "\r\n")] = '\0';
        json = streq(c->req, "json");
        if (!json && !streq(c->req, "text")) {
                say_error(c->fd, "unknown request '%.32s' (expected json or text)", c->req);
                client_done(c);
                return;
        }
        r = snapshot_take(&s);
        if (r == 0) {
                r = json ? st_render_json(&s, &body) : status_render_text(&s, &body);
                snapshot_free(&s);
        }
        if (r == 0 && asprintf(&c->out, "ok %zu\n%s", strlen(body), body) < 0) {
                c->out = NULL;
                r = -ENOMEM;
        }
        if (r < 0) {
                say_error(c->fd, "cannot render the status: %s", strerror(-r));
                client_done(c);
                return;
        }
        c->out_len = strlen(c->out);
        client_write(c);
}

static void client_read(int fd, void *opaque) {
        struct client *c = opaque;
        char discard[512];
        ssize_t n;

        if (c->answered) {
                n = recv(fd, discard, sizeof(discard), MSG_DONTWAIT);
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                        return;
                if (n <= 0 && c->closing)
                        client_free(c);
                else if (n <= 0)
                        fd_unwatch(&c->watch);   /* the peer is done sending; the answer is still going */
                return;
        }
        n = recv(fd, c->req + c->req_len, STATUS_REQUEST_MAX - c->req_len, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                return;
        if (n < 0) {
                client_free(c);
                return;
        }
        if (n == 0) {
                if (c->req_len == 0) {   /* connected and left */
                        client_free(c);
                        return;
                }
                client_answer(c);        /* a request without its newline */
                return;
        }
        c->req_len += (size_t) n;
        if (memchr(c->req, '\n', c->req_len)) {
                client_answer(c);
                return;
        }
        if (c->req_len >= STATUS_REQUEST_MAX) {
                say_error(fd, "request too long (max %d bytes)", STATUS_REQUEST_MAX);
                client_done(c);
        }
}

static void client_deadline(void *opaque) {
        struct client *c = opaque;

        c->deadline = 0;
        if (!c->closing)
                log_info("status: dropped client pid=%d: %s within %d ms", (int) c->pid,
                         c->answered ? "it did not read the answer" : "no request", STATUS_CLIENT_DEADLINE_MS);
        if (!c->answered)
                say_error(c->fd, "no request within %d ms", STATUS_CLIENT_DEADLINE_MS);
        client_free(c);
}

/* Clients being served (not yet answered or refused). */
static unsigned serving(void) {
        unsigned n = 0;

        for (struct client *c = clients; c; c = c->next)
                if (!c->answered)
                        n++;
        return n;
}

static void client_new(int fd) {
        struct ucred cred;
        socklen_t len = sizeof(cred);
        struct client *c;
        int r;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                log_warn("status: cannot get the peer's credentials: %s", strerror(errno));
                close(fd);
                return;
        }
        if (n_clients >= 2 * STATUS_MAX_CLIENTS) {
                /* Even the refusals are at their bound: no line, no state. */
                log_warn("status: dropped peer pid=%d: %u clients already", (int) cred.pid, n_clients);
                close(fd);
                return;
        }
        c = calloc(1, sizeof(*c));
        if (!c) {
                close(fd);
                return;
        }
        c->fd = fd;
        c->pid = cred.pid;
        c->next = clients;
        clients = c;
        n_clients++;
        r = fd_watch(fd, client_read, c);
        if (r > 0) {
                c->watch = r;
                r = timer_after(STATUS_CLIENT_DEADLINE_MS, client_deadline, c);
        }
        if (r <= 0) {
                log_warn("status: cannot serve a client: %s", strerror(r < 0 ? -r : EIO));
                client_free(c);
                return;
        }
        c->deadline = r;
        /* Refused peers get their line and a clean close (client_done): closing a socket with their
         * request unread would reset the connection and lose the line on their side. */
        if (cred.uid != 0) {
                log_warn("status: refused peer pid=%d uid=%u: root only", (int) cred.pid, (unsigned) cred.uid);
                say_error(fd, "permission denied: relinkd status is for root only (peer uid %u)", (unsigned) cred.uid);
                client_done(c);
        } else if (serving() > STATUS_MAX_CLIENTS) {
                log_warn("status: refused peer pid=%d: %d clients already", (int) cred.pid, STATUS_MAX_CLIENTS);
                say_error(fd, "busy: %d clients already, try again", STATUS_MAX_CLIENTS);
                client_done(c);
        }
}

static void on_accept(int fd, void *opaque);

static void accept_resume(void *opaque) {
        int r;

        accept_timer = 0;
        r = fd_watch(listen_fd, on_accept, NULL);
        if (r > 0)
                listen_watch = r;
        else
                log_error("status: cannot watch the socket again: %s; `relinkd status` stops working",
                          strerror(r < 0 ? -r : EIO));
}

static void on_accept(int fd, void *opaque) {
        for (unsigned i = 0; i < STATUS_MAX_CLIENTS; i++) {
                int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

                if (cfd >= 0) {
                        client_new(cfd);
                        continue;
                }
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
                        return;
                log_warn("status: accept: %s; pausing for %d ms", strerror(errno), ACCEPT_PAUSE_MS);
                /* Out of fds (EMFILE, ENFILE, ENOBUFS): the pending connection stays readable and the
                 * watch would fire at once, for ever. Stop watching for a while instead of spinning. */
                fd_unwatch(&listen_watch);
                if (accept_timer == 0) {
                        int r = timer_after(ACCEPT_PAUSE_MS, accept_resume, NULL);

                        if (r > 0)
                                accept_timer = r;
                }
                return;
        }
}

/* ---- the socket ---- */

/* The socket's directory: created 0700, or an existing one owned by us that nobody else can enter. */
static int check_dir(const char *path, char *err, size_t size) {
        char copy[sizeof(sock_path)];
        const char *dir;
        struct stat st;

        snprintf(copy, sizeof(copy), "%s", path);
        dir = dirname(copy);
        /* Missing parents 0755 (e.g. /run/relinkd), the socket's own directory 0700. */
        for (char *p = copy + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(copy, 0755) < 0 && errno != EEXIST)
                        return fail(err, size, -errno, "cannot create '%s': %s", copy, strerror(errno));
                *p = '/';
        }
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return fail(err, size, -errno, "cannot create its directory '%s': %s", dir, strerror(errno));
        if (lstat(dir, &st) < 0)
                return fail(err, size, -errno, "'%s': %s", dir, strerror(errno));
        if (!S_ISDIR(st.st_mode))
                return fail(err, size, -ENOTDIR, "'%s' is not a directory", dir);
        if (st.st_uid != geteuid() || (st.st_mode & 077))
                return fail(err, size, -EPERM, "its directory '%s' must be owned by uid %u with mode 0700 (it is uid "
                            "%u, mode %04o)", dir, (unsigned) geteuid(), (unsigned) st.st_uid,
                            (unsigned) (st.st_mode & 07777));
        return 0;
}

/* Something at path: a live relinkd (-EADDRINUSE), a stale socket (removed), or not a socket. */
static int clear_stale(const struct sockaddr_un *sa, char *err, size_t size) {
        _cleanup_close_ int fd = -1;
        struct stat st;

        if (lstat(sa->sun_path, &st) < 0)
                return errno == ENOENT ? 0 : fail(err, size, -errno, "%s", strerror(errno));
        if (!S_ISSOCK(st.st_mode))
                return fail(err, size, -EEXIST, "'%s' exists and is not a socket", sa->sun_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return fail(err, size, -errno, "socket: %s", strerror(errno));
        if (connect(fd, (const struct sockaddr *) sa, sizeof(*sa)) == 0 || errno == EAGAIN)
                return fail(err, size, -EADDRINUSE, "another process (a relinkd?) serves it");
        if (errno != ECONNREFUSED)
                return fail(err, size, -errno, "cannot probe the socket: %s", strerror(errno));
        if (unlink(sa->sun_path) < 0 && errno != ENOENT)
                return fail(err, size, -errno, "cannot remove the stale socket: %s", strerror(errno));
        return 0;
}

int status_start(const char *path, char *err, size_t size) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        if (listen_fd >= 0)
                return fail(err, size, -EALREADY, "already serving");
        if (!path || path[0] != '/')
                return fail(err, size, -EINVAL, "expected an absolute path");
        if (strcpy_bounded(sa.sun_path, sizeof(sa.sun_path), path) < 0)
                return fail(err, size, -ENAMETOOLONG, "longer than a UNIX socket address (%zu bytes)",
                            sizeof(sa.sun_path) - 1);
        r = check_dir(path, err, size);
        if (r < 0)
                return r;
        r = clear_stale(&sa, err, size);
        if (r < 0)
                return r;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return fail(err, size, -errno, "socket: %s", strerror(errno));
        /* The directory is 0700: nobody else reaches the socket between bind and chmod. */
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return fail(err, size, -errno, "bind: %s", strerror(errno));
        if (chmod(path, 0600) < 0 || lstat(path, &st) < 0) {
                r = -errno;
                unlink(path);
                return fail(err, size, r, "chmod: %s", strerror(-r));
        }
        if (listen(fd, STATUS_MAX_CLIENTS) < 0) {
                r = -errno;
                unlink(path);
                return fail(err, size, r, "listen: %s", strerror(-r));
        }
        r = fd_watch(fd, on_accept, NULL);
        if (r < 0) {
                unlink(path);
                return fail(err, size, r, "cannot watch the socket: %s", strerror(-r));
        }
        listen_watch = r;
        listen_fd = TAKE_FD(fd);
        memcpy(sock_path, sa.sun_path, sizeof(sock_path));
        sock_dev = st.st_dev;
        sock_ino = st.st_ino;
        return 0;
}

void status_stop(void) {
        struct stat st;

        if (listen_fd < 0)
                return;
        while (clients)
                client_free(clients);
        timer_cancel(&accept_timer);
        fd_unwatch(&listen_watch);
        close(listen_fd);
        listen_fd = -1;
        /* Only our own socket: a later relinkd may have replaced a file it found stale. */
        if (lstat(sock_path, &st) == 0 && st.st_dev == sock_dev && st.st_ino == sock_ino)
                unlink(sock_path);
}
