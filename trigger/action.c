/* SPDX-License-Identifier: MIT */
/* NIC actions: every wait is a timer or a watched fd; nothing blocks the loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libvirt/virterror.h>

#include "common/log.h"
#include "common/util.h"
#include "trigger/action.h"
#include "trigger/dhcpwatch.h"
#include "trigger/loop.h"
#include "trigger/metrics.h"
#include "trigger/options.h"
#include "trigger/pending.h"
#include "trigger/virtdom.h"

#define DETACH_POLL_MS 250
#define ATTACH_RETRIES 3
#define ATTACH_RETRY_MS 500
#define ORPHAN_TIMEOUT_MS 60000
#define REPLUG_RETRIES 2

enum phase {
        PH_START,
        PH_QUEUED,                   /* re-attach waiting for another hot-plug on the same domain */
        PH_LINK_DOWN,
        PH_DETACHING,
        PH_ATTACHING,
        PH_VERIFY,
        PH_DONE,
};

struct act {
        struct act *next;
        struct pod *pod;
        virDomainPtr dom;
        char uuid[VIR_UUID_STRING_BUFLEN];
        char name[256];
        char pci[16], alias[64], tap[IFNAMSIZ];
        char mac_new[18];            /* what the NIC gets on re-attach: the record's MAC */
        char mac_expect[18];         /* the MAC the guest's DHCP comes from */
        char recname[600];
        struct record rec;
        enum action kind, first_kind;
        enum phase phase;
        bool migrated, requested, removed;
        int64_t t_event, t_phase;
        int timer, poll_timer;
        int dhcp_fd, dhcp_watch;
        unsigned attach_tries;
        timer_fn parked;             /* the libvirt step waiting for the connection to come back */
        int orphan_timer;            /* connection lost: give up if it does not come back */
        bool adopted;                /* resumed on a new connection: re-check before attaching */
        unsigned replugs;            /* the guest ejected the re-plugged NIC: plugged again */
        int check_timer;
        char *iface_xml;             /* the live <interface> when the action started (link forced up) */
};

static struct act *acts;

#define act_log(a, level, fmt, ...)                                                           \
        log_msg(level, "domain=%s nic=%s mac=%s record=%s " fmt " t_ms=%lld", (a)->name, (a)->pci, \
                (a)->mac_expect, (a)->recname, ##__VA_ARGS__, (long long) (now_ms() - (a)->t_event))

unsigned actions_active(void) {
        unsigned n = 0;

        for (struct act *a = acts; a; a = a->next)
                n++;
        return n;
}

static void act_free(struct act *a) {
        for (struct act **pa = &acts; *pa; pa = &(*pa)->next)
                if (*pa == a) {
                        *pa = a->next;
                        break;
                }
        timer_cancel(&a->timer);
        timer_cancel(&a->poll_timer);
        timer_cancel(&a->orphan_timer);
        timer_cancel(&a->check_timer);
        if (a->dhcp_watch > 0)
                virEventRemoveHandle(a->dhcp_watch);
        if (a->dhcp_fd >= 0)
                close(a->dhcp_fd);
        free(a->iface_xml);
        if (a->dom)
                virDomainFree(a->dom);
        pod_unref(a->pod);
        free(a);
}

static bool rec_has_ipv4(const struct record *r, const char *ip) {
        bool any = false;

        for (size_t i = 0; i < r->n_ips; i++) {
                if (r->ips[i].family != AF_INET)
                        continue;
                any = true;
                if (ip && streq(r->ips[i].address, ip))
                        return true;
        }
        return !any;     /* no IPv4 recorded: any ACK will do */
}

static const char *rec_ipv4(const struct record *r) {
        for (size_t i = 0; i < r->n_ips; i++)
                if (r->ips[i].family == AF_INET)
                        return r->ips[i].address;
        return "";
}

static void hotplug_next(const struct act *done);

static void finish(struct act *a, enum action_result result, const char *note) {
        int64_t t = now_ms() - a->t_event;
        int r;

        a->phase = PH_DONE;
        if (a->kind != ACTION_NONE)
                relinkd_metrics.actions[a->kind][result]++;
        switch (result) {
        case RESULT_VERIFIED:
                if (a->migrated)
                        histogram_observe(&relinkd_metrics.renewal, (double) t / 1000.0);
                /* A request without an ACK: the guest did its part, the pod's DHCP server did not. */
                act_log(a, note && streq(note, "request-seen-no-ack") ? LOG_LEVEL_WARN : LOG_LEVEL_INFO,
                        "verified kind=%s%s%s renewal_ms=%lld", action_to_string(a->kind),
                        note ? " note=" : "", note ? note : "", (long long) t);
                if (!relinkd_cfg->dry_run) {
                        struct nic_identity id;

                        nic_identity_from_record(&a->rec, &id);
                        snprintf(id.mac, sizeof(id.mac), "%s", a->mac_expect);
                        r = virtdom_meta_put_nic(a->dom, a->pci, &id);
                        if (r < 0)
                                act_log(a, LOG_LEVEL_WARN, "cannot update relink metadata: %s",
                                        virt_strerror(r));
                }
                break;
        case RESULT_FAILED:
                act_log(a, LOG_LEVEL_ERROR, "FAILED kind=%s first=%s reason=\"%s\": the guest did not take the "
                        "pod's network; it needs attention", action_to_string(a->kind),
                        action_to_string(a->first_kind), note ? note : "");
                break;
        case RESULT_ABORTED:
                act_log(a, LOG_LEVEL_WARN, "aborted kind=%s reason=\"%s\"", action_to_string(a->kind),
                        note ? note : "");
                break;
        case RESULT_ESCALATED:
        case _RESULT_MAX:
                break;
        }
        metrics_flush();
        hotplug_next(a);
        act_free(a);
}

static void run_kind(struct act *a);

/* Not verified, or an action step failed: escalate or give up. */
static void escalate(struct act *a, const char *why) {
        enum action next = relinkd_cfg->no_escalate ? ACTION_NONE : action_escalate(a->kind);

        if (next == ACTION_NONE) {
                finish(a, RESULT_FAILED, why);
                return;
        }
        relinkd_metrics.actions[a->kind][RESULT_ESCALATED]++;
        metrics_flush();
        act_log(a, LOG_LEVEL_WARN, "escalate from=%s to=%s reason=\"%s\"", action_to_string(a->kind),
                action_to_string(next), why);
        a->kind = next;
        run_kind(a);
}

static void drain_dhcp(struct act *a) {
        struct dhcp_seen s;

        if (a->dhcp_fd < 0)
                return;
        while (dhcpwatch_read(a->dhcp_fd, &s) == 0)
                ;
}

static void verify_timeout(void *opaque) {
        struct act *a = opaque;
        char why[128];

        a->timer = 0;
        if (a->requested) {
                finish(a, RESULT_VERIFIED, "request-seen-no-ack");
                return;
        }
        snprintf(why, sizeof(why), "no DHCP from the guest within %u ms",
                 a->kind == ACTION_FLAP ? relinkd_cfg->verify_flap_ms : relinkd_cfg->verify_reattach_ms);
        escalate(a, why);
}

static void start_verify(struct act *a, unsigned window_ms) {
        int r;

        if (a->dhcp_fd < 0) {
                finish(a, RESULT_VERIFIED, "unverified-no-dhcp-watch");
                return;
        }
        drain_dhcp(a);
        a->requested = false;
        a->phase = PH_VERIFY;
        a->t_phase = now_ms();
        r = timer_after(window_ms, verify_timeout, a);
        if (r < 0) {
                finish(a, RESULT_ABORTED, "cannot add a timer");
                return;
        }
        a->timer = r;
}

static void on_dhcp(int watch, int fd, int events, void *opaque) {
        struct act *a = opaque;
        struct dhcp_seen s;
        int r;

        while ((r = dhcpwatch_read(fd, &s)) == 0) {
                if (a->phase != PH_VERIFY || strcasecmp(s.chaddr, a->mac_expect) != 0)
                        continue;
                switch (s.msgtype) {
                case DHCP_DISCOVER:
                case DHCP_REQUEST:
                        if (!a->requested)
                                act_log(a, LOG_LEVEL_INFO, "dhcp-%s from guest requested=%s",
                                        s.msgtype == DHCP_DISCOVER ? "discover" : "request",
                                        *s.requested ? s.requested : "-");
                        a->requested = true;
                        break;
                case DHCP_ACK:
                        if (!rec_has_ipv4(&a->rec, s.yiaddr)) {
                                act_log(a, LOG_LEVEL_WARN, "dhcp-ack for %s, expected %s: still waiting", s.yiaddr,
                                        rec_ipv4(&a->rec));
                                break;
                        }
                        act_log(a, LOG_LEVEL_DEBUG, "dhcp-ack ip=%s", s.yiaddr);
                        timer_cancel(&a->timer);
                        finish(a, RESULT_VERIFIED, NULL);
                        return;
                case DHCP_NAK:
                        act_log(a, LOG_LEVEL_INFO, "dhcp-nak to guest (it asked for its old lease)");
                        break;
                default:
                        break;
                }
        }
        if (r < 0 && r != -EAGAIN) {
                act_log(a, LOG_LEVEL_WARN, "dhcp watch failed: %s; verification disabled", strerror(-r));
                virEventRemoveHandle(a->dhcp_watch);
                a->dhcp_watch = 0;
                close(a->dhcp_fd);
                a->dhcp_fd = -1;
        }
}

/* The live <interface> of this NIC, into a->iface_xml (link forced up); also refreshes alias/MAC. */
static int load_iface(struct act *a) {
        struct dom_nic *nics = NULL;
        size_t n = 0;
        char *up = NULL;
        int r, i;

        r = virtdom_nics(a->dom, &nics, &n);
        if (r < 0)
                return r;
        i = virtdom_nic_find(nics, n, a->pci, NULL);
        if (i < 0) {
                dom_nics_free(nics, n);
                return -ENOENT;
        }
        r = ifxml_set_link(nics[i].xml, true, &up);
        if (r == 0) {
                free(a->iface_xml);
                a->iface_xml = up;
                snprintf(a->alias, sizeof(a->alias), "%s", nics[i].alias);
                snprintf(a->mac_expect, sizeof(a->mac_expect), "%s", nics[i].mac);
        }
        dom_nics_free(nics, n);
        return r;
}

/* A step that needs libvirt runs only on a live connection; otherwise it waits for action_adopt(). */
static bool parked(struct act *a, timer_fn step) {
        if (a->pod->alive)
                return false;
        a->parked = step;
        act_log(a, LOG_LEVEL_WARN, "connection lost: step waits for the daemon to come back");
        return true;
}

static void run_kind_step(void *opaque);

/* A libvirt call failed: if the connection died under it, wait for a reconnect instead of escalating. */
static bool lost(struct act *a, timer_fn step) {
        if (virConnectIsAlive(a->pod->vc) == 1)
                return false;
        a->parked = step;
        act_log(a, LOG_LEVEL_WARN, "connection lost during a libvirt call: step waits for the daemon to come back");
        return true;
}

/* load_iface() (or what it fed) failed at the start of a kind: wait for a reconnect or give up. */
static void read_iface_failed(struct act *a, int r) {
        char why[512];

        snprintf(why, sizeof(why), "cannot read the live interface: %s", virt_strerror(r));
        if (r == -EIO && lost(a, run_kind_step))
                return;
        finish(a, RESULT_FAILED, why);
}

/* ---- flap ---- */

static void flap_up(void *opaque) {
        struct act *a = opaque;

        a->timer = 0;
        if (parked(a, flap_up))
                return;
        if (virDomainUpdateDeviceFlags(a->dom, a->iface_xml, VIR_DOMAIN_AFFECT_LIVE) < 0) {
                char why[512];

                snprintf(why, sizeof(why), "link up failed: %s", virt_error());
                if (lost(a, flap_up))
                        return;
                escalate(a, why);
                return;
        }
        act_log(a, LOG_LEVEL_INFO, "link-up held_ms=%lld", (long long) (now_ms() - a->t_phase));
        start_verify(a, relinkd_cfg->verify_flap_ms);
}

static void flap_down(struct act *a) {
        _cleanup_free_ char *down = NULL;
        char why[512];
        int r;

        r = load_iface(a);
        if (r == 0)
                r = ifxml_set_link(a->iface_xml, false, &down);
        if (r < 0) {
                read_iface_failed(a, r);
                return;
        }
        if (virDomainUpdateDeviceFlags(a->dom, down, VIR_DOMAIN_AFFECT_LIVE) < 0) {
                snprintf(why, sizeof(why), "link down failed: %s", virt_error());
                if (lost(a, run_kind_step))
                        return;
                escalate(a, why);
                return;
        }
        a->phase = PH_LINK_DOWN;
        a->t_phase = now_ms();
        act_log(a, LOG_LEVEL_INFO, "link-down hold_ms=%u", relinkd_cfg->hold_ms);
        r = timer_after(relinkd_cfg->hold_ms, flap_up, a);
        if (r < 0) {
                flap_up(a);   /* never leave the link down */
                return;
        }
        a->timer = r;
}

/* ---- re-attach ---- */

static bool nic_gone(struct act *a);

/* The element to attach: the live one with the record's MAC, link up, no auto alias. */
static int attach_xml(const struct act *a, char **ret) {
        _cleanup_free_ char *with_mac = NULL;
        int r;

        r = ifxml_set_mac(a->iface_xml, a->mac_new, &with_mac);
        if (r < 0)
                return r;
        return ifxml_strip_alias(with_mac, ret);
}

/* Survive a relinkd crash between detach and attach: what to attach goes into the domain first. */
static void record_pending(struct act *a) {
        _cleanup_free_ char *xml = NULL;
        int r;

        r = attach_xml(a, &xml);
        if (r == 0)
                r = pending_set(a->dom, a->pci, xml);
        if (r < 0)
                act_log(a, LOG_LEVEL_WARN, "cannot record the pending re-attach: %s", virt_strerror(r));
}

static void attach(void *opaque) {
        struct act *a = opaque;
        _cleanup_free_ char *xml = NULL;
        char why[512];
        int r;

        a->timer = 0;
        timer_cancel(&a->poll_timer);
        a->phase = PH_ATTACHING;
        if (parked(a, attach))
                return;
        if (a->adopted && !nic_gone(a)) {
                /* The attach may have gone through before the connection dropped. */
                a->adopted = false;
                if (load_iface(a) == 0 && strcasecmp(a->mac_expect, a->mac_new) == 0) {
                        act_log(a, LOG_LEVEL_INFO, "already re-attached");
                        start_verify(a, relinkd_cfg->verify_reattach_ms);
                        return;
                }
                finish(a, RESULT_FAILED, "the NIC came back with another MAC while the connection was lost");
                return;
        }
        r = attach_xml(a, &xml);
        if (r < 0) {
                snprintf(why, sizeof(why), "cannot build the interface XML: %s", strerror(-r));
                finish(a, RESULT_FAILED, why);
                return;
        }
        if (virDomainAttachDeviceFlags(a->dom, xml, VIR_DOMAIN_AFFECT_LIVE) < 0) {
                snprintf(why, sizeof(why), "attach failed: %s", virt_error());
                if (lost(a, attach))
                        return;
                if (++a->attach_tries < ATTACH_RETRIES && (r = timer_after(ATTACH_RETRY_MS, attach, a)) > 0) {
                        act_log(a, LOG_LEVEL_WARN, "%s; retrying", why);
                        a->timer = r;
                        return;
                }
                finish(a, RESULT_FAILED, why);
                return;
        }
        snprintf(a->mac_expect, sizeof(a->mac_expect), "%s", a->mac_new);
        act_log(a, LOG_LEVEL_INFO, "attached detach_ms=%lld", (long long) (now_ms() - a->t_phase));
        r = pending_clear(a->dom, a->pci);
        if (r < 0)
                act_log(a, LOG_LEVEL_WARN, "cannot clear the pending re-attach: %s", virt_strerror(r));
        start_verify(a, relinkd_cfg->verify_reattach_ms);
        if (a->phase == PH_VERIFY)
                hotplug_next(a);
}

static void schedule_attach(struct act *a) {
        int r;

        if (a->removed)
                return;
        a->removed = true;
        timer_cancel(&a->timer);
        timer_cancel(&a->poll_timer);
        r = timer_after(0, attach, a);
        if (r < 0) {
                finish(a, RESULT_FAILED, "cannot add a timer");
                return;
        }
        a->timer = r;
}

static bool nic_gone(struct act *a) {
        struct dom_nic *nics = NULL;
        size_t n = 0;
        bool gone;

        if (virtdom_nics(a->dom, &nics, &n) < 0)
                return false;
        gone = virtdom_nic_find(nics, n, a->pci, NULL) < 0;
        dom_nics_free(nics, n);
        return gone;
}

static void detach_poll(void *opaque) {
        struct act *a = opaque;
        int r;

        a->poll_timer = 0;
        if (!a->pod->alive)
                return;   /* action_adopt() polls again */
        if (nic_gone(a)) {
                act_log(a, LOG_LEVEL_INFO, "device gone from the live XML (no DEVICE_REMOVED yet)");
                schedule_attach(a);
                return;
        }
        r = timer_after(DETACH_POLL_MS, detach_poll, a);
        if (r > 0)
                a->poll_timer = r;
}

static void detach_timeout(void *opaque) {
        struct act *a = opaque;
        char why[128];

        a->timer = 0;
        if (parked(a, detach_timeout))
                return;
        if (nic_gone(a)) {
                schedule_attach(a);
                return;
        }
        snprintf(why, sizeof(why), "guest did not release the NIC within %u ms", relinkd_cfg->detach_timeout_ms);
        finish(a, RESULT_FAILED, why);
}

/* Another NIC of the same domain is being unplugged or plugged. Guests handle ACPI hot-plug events
 * one slot scan at a time: two unplugs in flight and a re-plug into one of the slots made the guest
 * eject the re-plugged NIC again (seen with two NICs re-attached at once). One hot-plug per domain. */
static bool hotplug_busy(const struct act *a) {
        for (const struct act *b = acts; b; b = b->next)
                if (b != a && b->pod->vc == a->pod->vc && streq(b->uuid, a->uuid) &&
                    (b->phase == PH_DETACHING || b->phase == PH_ATTACHING))
                        return true;
        return false;
}

static void hotplug_next(const struct act *done) {
        for (struct act *b = acts; b; b = b->next) {
                int r;

                if (b == done || b->phase != PH_QUEUED || b->pod->vc != done->pod->vc || !streq(b->uuid, done->uuid))
                        continue;
                b->phase = PH_START;
                r = timer_after(0, run_kind_step, b);
                if (r > 0)
                        b->timer = r;
                return;
        }
}

static void detach(struct act *a) {
        char why[512];
        int r;

        if (hotplug_busy(a)) {
                a->phase = PH_QUEUED;
                act_log(a, LOG_LEVEL_INFO, "re-attach queued behind another hot-plug of this domain");
                return;
        }
        r = load_iface(a);
        if (r == -ENOENT && a->adopted && a->iface_xml) {
                /* The detach went through while the connection was down. */
                act_log(a, LOG_LEVEL_INFO, "NIC already detached: attaching");
                a->adopted = false;
                a->removed = false;
                a->t_phase = now_ms();
                a->phase = PH_DETACHING;
                schedule_attach(a);
                return;
        }
        if (r < 0) {
                read_iface_failed(a, r);
                return;
        }
        a->removed = false;
        a->attach_tries = 0;
        record_pending(a);
        a->t_phase = now_ms();
        /* DetachDeviceAlias only asks for the unplug and returns; DetachDeviceFlags would block the
         * loop inside libvirtd's own wait for the guest (up to 5 s). DEVICE_REMOVED says when. */
        if ((*a->alias ? virDomainDetachDeviceAlias(a->dom, a->alias, VIR_DOMAIN_AFFECT_LIVE)
                       : virDomainDetachDeviceFlags(a->dom, a->iface_xml, VIR_DOMAIN_AFFECT_LIVE)) < 0) {
                snprintf(why, sizeof(why), "detach failed: %s", virt_error());
                if (lost(a, run_kind_step))
                        return;
                finish(a, RESULT_FAILED, why);
                return;
        }
        a->phase = PH_DETACHING;
        act_log(a, LOG_LEVEL_INFO, "detach alias=%s new_mac=%s", a->alias, a->mac_new);
        r = timer_after(relinkd_cfg->detach_timeout_ms, detach_timeout, a);
        if (r > 0)
                a->timer = r;
        r = timer_after(DETACH_POLL_MS, detach_poll, a);
        if (r > 0)
                a->poll_timer = r;
}

static void run_kind(struct act *a) {
        if (parked(a, run_kind_step))
                return;
        switch (a->kind) {
        case ACTION_FLAP:
                flap_down(a);
                return;
        case ACTION_REATTACH:
                detach(a);
                return;
        case ACTION_NONE:
                finish(a, RESULT_VERIFIED, "nothing to do");
                return;
        }
}

static void run_kind_step(void *opaque) {
        struct act *a = opaque;

        a->timer = 0;
        run_kind(a);
}

static struct act *act_find(const struct pod *p, const char *uuid, const char *pci) {
        for (struct act *a = acts; a; a = a->next)
                if (a->pod->vc == p->vc && streq(a->uuid, uuid) && (!pci || streq(a->pci, pci)))
                        return a;
        return NULL;
}

bool action_busy(const struct pod *p, virDomainPtr dom, const char *pci) {
        char uuid[VIR_UUID_STRING_BUFLEN];

        return virDomainGetUUIDString(dom, uuid) == 0 && act_find(p, uuid, pci);
}

int action_start(const struct action_req *q) {
        char uuid[VIR_UUID_STRING_BUFLEN];
        struct act *a;
        int r;

        if (virDomainGetUUIDString(q->dom, uuid) < 0)
                return -EIO;
        if (act_find(q->pod, uuid, q->nic->pci))
                return -EBUSY;
        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->dhcp_fd = -1;
        a->pod = pod_ref(q->pod);
        virDomainRef(q->dom);
        a->dom = q->dom;
        memcpy(a->uuid, uuid, sizeof(uuid));
        snprintf(a->name, sizeof(a->name), "%s", virDomainGetName(q->dom));
        snprintf(a->pci, sizeof(a->pci), "%s", q->nic->pci);
        snprintf(a->alias, sizeof(a->alias), "%s", q->nic->alias);
        snprintf(a->tap, sizeof(a->tap), "%s", q->nic->target);
        snprintf(a->mac_expect, sizeof(a->mac_expect), "%s", q->nic->mac);
        snprintf(a->mac_new, sizeof(a->mac_new), "%s",
                 q->mac_new && *q->mac_new ? q->mac_new : *q->rec->mac ? q->rec->mac : q->nic->mac);
        for (char *c = a->mac_new; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                        *c = (char) (*c - 'A' + 'a');
        snprintf(a->recname, sizeof(a->recname), "%s/%s@%s", q->rec->network, q->rec->container_id,
                 q->rec->ifname);
        a->rec = *q->rec;
        a->kind = a->first_kind = q->kind;
        a->migrated = q->migrated;
        a->t_event = q->t_event;
        a->next = acts;
        acts = a;

        /* Watch before acting, so the guest's first DHCP packet cannot be missed. */
        r = dhcpwatch_open(a->pod->ns_fd, a->tap, &a->dhcp_fd);
        if (r < 0) {
                act_log(a, LOG_LEVEL_WARN, "cannot watch DHCP on %s: %s; acting unverified", a->tap, strerror(-r));
                a->dhcp_fd = -1;
        } else {
                a->dhcp_watch = virEventAddHandle(a->dhcp_fd, VIR_EVENT_HANDLE_READABLE, on_dhcp, a, NULL);
                if (a->dhcp_watch < 0) {
                        close(a->dhcp_fd);
                        a->dhcp_fd = -1;
                        a->dhcp_watch = 0;
                }
        }
        if (q->resume_xml) {
                /* relinkd stopped between detach and attach: attach what the domain says is pending. */
                a->iface_xml = strdup(q->resume_xml);
                if (!a->iface_xml) {
                        act_free(a);
                        return -ENOMEM;
                }
                act_log(a, LOG_LEVEL_INFO, "resuming a pending re-attach (the NIC is detached)");
                a->phase = PH_DETACHING;
                a->t_phase = now_ms();
                schedule_attach(a);
                return 0;
        }
        run_kind(a);
        return 0;
}

/* A device of the domain went away while we verify a re-attach: was it the NIC we plugged? */
static void replug_check(void *opaque) {
        struct act *a = opaque;
        int r;

        a->check_timer = 0;
        if (a->phase != PH_VERIFY || !a->pod->alive || !nic_gone(a))
                return;
        if (a->replugs++ >= REPLUG_RETRIES) {
                timer_cancel(&a->timer);
                finish(a, RESULT_FAILED, "the guest keeps ejecting the re-plugged NIC");
                return;
        }
        act_log(a, LOG_LEVEL_WARN, "the guest ejected the re-plugged NIC: plugging it again (%u/%u)", a->replugs,
                REPLUG_RETRIES);
        timer_cancel(&a->timer);
        a->removed = false;
        a->attach_tries = 0;
        a->t_phase = now_ms();
        if (hotplug_busy(a)) {
                /* Let the other hot-plug finish first; poll until then. */
                r = timer_after(DETACH_POLL_MS, replug_check, a);
                a->replugs--;
                if (r > 0)
                        a->check_timer = r;
                return;
        }
        record_pending(a);
        a->phase = PH_DETACHING;
        schedule_attach(a);
}

/* From the DEVICE_REMOVED callback: only schedules. */
void action_device_removed(struct pod *p, virDomainPtr dom, const char *alias) {
        char uuid[VIR_UUID_STRING_BUFLEN];

        if (virDomainGetUUIDString(dom, uuid) < 0)
                return;
        for (struct act *a = acts; a; a = a->next) {
                if (a->pod->vc != p->vc || !streq(a->uuid, uuid))
                        continue;
                if (a->phase == PH_DETACHING && streq(a->alias, alias)) {
                        act_log(a, LOG_LEVEL_INFO, "device-removed alias=%s removed_ms=%lld", alias,
                                (long long) (now_ms() - a->t_phase));
                        schedule_attach(a);
                        return;
                }
                if (a->phase == PH_VERIFY && a->kind == ACTION_REATTACH && a->check_timer == 0) {
                        int r = timer_after(0, replug_check, a);
                        if (r > 0)
                                a->check_timer = r;
                }
        }
}

static void abort_later(void *opaque) {
        struct act *a = opaque;

        a->timer = 0;
        finish(a, RESULT_ABORTED, a->phase == PH_DETACHING ? "domain stopped while detaching" : "domain stopped");
}

void action_domain_gone(struct pod *p, virDomainPtr dom) {
        char uuid[VIR_UUID_STRING_BUFLEN];

        if (virDomainGetUUIDString(dom, uuid) < 0)
                return;
        for (struct act *a = acts; a; a = a->next)
                if (a->pod->vc == p->vc && streq(a->uuid, uuid)) {
                        int r;

                        timer_cancel(&a->timer);
                        timer_cancel(&a->poll_timer);
                        r = timer_after(0, abort_later, a);
                        if (r > 0)
                                a->timer = r;
                }
}

static void orphan_timeout(void *opaque) {
        struct act *a = opaque;

        a->orphan_timer = 0;
        finish(a, RESULT_FAILED, a->phase == PH_DETACHING || a->phase == PH_ATTACHING
                                         ? "connection lost while the NIC was detached and not back in time"
                                         : a->phase == PH_LINK_DOWN ? "connection lost while the link was down"
                                                                    : "connection lost");
}

/* The connection closed: verification (a packet socket) goes on; libvirt steps park until a
 * reconnect to the same pod adopts the action, or fail after ORPHAN_TIMEOUT_MS. */
void action_pod_lost(struct pod *p) {
        for (struct act *a = acts; a; a = a->next) {
                int r;

                if (a->pod != p || a->orphan_timer > 0)
                        continue;
                timer_cancel(&a->poll_timer);
                act_log(a, a->phase == PH_VERIFY ? LOG_LEVEL_INFO : LOG_LEVEL_WARN,
                        "connection lost mid-%s (phase %d): waiting up to %d ms for it to come back",
                        action_to_string(a->kind), (int) a->phase, ORPHAN_TIMEOUT_MS);
                r = timer_after(ORPHAN_TIMEOUT_MS, orphan_timeout, a);
                if (r > 0)
                        a->orphan_timer = r;
        }
}

void action_adopt(struct pod *p, virDomainPtr dom) {
        char uuid[VIR_UUID_STRING_BUFLEN];

        if (virDomainGetUUIDString(dom, uuid) < 0)
                return;
        for (struct act *a = acts; a; a = a->next) {
                timer_fn step;
                int r;

                if (a->pod->alive || a->pod->ns_dev != p->ns_dev || a->pod->ns_ino != p->ns_ino ||
                    !streq(a->uuid, uuid))
                        continue;
                pod_unref(a->pod);
                a->pod = pod_ref(p);
                virDomainFree(a->dom);
                virDomainRef(dom);
                a->dom = dom;
                a->adopted = true;
                timer_cancel(&a->orphan_timer);
                step = a->parked;
                a->parked = NULL;
                act_log(a, LOG_LEVEL_INFO, "connection back: resuming %s", action_to_string(a->kind));
                if (step) {
                        timer_cancel(&a->timer);
                        r = timer_after(0, step, a);
                        if (r > 0)
                                a->timer = r;
                } else if (a->phase == PH_DETACHING) {
                        /* DEVICE_REMOVED may have been lost with the connection. */
                        r = timer_after(0, detach_poll, a);
                        if (r > 0)
                                a->poll_timer = r;
                }
        }
}

void actions_shutdown(void) {
        while (acts) {
                struct act *a = acts;

                switch (a->phase) {
                case PH_LINK_DOWN:
                        if (virDomainUpdateDeviceFlags(a->dom, a->iface_xml, VIR_DOMAIN_AFFECT_LIVE) < 0)
                                act_log(a, LOG_LEVEL_ERROR, "shutdown: link up failed: %s", virt_error());
                        else
                                act_log(a, LOG_LEVEL_INFO, "shutdown: link brought up");
                        break;
                case PH_DETACHING:
                case PH_ATTACHING:
                        act_log(a, LOG_LEVEL_ERROR, "shutdown while the NIC is detached: attaching now");
                        timer_cancel(&a->timer);
                        attach(a);      /* frees a, or leaves it verifying/retrying for the next round */
                        continue;
                case PH_START:
                case PH_QUEUED:
                case PH_VERIFY:
                case PH_DONE:
                        break;
                }
                finish(a, RESULT_ABORTED, "shutdown");
        }
}
