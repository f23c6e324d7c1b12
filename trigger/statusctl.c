/* SPDX-License-Identifier: MIT */
/* The `relinkd status` client: one request line, the answer copied to stdout. Blocking I/O with a
 * timeout: this is a short-lived command, never the daemon. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/util.h"
#include "trigger/options.h"
#include "trigger/statusctl.h"

#define CLIENT_TIMEOUT_S 5
#define ANSWER_MAX (64u << 20)

static void usage(FILE *f) {
        fprintf(f,
"Usage: relinkd status [--json] [--socket PATH]\n"
"\n"
"Ask the running relinkd what it follows and does: the launchers (pod UID, netns dev:ino, socket,\n"
"connection state and since when), the actions in flight (domain, NIC, phase, rung, elapsed) and the\n"
"last decisions per domain with their reason, evidence and result (pending, verified, FAILED,\n"
"aborted, denied by the policy, observed only, or none when no action followed). Root only.\n"
"\n"
"  --json         The same as one JSON object (for scripts).\n"
"  --socket PATH  relinkd's status socket (its --status-socket). Default: " OPTS_DEFAULT_STATUS_SOCKET ".\n"
"  --help         Show this text.\n"
"\n"
"Exit status: 0, 1 when relinkd cannot be reached or refuses, 2 on a usage error.\n");
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...) {
        va_list ap;

        fputs("relinkd status: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return 1;
}

static int connect_to(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct timeval tv = { .tv_sec = CLIENT_TIMEOUT_S };
        int fd, e;

        if (strcpy_bounded(sa.sun_path, sizeof(sa.sun_path), path) < 0) {
                fail("socket path '%s' is too long", path);
                return -1;
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                fail("socket: %s", strerror(errno));
                return -1;
        }
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0)
                return fd;
        e = errno;
        close(fd);
        if (e == ENOENT)
                fail("no status socket at '%s': is relinkd running (and serving it: --status-socket)?", path);
        else if (e == ECONNREFUSED)
                fail("nobody answers at '%s': relinkd is not running", path);
        else if (e == EACCES || e == EPERM)
                fail("cannot connect to '%s': %s: relinkd status is for root only", path, strerror(e));
        else
                fail("cannot connect to '%s': %s", path, strerror(e));
        return -1;
}

int statusctl_main(int argc, char **argv) {
        static const struct option long_options[] = {
                { "json",   no_argument,       NULL, 'j' },
                { "socket", required_argument, NULL, 's' },
                { "help",   no_argument,       NULL, 'h' },
                {}
        };
        const char *path = OPTS_DEFAULT_STATUS_SOCKET, *req;
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = -1;
        size_t len = 0, cap = 0, body_len;
        bool json = false;
        char *nl, *end;
        int c, send_errno = 0;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":", long_options, NULL)) != -1)
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 's':
                        if (*optarg != '/') {
                                fprintf(stderr, "relinkd status: --socket '%s': expected an absolute path\n", optarg);
                                return 2;
                        }
                        path = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case ':':
                        fprintf(stderr, "relinkd status: option '%s' needs an argument\nTry 'relinkd status --help'.\n",
                                argv[optind - 1]);
                        return 2;
                default:
                        fprintf(stderr, "relinkd status: unknown option '%s'\nTry 'relinkd status --help'.\n",
                                argv[optind - 1]);
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "relinkd status: unexpected argument '%s'\nTry 'relinkd status --help'.\n", argv[optind]);
                return 2;
        }

        fd = connect_to(path);
        if (fd < 0)
                return 1;
        req = json ? "json\n" : "text\n";
        /* A refused request still has relinkd's error line to read: report that, not EPIPE. */
        if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0)
                send_errno = errno;
        for (;;) {
                ssize_t n;

                if (len + 1 >= cap) {
                        char *nb;

                        if (cap >= ANSWER_MAX)
                                return fail("answer larger than %u bytes", ANSWER_MAX);
                        cap = cap ? 2 * cap : 65536;
                        nb = realloc(buf, cap);
                        if (!nb)
                                return fail("%s", strerror(ENOMEM));
                        buf = nb;
                }
                n = recv(fd, buf + len, cap - len - 1, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && len > 0 && (errno == ECONNRESET || errno == EPIPE))
                        break;           /* what came before the reset is read: judge it below */
                if (n < 0 && send_errno)
                        return fail("cannot send the request to '%s': %s", path, strerror(send_errno));
                if (n < 0)
                        return fail("reading the answer from '%s': %s", path,
                                    errno == EAGAIN ? "timed out" : strerror(errno));
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = '\0';
        if (len == 0 && send_errno)
                return fail("cannot send the request to '%s': %s", path, strerror(send_errno));
        if (len == 0)
                return fail("relinkd closed the connection without an answer");
        if (strncmp(buf, "error: ", 7) == 0) {
                buf[strcspn(buf, "\n")] = '\0';
                return fail("relinkd refused: %s", buf + 7);
        }
        nl = strchr(buf, '\n');
        if (strncmp(buf, "ok ", 3) != 0 || !nl)
                return fail("unexpected answer from '%s' (not a relinkd status socket?)", path);
        errno = 0;
        body_len = strtoull(buf + 3, &end, 10);
        if (errno || end != nl)
                return fail("unexpected answer from '%s' (not a relinkd status socket?)", path);
        if (body_len != (size_t) (buf + len - nl - 1))
                return fail("truncated answer: %zu of %zu bytes", (size_t) (buf + len - nl - 1), body_len);
        if (fwrite(nl + 1, 1, body_len, stdout) != body_len || fflush(stdout) != 0)
                return fail("writing the answer: %s", strerror(errno));
        return 0;
}
