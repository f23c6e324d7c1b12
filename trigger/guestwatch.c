/* SPDX-License-Identifier: MIT */
/* Standing watches of the guests' DHCP clients (see guestwatch.h). */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "trigger/dhcpwatch.h"
#include "trigger/fingerprint.h"
#include "trigger/guestwatch.h"
#include "trigger/loop.h"
#include "trigger/options.h"
#include "trigger/virtdom.h"

#define REOPEN_MS 1000            /* the tap went away (a re-plug with a new tap): try again … */
#define REOPEN_TRIES 120          /* … for two minutes */
#define READ_BURST 64             /* frames per callback (as the action's port, trigger/action.c) */

struct gw {
        struct gw *next;
        struct pod *pod;
        virDomainPtr dom;
        char uuid[VIR_UUID_STRING_BUFLEN];
        char pci[16];
        char tap[IFNAMSIZ];
        int fd;
        int watch;
        int open_timer;           /* reopen after a socket error */
        int write_timer;          /* metadata update scheduled */
        unsigned tries;
        enum guest_client known;  /* what the metadata says */
        enum guest_client seen;   /* what the last classified packet says */
        enum client_src seen_src;
};

static struct gw *watches;

static void gw_close(struct gw *w) {
        fd_unwatch(&w->watch);
        if (w->fd >= 0)
                virtdom->port_close(w->fd);
        w->fd = -1;
}

static void gw_free(struct gw *w) {
        for (struct gw **pw = &watches; *pw; pw = &(*pw)->next)
                if (*pw == w) {
                        *pw = w->next;
                        break;
                }
        gw_close(w);
        timer_cancel(&w->open_timer);
        timer_cancel(&w->write_timer);
        virtdom->unref(w->dom);
        pod_unref(w->pod);
        free(w);
}

/* From a timer: make the metadata say what the guest's packets say (only if it does not already). */
static void gw_write(void *opaque) {
        struct gw *w = opaque;
        _cleanup_free_ struct meta_nic *nics = NULL;
        const char *name = virtdom->name(w->dom);
        size_t n = 0;
        int r;

        w->write_timer = 0;
        if (!w->pod->alive || w->seen == CLIENT_UNKNOWN || w->seen == w->known)
                return;
        r = virtdom_meta_get(w->dom, &nics, &n);
        if (r < 0 && r != -ENOENT) {
                log_warn("domain=%s nic=%s cannot read relink metadata to record client=%s: %s", name, w->pci,
                         client_to_string(w->seen), virt_strerror(r));
                return;
        }
        for (size_t i = 0; i < n; i++) {
                if (!streq(nics[i].pci, w->pci))
                        continue;
                if (nics[i].client == w->seen) {
                        w->known = w->seen;          /* someone (the source's relinkd) knew already */
                        return;
                }
                log_info("domain=%s nic=%s tap=%s client=%s src=%s (was %s)%s", name, w->pci, w->tap,
                         client_to_string(w->seen), client_src_to_string(w->seen_src),
                         client_to_string(nics[i].client), relinkd_cfg->dry_run ? " (dry run: not written)" : "");
                if (relinkd_cfg->dry_run) {
                        w->known = w->seen;
                        return;
                }
                nics[i].client = w->seen;
                nics[i].client_src = w->seen_src;
                r = virtdom_meta_put(w->dom, nics, n);
                if (r < 0) {
                        log_warn("domain=%s nic=%s cannot record client=%s: %s", name, w->pci,
                                 client_to_string(w->seen), virt_strerror(r));
                        return;
                }
                w->known = w->seen;
                return;
        }
        /* No entry yet: the first sight writes it; the next packet tries again. */
        log_debug("domain=%s nic=%s client=%s seen before the NIC's identity was recorded", name, w->pci,
                  client_to_string(w->seen));
}

/* Schedule a metadata update when the packets say something the metadata does not. */
static void gw_want_write(struct gw *w) {
        int t;

        if (w->seen == CLIENT_UNKNOWN || w->seen == w->known || w->write_timer > 0)
                return;
        t = timer_after(0, gw_write, w);
        if (t > 0)
                w->write_timer = t;
}

static void gw_reopen(void *opaque);

static void gw_schedule_reopen(struct gw *w, int err) {
        gw_close(w);
        if (w->tries++ >= REOPEN_TRIES) {
                log_debug("domain=%s nic=%s tap=%s DHCP client watch given up: %s", virtdom->name(w->dom), w->pci,
                          w->tap, strerror(-err));
                gw_free(w);
                return;
        }
        int r = timer_after(REOPEN_MS, gw_reopen, w);
        if (r > 0)
                w->open_timer = r;
        else
                gw_free(w);
}

static void gw_readable(int fd, void *opaque) {
        struct gw *w = opaque;
        struct dhcp_seen s;
        int r = 0;

        (void) fd;
        /* At most READ_BURST frames per call: the guest sends these frames, and one flooding DHCP must
         * not hold the event loop (the socket stays readable, the loop calls again after the others). */
        for (unsigned burst = 0; burst < READ_BURST && (r = virtdom->port_read(w->fd, &s)) == 0; burst++) {
                enum client_src src = SRC_NONE;
                enum guest_client c;

                if (s.to_guest)
                        continue;
                c = fingerprint_classify(&s, &src);
                log_debug("domain=%s nic=%s tap=%s DHCP type=%u from %s: client=%s", virtdom->name(w->dom), w->pci,
                          w->tap, s.msgtype, s.chaddr, client_to_string(c));
                if (c == CLIENT_UNKNOWN)
                        continue;
                w->seen = c;
                w->seen_src = src;
                gw_want_write(w);
        }
        if (r < 0 && r != -EAGAIN)
                gw_schedule_reopen(w, r);       /* e.g. ENETDOWN: the tap went away */
}

static int gw_open(struct gw *w) {
        int r;

        if (!w->pod->alive)
                return -ENOTCONN;
        r = virtdom->port_open_client(w->pod->ns_fd, w->tap, &w->fd);
        if (r < 0)
                return r;
        r = fd_watch(w->fd, gw_readable, w);
        if (r < 0) {
                gw_close(w);
                return r;
        }
        w->watch = r;
        w->tries = 0;
        return 0;
}

static void gw_reopen(void *opaque) {
        struct gw *w = opaque;
        int r;

        w->open_timer = 0;
        r = gw_open(w);
        if (r == -ENOTCONN)
                gw_free(w);
        else if (r < 0)
                gw_schedule_reopen(w, r);
}

static struct gw *gw_find(const struct pod *p, const char *uuid, const char *pci) {
        for (struct gw *w = watches; w; w = w->next)
                if (w->pod == p && streq(w->uuid, uuid) && streq(w->pci, pci))
                        return w;
        return NULL;
}

void guestwatch_follow(struct pod *p, virDomainPtr dom, const char *pci, const char *tap, const struct meta_nic *had) {
        char uuid[VIR_UUID_STRING_BUFLEN];
        struct gw *w;
        int r;

        if (!pci || !*pci || !tap || !*tap || strlen(tap) >= IFNAMSIZ || virtdom->uuid(dom, uuid) < 0)
                return;
        w = gw_find(p, uuid, pci);
        if (w && !streq(w->tap, tap)) {
                gw_free(w);                       /* the NIC moved to another tap */
                w = NULL;
        }
        if (w) {
                /* The metadata may have been rewritten from an older snapshot (a first sight of another
                 * NIC), or the client seen before the entry existed: say it again. */
                w->known = had ? had->client : CLIENT_UNKNOWN;
                gw_want_write(w);
                return;
        }
        w = calloc(1, sizeof(*w));
        if (!w)
                return;
        w->fd = -1;
        w->pod = pod_ref(p);
        w->dom = virtdom->ref(dom);
        memcpy(w->uuid, uuid, sizeof(uuid));
        snprintf(w->pci, sizeof(w->pci), "%s", pci);
        snprintf(w->tap, sizeof(w->tap), "%s", tap);
        w->known = had ? had->client : CLIENT_UNKNOWN;
        w->seen = CLIENT_UNKNOWN;
        w->next = watches;
        watches = w;
        r = gw_open(w);
        if (r < 0) {
                log_debug("domain=%s nic=%s cannot watch the DHCP client on tap '%s' yet: %s", virtdom->name(dom),
                          pci, tap, strerror(-r));
                gw_schedule_reopen(w, r);
                return;
        }
        log_debug("domain=%s nic=%s tap=%s watching the guest's DHCP client (known: %s)", virtdom->name(dom), pci,
                  tap, client_to_string(w->known));
}

void guestwatch_domain_gone(struct pod *p, virDomainPtr dom) {
        char uuid[VIR_UUID_STRING_BUFLEN];

        if (virtdom->uuid(dom, uuid) < 0)
                return;
        for (struct gw *w = watches, *next; w; w = next) {
                next = w->next;
                if (w->pod == p && streq(w->uuid, uuid))
                        gw_free(w);
        }
}

void guestwatch_pod_lost(struct pod *p) {
        for (struct gw *w = watches, *next; w; w = next) {
                next = w->next;
                if (w->pod == p)
                        gw_free(w);
        }
}

void guestwatch_shutdown(void) {
        while (watches)
                gw_free(watches);
}

unsigned guestwatch_active(void) {
        unsigned n = 0;

        for (const struct gw *w = watches; w; w = w->next)
                n += w->fd >= 0;
        return n;
}
