/* SPDX-License-Identifier: MIT */
/* relinkd options: getopt_long into struct opts, the usage text, URI → socket path. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include <libxml/uri.h>

#include "common/util.h"
#include "trigger/dhcpprobe.h"
#include "trigger/httpmetrics.h"
#include "trigger/launcher.h"
#include "trigger/options.h"

#define SYSTEM_SOCKET "/run/libvirt/libvirt-sock"

const struct opts *relinkd_cfg;

enum {
        OPT_STATE_DIR = 0x100, OPT_CONNECT, OPT_NETNS, OPT_WATCH, OPT_HOLD, OPT_VERIFY, OPT_VERIFY_REATTACH,
        OPT_DETACH_TIMEOUT, OPT_PROBE_TIMEOUT, OPT_RESCAN, OPT_BACKOFF_MAX, OPT_METRICS, OPT_LOG_LEVEL, OPT_NO_ESCALATE,
        OPT_DRY_RUN, OPT_KUBEVIRT, OPT_KUBELET_ROOT, OPT_HELP, OPT_VERSION, OPT_METRICS_LISTEN,
        OPT_STATUS_SOCKET,
        OPT_CALL_TIMEOUT, OPT_ANSWER,
};

static const struct option long_options[] = {
        { "state-dir",          required_argument, NULL, OPT_STATE_DIR },
        { "connect",            required_argument, NULL, OPT_CONNECT },
        { "netns",              required_argument, NULL, OPT_NETNS },
        { "watch",              required_argument, NULL, OPT_WATCH },
        { "hold-ms",            required_argument, NULL, OPT_HOLD },
        { "verify-ms",          required_argument, NULL, OPT_VERIFY },
        { "reattach-verify-ms", required_argument, NULL, OPT_VERIFY_REATTACH },
        { "detach-timeout-ms",  required_argument, NULL, OPT_DETACH_TIMEOUT },
        { "probe-timeout-ms",   required_argument, NULL, OPT_PROBE_TIMEOUT },
        { "rescan-ms",          required_argument, NULL, OPT_RESCAN },
        { "backoff-max-ms",     required_argument, NULL, OPT_BACKOFF_MAX },
        { "metrics-file",       required_argument, NULL, OPT_METRICS },
        { "log-level",          required_argument, NULL, OPT_LOG_LEVEL },
        { "no-escalate",        no_argument,       NULL, OPT_NO_ESCALATE },
        { "dry-run",            no_argument,       NULL, OPT_DRY_RUN },
        { "observe",            no_argument,       NULL, OPT_DRY_RUN },
        { "kubevirt",           no_argument,       NULL, OPT_KUBEVIRT },
        { "kubelet-root",       required_argument, NULL, OPT_KUBELET_ROOT },
        { "help",               no_argument,       NULL, OPT_HELP },
        { "version",            no_argument,       NULL, OPT_VERSION },
        { "metrics-listen",     required_argument, NULL, OPT_METRICS_LISTEN },
        { "status-socket",      required_argument, NULL, OPT_STATUS_SOCKET },
        { "call-timeout-ms",    required_argument, NULL, OPT_CALL_TIMEOUT },
        { "answer-ms",          required_argument, NULL, OPT_ANSWER },
        {}
};

void opts_usage(FILE *f) {
        fprintf(f,
"Usage: relinkd --state-dir DIR [--kubevirt [--kubelet-root DIR]] [--connect URI [--netns PATH]]...\n"
"               [--watch GLOB]... [OPTION]...\n"
"       relinkd status [--json] [--socket PATH]   (what the running relinkd follows and does; see\n"
"                                                 relinkd status --help)\n"
"\n"
"Node daemon of relink. It follows the libvirt daemons of the node's VM pods and, when an incoming\n"
"live migration completes on this node (lifecycle event RESUMED/MIGRATED; for post-copy, once the\n"
"post-copy phase has finished), makes every guest NIC bound to a recorded pod interface pick up the\n"
"target pod's network:\n"
"  - MAC of the NIC differs from the record  → detach the NIC (by alias, asynchronously), wait for\n"
"                                              DEVICE_REMOVED (or the device gone from the live XML), attach it\n"
"                                              again with the record's MAC at the same PCI address;\n"
"  - MAC equal, IP/gateway/routes/MTU differ  → link down, hold, link up (the guest re-runs DHCP);\n"
"  - nothing differs                          → nothing at all (no disruption).\n"
"\"What the guest had\" is kept in each domain's own metadata (namespace " "https://relink.dev/xmlns/relinkd/1),\n"
"written when relinkd first sees the domain running, so it migrates with the domain. A migrated domain\n"
"without it is assumed to have changed network.\n"
"Each action is verified by watching the guest's DHCP exchange on the NIC's tap in the pod netns (the\n"
"watch is opened before acting): a DHCPACK to the NIC's MAC for the record's IPv4 address verifies at once;\n"
"a DISCOVER/REQUEST from it without an ACK verifies at the end of the window. An unverified flap is\n"
"escalated to a re-attach, an unverified re-attach is reported as FAILED (error log line and metric).\n"
"On start and after every (re)connect relinkd reconciles the running domains, so a restart right after\n"
"a migration still fixes the guest; a re-attach is recorded in the domain before its detach (namespace\n"
"https://relink.dev/xmlns/relinkd-pending/1), so a NIC detached by a relinkd that then died is attached\n"
"again on restart. Logs go to stderr, one line per decision or action, with timings in\n"
"ms since the migration event.\n"
"\n"
"Options:\n"
"  --state-dir DIR        relink's attachment records (written by the CNI plugin).\n"
"                         Default: " OPTS_DEFAULT_STATE_DIR ".\n"
"  --kubevirt             Follow every KubeVirt launcher on this node by itself: each\n"
"                         <kubelet-root>/pods/<pod-uid>/" KUBELET_LIBVIRT_RUNTIME "/{virtqemud-sock,libvirt-sock}\n"
"                         (the launcher's /var/run/libvirt; virtqemud or libvirtd, session mode as in non-root\n"
"                         launchers or system mode as in root ones). One connection per daemon, however many\n"
"                         names its socket has (same inode). Launchers are found and dropped by the rescan\n"
"                         (--rescan-ms) as pods come and go. Needs the host's PID namespace (hostPID).\n"
"  --kubelet-root DIR     The kubelet's root directory for --kubevirt. Default: " OPTS_DEFAULT_KUBELET_ROOT ".\n"
"  --connect URI          A libvirt daemon to follow, e.g. qemu+unix:///system?socket=/run/libvirt/libvirt-sock.\n"
"                         Repeatable. Reconnected with exponential backoff when it drops.\n"
"  --netns PATH           The pod network namespace of the preceding --connect (e.g. /run/netns/pod1).\n"
"                         Without it, the netns is that of the process serving the URI's UNIX socket\n"
"                         (SO_PEERCRED → /proc/PID/ns/net); remote URIs need --netns.\n"
"  --watch GLOB           Follow every UNIX socket matching GLOB (quote it), e.g.\n"
"                         '/var/lib/kubelet/pods/*/" KUBELET_LIBVIRT_RUNTIME "/virtqemud-sock'.\n"
"                         Rescanned every --rescan-ms: new sockets are connected, vanished ones dropped.\n"
"                         Repeatable; may be combined with --kubevirt. Sockets whose pod netns has no\n"
"                         record in the state dir are followed but never acted on.\n"
"                         Found sockets (--kubevirt, --watch) are reached through /proc/self/fd/N/NAME of\n"
"                         their directory, so paths longer than a UNIX socket address (108 bytes) work, with\n"
"                         qemu+unix:///session?socket=…, which session and system daemons both accept. The\n"
"                         peer lookup is a non-blocking connect: a daemon whose listen backlog is full is\n"
"                         logged, counted (relinkd_connect_failures_total) and retried with backoff.\n"
"  --hold-ms N            How long the link stays down on a flap. Default: %u. Why 1000: the guest\n"
"                         kernel's link-watch batches carrier changes (about once per second), so a\n"
"                         shorter flap can be swallowed and never reach the guest's network manager;\n"
"                         ~1 s is the safe floor (systemd-networkd renews on any flap that reaches it).\n"
"                         NetworkManager ignores carrier loss shorter than its carrier-wait-timeout (6 s)\n"
"                         and ifupdown/dhclient ignores carrier entirely: rather than holding every\n"
"                         guest down for 6.5 s, those are handled by escalation to a re-attach.\n"
"  --verify-ms N          After a flap, how long to wait for the guest's DHCP request/ack on the NIC\n"
"                         before escalating to a re-attach. Default: %u.\n"
"  --reattach-verify-ms N After a re-plug, how long a silent guest is waited for (hot-plug, driver\n"
"                         probe, the stack bringing the NIC up: real ifupdown guests sent their first\n"
"                         DHCP 5-13 s after the attach). Default: %u.\n"
"  --answer-ms N          Once the guest's DHCPDISCOVER is seen, how long the server has to answer its\n"
"                         MAC at all (an offer, ack or nak); unanswered, the next step (the other MAC)\n"
"                         follows at once. An answered exchange gets the whole window. Default: %u.\n"
"  --detach-timeout-ms N  How long the guest may take to release a NIC being re-plugged before relinkd\n"
"                         reports FAILED (waiting=yes: it keeps waiting, re-asking, and plugs the new NIC\n"
"                         whenever the guest lets go). Real Debian guests released 1.0-4.3 s after the\n"
"                         unplug on an idle node, later under load. Default: %u.\n"
"  --probe-timeout-ms N   Deadline of the served-MAC DHCP probe (a DHCPDISCOVER per candidate MAC on the\n"
"                         pod's bridge); with no answer by then the fallback applies (keep the MAC).\n"
"                         Default: %u (dnsmasq and KubeVirt's server answer in a few ms).\n"
"  --call-timeout-ms N    Deadline of every libvirt call to a launcher's daemon. Calls run on threads of\n"
"                         their own; past the deadline the call is abandoned, the daemon counted as stuck\n"
"                         (relinkd_libvirt_call_timeouts_total), its connection reopened with backoff and\n"
"                         its actions parked until then: a stopped or wedged launcher costs the other\n"
"                         launchers' actions at most this once. Default: %u.\n"
"  --rescan-ms N          --kubevirt/--watch rescan period. Default: %u.\n"
"  --backoff-max-ms N     Ceiling of the reconnect backoff (starts at 250 ms, doubles). Default: %u.\n"
"  --metrics-file PATH    Write Prometheus text-format metrics to PATH (atomically replaced on every\n"
"                         change; point a node-exporter textfile collector at it):\n"
"                           relinkd_actions_total{kind,result}, relinkd_decisions_total{decision},\n"
"                           relinkd_renewal_seconds (migration event → verified DHCP renewal),\n"
"                           relinkd_event_to_first_call_seconds, relinkd_connections.\n"
"  --metrics-listen ADDR:PORT\n"
"                         Also serve the same metrics at http://ADDR:PORT/metrics (Prometheus scrape;\n"
"                         numeric address, [v6]:PORT for IPv6), e.g. 0.0.0.0:9595 for a DaemonSet pod.\n"
"  --status-socket PATH   Serve `relinkd status` on this UNIX socket, root peers only (SO_PEERCRED); mode\n"
"                         0600, in a directory created 0700 that must be root's and 0700.\n"
"                         Default: " OPTS_DEFAULT_STATUS_SOCKET ". When the default cannot be served\n"
"                         (e.g. another relinkd serves it) relinkd warns and runs without it; a PATH given\n"
"                         here that cannot be served is a start-up failure.\n"
"  --log-level LEVEL      debug, info (default), warn or error.\n"
"  --no-escalate          Do not escalate an unverified flap to a re-attach; report it.\n"
"  --observe              Observe only: every decision is made, probed (the served-MAC DHCP probe runs on\n"
"                         the pod's bridge) and logged as it would be, with its evidence and a line\n"
"                         \"observed ...: would flap|reattach|do nothing\", counted in relinkd_observed_total;\n"
"                         no domain is touched (no flap, no re-plug, no relink metadata written). For\n"
"                         trying relinkd on a node before trusting it; per network or VM: relinkObserve\n"
"                         in the CNI config (docs/relinkd.md, \"Policy and observe-only\").\n"
"  --dry-run              The same as --observe.\n"
"  --help                 Show this text.\n"
"  --version              Print relinkd's version and exit.\n"
"\n"
"Signals: SIGTERM/SIGINT deregister from every daemon, close the connections and exit 0 (a link held\n"
"down is brought up first).\n"
"Exit status: 0 on a clean shutdown, 2 on a usage error, 1 on any other startup failure.\n"
"\n"
"Example (a KubeVirt node: hostPID DaemonSet, kubelet pods dir mounted read-only):\n"
"  relinkd --kubevirt --state-dir /run/cni/relink --metrics-file /var/lib/node-exporter/relinkd.prom\n",
                OPTS_DEFAULT_HOLD_MS, OPTS_DEFAULT_VERIFY_FLAP_MS, OPTS_DEFAULT_VERIFY_REATTACH_MS, OPTS_DEFAULT_ANSWER_MS,
                OPTS_DEFAULT_DETACH_TIMEOUT_MS, PROBE_TIMEOUT_MS, OPTS_DEFAULT_CALL_TIMEOUT_MS, OPTS_DEFAULT_RESCAN_MS,
                OPTS_DEFAULT_BACKOFF_MAX_MS);
}

static int fail(char *err, size_t err_size, const char *fmt, ...) {
        va_list ap;

        if (err && err_size) {
                va_start(ap, fmt);
                vsnprintf(err, err_size, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

/* The long name of option value c (several names may share one value: the first). */
static const char *opt_name(int c) {
        for (const struct option *o = long_options; o->name; o++)
                if (o->val == c)
                        return o->name;
        return "?";
}

static int parse_ms(const char *s, unsigned min, unsigned max, unsigned *ret) {
        char *end;
        unsigned long v;

        if (!*s || *s == '-' || *s == '+')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || *end || v < min || v > max)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

int opts_parse(int argc, char **argv, struct opts *ret, char *err, size_t err_size) {
        struct opts o = {
                .state_dir = OPTS_DEFAULT_STATE_DIR,
                .hold_ms = OPTS_DEFAULT_HOLD_MS,
                .verify_flap_ms = OPTS_DEFAULT_VERIFY_FLAP_MS,
                .verify_reattach_ms = OPTS_DEFAULT_VERIFY_REATTACH_MS,
                .answer_ms = OPTS_DEFAULT_ANSWER_MS,
                .detach_timeout_ms = OPTS_DEFAULT_DETACH_TIMEOUT_MS,
                .probe_timeout_ms = PROBE_TIMEOUT_MS,
                .call_timeout_ms = OPTS_DEFAULT_CALL_TIMEOUT_MS,
                .rescan_ms = OPTS_DEFAULT_RESCAN_MS,
                .backoff_max_ms = OPTS_DEFAULT_BACKOFF_MAX_MS,
                .log_level = LOG_LEVEL_INFO,
                .kubelet_root = OPTS_DEFAULT_KUBELET_ROOT,
                .status_socket = OPTS_DEFAULT_STATUS_SOCKET,
        };
        bool kubelet_root_given = false;
        static const struct {
                int opt;
                size_t off;
                unsigned min, max;
        } ms_opts[] = {
                { OPT_HOLD,            offsetof(struct opts, hold_ms),            1,   60000 },
                { OPT_VERIFY,          offsetof(struct opts, verify_flap_ms),     100, 600000 },
                { OPT_VERIFY_REATTACH, offsetof(struct opts, verify_reattach_ms), 100, 600000 },
                { OPT_DETACH_TIMEOUT,  offsetof(struct opts, detach_timeout_ms),  100, 600000 },
                { OPT_PROBE_TIMEOUT,   offsetof(struct opts, probe_timeout_ms),   20,  10000 },
                { OPT_CALL_TIMEOUT,    offsetof(struct opts, call_timeout_ms),    100, 600000 },
                { OPT_ANSWER,          offsetof(struct opts, answer_ms),          100, 600000 },
                { OPT_RESCAN,          offsetof(struct opts, rescan_ms),          50,  3600000 },
                { OPT_BACKOFF_MAX,     offsetof(struct opts, backoff_max_ms),     250, 3600000 },
        };
        int c, r;

        if (err && err_size)
                *err = '\0';
        optind = 0;   /* full reinitialisation (glibc), so tests can parse repeatedly */
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":", long_options, NULL)) != -1) {
                bool done = false;

                for (size_t i = 0; i < ARRAY_SIZE(ms_opts); i++) {
                        if (ms_opts[i].opt != c)
                                continue;
                        if (parse_ms(optarg, ms_opts[i].min, ms_opts[i].max,
                                     (unsigned *) ((char *) &o + ms_opts[i].off)) < 0)
                                return fail(err, err_size, "--%s: expected milliseconds in %u..%u, got '%s'",
                                            opt_name(c), ms_opts[i].min,
                                            ms_opts[i].max, optarg);
                        done = true;
                }
                if (done)
                        continue;

                switch (c) {
                case OPT_STATE_DIR:
                        if (optarg[0] != '/')
                                return fail(err, err_size, "--state-dir '%s': expected an absolute path", optarg);
                        o.state_dir = optarg;
                        break;
                case OPT_CONNECT:
                        if (!*optarg)
                                return fail(err, err_size, "--connect: empty URI");
                        if (o.n_connect >= OPTS_MAX_CONNECT)
                                return fail(err, err_size, "too many --connect (max %d)", OPTS_MAX_CONNECT);
                        o.connect[o.n_connect++] = (struct opt_connect) { .uri = optarg };
                        break;
                case OPT_NETNS:
                        if (o.n_connect == 0)
                                return fail(err, err_size, "--netns '%s' must follow the --connect it belongs to",
                                            optarg);
                        if (o.connect[o.n_connect - 1].netns)
                                return fail(err, err_size, "--netns given twice for --connect '%s'",
                                            o.connect[o.n_connect - 1].uri);
                        if (*optarg != '/')
                                return fail(err, err_size, "--netns '%s': expected an absolute path", optarg);
                        o.connect[o.n_connect - 1].netns = optarg;
                        break;
                case OPT_WATCH:
                        if (!*optarg)
                                return fail(err, err_size, "--watch: empty pattern");
                        if (o.n_watch >= OPTS_MAX_WATCH)
                                return fail(err, err_size, "too many --watch (max %d)", OPTS_MAX_WATCH);
                        o.watch[o.n_watch++] = optarg;
                        break;
                case OPT_METRICS:
                        if (!*optarg)
                                return fail(err, err_size, "--metrics-file: empty path");
                        o.metrics_file = optarg;
                        break;
                case OPT_LOG_LEVEL:
                        r = log_level_from_string(optarg, &o.log_level);
                        if (r < 0)
                                return fail(err, err_size, "--log-level: expected debug, info, warn or error, got '%s'",
                                            optarg);
                        break;
                case OPT_NO_ESCALATE:
                        o.no_escalate = true;
                        break;
                case OPT_DRY_RUN:
                        o.dry_run = true;
                        break;
                case OPT_KUBEVIRT:
                        o.kubevirt = true;
                        break;
                case OPT_KUBELET_ROOT:
                        if (*optarg != '/')
                                return fail(err, err_size, "--kubelet-root '%s': expected an absolute path", optarg);
                        kubelet_root_given = true;
                        o.kubelet_root = optarg;
                        break;
                case OPT_HELP:
                        o.help = true;
                        break;
                case OPT_VERSION:
                        o.version = true;
                        break;
                case OPT_METRICS_LISTEN: {
                        struct sockaddr_storage sa;
                        socklen_t sa_len;

                        if (httpmetrics_parse_addr(optarg, &sa, &sa_len) < 0)
                                return fail(err, err_size, "--metrics-listen: expected ADDR:PORT or [ADDR6]:PORT "
                                            "with a numeric address, got '%s'", optarg);
                        o.metrics_listen = optarg;
                        break;
                }
                case OPT_STATUS_SOCKET:
                        if (*optarg != '/')
                                return fail(err, err_size, "--status-socket '%s': expected an absolute path", optarg);
                        if (strlen(optarg) >= sizeof(((struct sockaddr_un *) 0)->sun_path))
                                return fail(err, err_size, "--status-socket '%s': longer than a UNIX socket address "
                                            "(%zu bytes)", optarg, sizeof(((struct sockaddr_un *) 0)->sun_path) - 1);
                        o.status_socket = optarg;
                        o.status_socket_given = true;
                        break;
                case ':':
                        return fail(err, err_size, "option '%s' needs an argument", argv[optind - 1]);
                case '?':
                default:
                        return fail(err, err_size, "unknown option '%s'", argv[optind - 1]);
                }
        }
        if (optind < argc)
                return fail(err, err_size, "unexpected argument '%s'", argv[optind]);
        if (kubelet_root_given && !o.kubevirt)
                return fail(err, err_size, "--kubelet-root is only used with --kubevirt");
        if (!o.help && !o.version && o.n_connect == 0 && o.n_watch == 0 && !o.kubevirt)
                return fail(err, err_size, "nothing to follow: give --kubevirt, --connect URI or --watch GLOB");
        *ret = o;
        return 0;
}

/* Value of key in an URI query "a=b&socket=/x", unescaped; NULL when absent. */
static char *query_get(const char *query, const char *key) {
        size_t klen = strlen(key);

        for (const char *p = query; p && *p;) {
                const char *end = p + strcspn(p, "&;");

                if ((size_t) (end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == '=')
                        return xmlURIUnescapeString(p + klen + 1, (int) (end - p - (ptrdiff_t) klen - 1), NULL);
                p = *end ? end + 1 : end;
        }
        return NULL;
}

int uri_socket_path(const char *uri, char *ret, size_t size) {
        xmlURIPtr u = xmlParseURI(uri);
        const char *transport;
        char *sock = NULL;
        int r;

        if (!u || !u->scheme) {
                if (u)
                        xmlFreeURI(u);
                return -EINVAL;
        }
        transport = strchr(u->scheme, '+');
        transport = transport ? transport + 1 : NULL;
        if ((transport && strcasecmp(transport, "unix") != 0) ||
            (!transport && u->server && *u->server)) {
                xmlFreeURI(u);
                return -EREMOTE;
        }
        if (u->query_raw)
                sock = query_get(u->query_raw, "socket");
        else if (u->query)
                sock = query_get(u->query, "socket");
        if (sock) {
                r = *sock == '/' ? strcpy_bounded(ret, size, sock) : -EINVAL;
                xmlFree(sock);
        } else if (u->path && strcmp(u->path, "/session") == 0)
                r = -EOPNOTSUPP;
        else
                r = strcpy_bounded(ret, size, SYSTEM_SOCKET);
        xmlFreeURI(u);
        return r;
}
