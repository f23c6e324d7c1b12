/* SPDX-License-Identifier: MIT */
/*
 * relinkd: give a live-migrated guest its target pod's network.
 * Lifecycle as in libvirt's event-test.c: register the default event implementation before any
 * connection → open connections (close callback, keepalive, events) → run the loop until a signal
 * → deregister → close.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "common/log.h"
#include "common/util.h"
#include "common/version.h"
#include "trigger/action.h"
#include "trigger/callgate.h"
#include "trigger/conn.h"
#include "trigger/guestwatch.h"
#include "trigger/httpmetrics.h"
#include "trigger/loop.h"
#include "trigger/metrics.h"
#include "trigger/options.h"
#include "trigger/reconcile.h"
#include "trigger/statedir.h"
#include "trigger/status.h"
#include "trigger/statusctl.h"

static volatile sig_atomic_t quit;
static int wake_pipe[2] = { -1, -1 };
static int statedir_lock = -1;          /* held (open) until exit: see statedir.h */

static void on_signal(int sig) {
        int saved = errno;

        quit = sig;
        if (wake_pipe[1] >= 0)
                (void) !write(wake_pipe[1], "x", 1);
        errno = saved;
}

/* The loop's poll() restarts on EINTR: the self-pipe wakes it so the quit flag is seen at once. */
static void on_wake(int watch, int fd, int events, void *opaque) {
        char buf[64];

        while (read(fd, buf, sizeof(buf)) > 0)
                ;
}

/* libvirt would print every error on stderr; relinkd logs the ones that matter itself. */
static void quiet_libvirt_errors(void *opaque, virErrorPtr err) {
        if (err)
                log_debug("libvirt: %s", err->message ? err->message : "?");
}

static int setup_signals(void) {
        struct sigaction sa = { .sa_handler = on_signal };

        if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
                return -errno;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
                return -errno;
        sa.sa_handler = SIG_IGN;
        if (sigaction(SIGPIPE, &sa, NULL) < 0)
                return -errno;
        return 0;
}

int main(int argc, char **argv) {
        static struct opts o;
        char err[512];
        int r;

        if (argc > 1 && streq(argv[1], "status"))
                return statusctl_main(argc - 1, argv + 1);
        r = opts_parse(argc, argv, &o, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "relinkd: %s\nTry 'relinkd --help'.\n", err);
                return 2;
        }
        if (o.help) {
                opts_usage(stdout);
                return 0;
        }
        if (o.version) {
                printf("relinkd %s\n", relink_version);
                return 0;
        }
        relinkd_cfg = &o;
        log_open("relinkd", NULL, o.log_level);

        /* First: a second relinkd must not touch anything (metrics file, listener) the first one owns. */
        {
                bool created;
                pid_t holder;

                r = statedir_claim(o.state_dir, &created, &holder, err, sizeof(err));
                if (r < 0) {
                        log_error("%s", err);
                        return 1;
                }
                statedir_lock = r;
                if (created)
                        log_warn("state dir '%s' did not exist: created it (mode 0700); relink's stateDir must name "
                                 "the same directory", o.state_dir);
        }
        r = setup_signals();
        if (r < 0) {
                log_error("cannot set up signal handling: %s", strerror(-r));
                return 1;
        }
        r = metrics_open(o.metrics_file);
        if (r < 0) {
                log_error("metrics: %s", strerror(-r));
                return 1;
        }
        virSetErrorFunc(NULL, quiet_libvirt_errors);
        gate_set_deadline(o.call_timeout_ms);
        gate_set_abort(&quit);
        /* Before any connection: keepalive, close callbacks and events all need it. */
        if (virEventRegisterDefaultImpl() < 0) {
                log_error("cannot register the libvirt event loop: %s", virt_error());
                return 1;
        }
        if (virEventAddHandle(wake_pipe[0], VIR_EVENT_HANDLE_READABLE, on_wake, NULL, NULL) < 0) {
                log_error("cannot watch the wake-up pipe: %s", virt_error());
                return 1;
        }
        if (o.metrics_listen) {
                unsigned port;

                r = httpmetrics_start(o.metrics_listen, &port);
                if (r < 0) {
                        log_error("--metrics-listen %s: %s", o.metrics_listen, strerror(-r));
                        return 1;
                }
                log_info("metrics: serving /metrics on %s (port %u)", o.metrics_listen, port);
        }
        r = status_start(o.status_socket, err, sizeof(err));
        if (r < 0 && o.status_socket_given) {
                log_error("--status-socket %s: %s", o.status_socket, err);
                return 1;
        }
        if (r < 0)
                log_warn("status: not serving %s: %s; `relinkd status` cannot reach this relinkd", o.status_socket,
                         err);
        else
                log_info("status: serving `relinkd status` on %s", o.status_socket);
        r = metrics_flush();
        if (r < 0)
                log_warn("cannot write metrics file '%s': %s", o.metrics_file, strerror(-r));

        log_info("started version=%s state_dir=%s kubevirt=%s connect=%zu watch=%zu hold_ms=%u verify_ms=%u reattach_verify_ms=%u "
                 "detach_timeout_ms=%u call_timeout_ms=%u%s%s", relink_version, o.state_dir, o.kubevirt ? o.kubelet_root : "no", o.n_connect, o.n_watch, o.hold_ms, o.verify_flap_ms,
                 o.verify_reattach_ms, o.detach_timeout_ms, o.call_timeout_ms, o.no_escalate ? " no_escalate" : "",
                 o.dry_run ? " dry_run" : "");
        r = conns_start(&o);
        if (r < 0) {
                log_error("cannot start: %s", strerror(-r));
                return 1;
        }

        while (!quit)
                if (virEventRunDefaultImpl() < 0) {
                        log_error("event loop failed: %s", virt_error());
                        break;
                }

        log_info("signal %d: shutting down (%u action(s) in flight)", (int) quit, actions_active());
        actions_shutdown();
        guestwatch_shutdown();
        jobs_cancel_all();
        conns_stop();
        httpmetrics_stop();
        status_stop();
        metrics_flush();
        log_info("stopped");
        log_close();
        return quit ? 0 : 1;
}
