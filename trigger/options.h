/* SPDX-License-Identifier: MIT */
/* relinkd command line: parsed into plain settings, no side effects (unit-tested). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/log.h"

#define OPTS_MAX_CONNECT 256
#define OPTS_MAX_WATCH   64


struct opt_connect {
        const char *uri;         /* points into argv */
        const char *netns;       /* --netns given right after this --connect, or NULL */
};

struct opts {
        const char *state_dir;
        struct opt_connect connect[OPTS_MAX_CONNECT];
        size_t n_connect;
        const char *watch[OPTS_MAX_WATCH];
        size_t n_watch;
        bool kubevirt;               /* find every launcher under kubelet_root by itself */
        const char *kubelet_root;    /* --kubelet-root, default OPTS_DEFAULT_KUBELET_ROOT */
        unsigned hold_ms;            /* link down → up */
        unsigned verify_flap_ms;     /* window for the guest's DHCP after a flap */
        unsigned verify_reattach_ms; /* … after a re-attach */
        unsigned answer_ms;          /* the server's time to answer the guest's first DHCP packet */
        unsigned detach_timeout_ms;  /* DEVICE_REMOVED wait */
        unsigned probe_timeout_ms;   /* served-MAC DHCP probe deadline */
        unsigned call_timeout_ms;    /* every libvirt call (trigger/callgate.h) */
        unsigned rescan_ms;          /* --watch glob rescan */
        unsigned backoff_max_ms;     /* reconnect backoff ceiling */
        const char *metrics_file;
        const char *metrics_listen;  /* --metrics-listen ADDR:PORT, or NULL */
        const char *status_socket;   /* --status-socket PATH (default OPTS_DEFAULT_STATUS_SOCKET) */
        bool status_socket_given;    /* … given explicitly: failing to serve it is fatal */
        enum log_level log_level;
        bool no_escalate;            /* report instead of escalating flap → re-attach */
        bool dry_run;                /* --observe (--dry-run): decide and log, never touch a domain */
        bool help;
        bool version;                /* --version: print it and exit */
};

#define OPTS_DEFAULT_STATE_DIR       "/run/cni/relink"
#define OPTS_DEFAULT_HOLD_MS         1000
#define OPTS_DEFAULT_VERIFY_FLAP_MS  3000
#define OPTS_DEFAULT_VERIFY_REATTACH_MS 20000
#define OPTS_DEFAULT_ANSWER_MS       3000
#define OPTS_DEFAULT_DETACH_TIMEOUT_MS 15000
#define OPTS_DEFAULT_RESCAN_MS       250
#define OPTS_DEFAULT_CALL_TIMEOUT_MS 5000
#define OPTS_DEFAULT_KUBELET_ROOT    "/var/lib/kubelet"
#define OPTS_DEFAULT_BACKOFF_MAX_MS  30000
/* In its own 0700 directory: /run/relinkd itself stays readable (the examples' metrics file). */
#define OPTS_DEFAULT_STATUS_SOCKET   "/run/relinkd/status/status.sock"

/* The daemon's settings (set once by main). */
extern const struct opts *relinkd_cfg;

/* Parse argv (getopt_long, restartable). 0, or -EINVAL with a message in err. */
int opts_parse(int argc, char **argv, struct opts *ret, char *err, size_t err_size);
void opts_usage(FILE *f);

/*
 * The UNIX socket a libvirt URI talks to, for finding the peer daemon's netns.
 * "qemu+unix:///system?socket=/p" → "/p"; "qemu:///system" → "/run/libvirt/libvirt-sock";
 * "qemu:///session" (no socket given) → -EOPNOTSUPP; remote transports (tcp, tls, ssh, host given) → -EREMOTE.
 */
int uri_socket_path(const char *uri, char *ret, size_t size);
