/* SPDX-License-Identifier: MIT */
/* NIC actions: every wait is a timer or a watched fd; nothing blocks the loop. The phases and their
 * transitions are drawn in docs/architecture.md ("Actions"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mac.h"
#include "common/log.h"
#include "common/util.h"
#include "trigger/action.h"
#include "trigger/loop.h"
#include "trigger/metrics.h"
#include "trigger/options.h"
#include "trigger/pending.h"
#include "trigger/statusring.h"
#include "trigger/virtdom.h"
#include "trigger/xmlutil.h"

#define DETACH_POLL_MS 250           /* the live XML, while an unplug is young */
#define DETACH_POLL_SLOW_MS 2000     /* … once past the deadline: the wait follows the guest, for ever */
/* Re-asking the unplug. Measured on libvirt 9.0 / QEMU 7.2 (ACPI PCI hot-plug, busybox guest):
 * - a repeated virDomainDetachDeviceAlias (or QMP device_del) while the first is pending is accepted
 *   (no error); the guest ejects the device once;
 * - a guest paused across the request (virsh suspend, 8 s and 30 s) released the NIC 0.6 s after
 *   resuming, without a re-ask: the request waits in QEMU;
 * - a guest that missed the request (asked before its kernel handled ACPI events) never released the
 *   NIC (still there 10 s after boot), and released it 0.9 s after a re-ask: the repeated request
 *   raises the hot-plug event again.
 * So the unplug is re-asked with backoff for as long as the NIC stays. */
#define REASK_FIRST_MS 2000
#define REASK_MAX_MS 30000
#define ATTACH_NEW_TRIES 4           /* the new element; then the one the guest had, then unconnected */
#define ATTACH_RETRY_MS 500
#define ATTACH_RETRY_MAX_MS 30000
#define ORPHAN_TIMEOUT_MS 60000
#define REPLUG_RETRIES 2
#define MAX_RUNGS 3

enum phase {
        PH_START,
        PH_QUEUED,                   /* re-plug waiting for another hot-plug on the same domain */
        PH_LINK_DOWN,
        PH_DETACHING,                /* unplug asked, the guest has not released the NIC */
        PH_ATTACHING,                /* the NIC is gone: plugging one back (retries, fallbacks) */
        PH_VERIFY,
        PH_DONE,
};

static const char *phase_to_string(enum phase p) {
        switch (p) {
        case PH_START:
                return "start";
        case PH_QUEUED:
                return "queued";
        case PH_LINK_DOWN:
                return "link-down";
        case PH_DETACHING:
                return "detaching";
        case PH_ATTACHING:
                return "attaching";
        case PH_VERIFY:
                return "verify";
        case PH_DONE:
                return "done";
        }
        return "?";
}

/* One step of the ladder: how to make the guest renew, and with which MAC on the NIC. */
struct rung {
        enum action kind;            /* ACTION_FLAP or ACTION_REATTACH (re-plug) */
        char mac[18];
};

/* What went back into the slot: the new element, the guest's own, the guest's own on a tap libvirt
 * makes (root daemons), the guest's own on QEMU's user-mode network (any daemon, no privileges). */
enum plug { PLUG_NEW, PLUG_HAD, PLUG_UNCONNECTED, PLUG_USER };
#define PLUG_FALLBACKS 3

static const char *plug_to_string(enum plug p) {
        switch (p) {
        case PLUG_NEW:
                return "new";
        case PLUG_HAD:
                return "had";
        case PLUG_UNCONNECTED:
                return "unconnected";
        case PLUG_USER:
                return "user";
        }
        return "?";
}

struct act {
        struct act *next;
        struct pod *pod;
        virDomainPtr dom;
        char uuid[VIR_UUID_STRING_BUFLEN];
        char name[256];
        char pci[16], alias[64], tap[IFNAMSIZ];
        char recname[600];
        struct record rec;
        enum action first_kind;
        bool decided_flap;           /* the decision was a flap (MAC kept): what verifies is what worked */
        struct rung rungs[MAX_RUNGS];
        unsigned n_rungs, rung;
        enum phase phase;
        char mac_now[18];            /* the MAC of the NIC at the slot: the guest's DHCP comes from it */
        char mac_had[18];            /* … when the action started */
        char *cur_xml;               /* the live <interface> (link forced up), refreshed before each step */
        char *had_xml;               /* the guest's own <interface> when the action started (no alias) */
        char unanswered[2][18];      /* MACs whose DHCP requests got no ACK */
        unsigned n_unanswered;
        char attach_err[256];        /* why the last attach failed */
        char final_why[256];         /* after the next attach: finish FAILED with this */
        enum plug plugged;
        bool migrated, requested, answered, answer_clock, absent, failed_reported, adopted;
        bool fresh;                  /* inside action_start with a just-read live element (nic_fresh) */
        int64_t t_event, t_phase, t_asked;
        int64_t t_verify_end;        /* the rung's window: until then a silent guest is waited for */
        unsigned reask_ms, reasks, attach_tries, replugs;
        int timer, poll_timer, reask_timer, check_timer, orphan_timer;
        int port_fd, port_watch;
        timer_fn parked;             /* the libvirt step waiting for the connection to come back */
        uint64_t status_seq;         /* the decision it carries out in `relinkd status` (0: none) */
};

static struct act *acts;

#define act_log(a, level, fmt, ...)                                                                     \
        log_msg(level, "domain=%s nic=%s mac=%s record=%s " fmt " t_ms=%lld", (a)->name, (a)->pci,         \
                *(a)->mac_now ? (a)->mac_now : (a)->mac_had, (a)->recname, ##__VA_ARGS__,                   \
                (long long) (now_ms() - (a)->t_event))

static enum action act_kind(const struct act *a) {
        return a->rungs[a->rung].kind;
}

void actions_foreach(void (*fn)(const struct action_info *info, void *opaque), void *opaque) {
        for (struct act *a = acts; a; a = a->next)
                fn(&(struct action_info) {
                        .domain = a->name, .uuid = a->uuid, .pod = a->pod->label, .pci = a->pci, .alias = a->alias,
                        .mac = *a->mac_now ? a->mac_now : a->mac_had, .record = a->recname,
                        .kind = action_to_string(act_kind(a)), .phase = phase_to_string(a->phase),
                        .rung = a->rung + 1, .n_rungs = a->n_rungs, .elapsed_ms = now_ms() - a->t_event,
                }, opaque);
}

unsigned actions_active(void) {
        unsigned n = 0;

        for (struct act *a = acts; a; a = a->next)
                n++;
        return n;
}

/* relinkd_nics_missing: NICs of running domains that relinkd unplugged and has not put back. */
static void update_missing(void) {
        unsigned n = 0;

        for (struct act *a = acts; a; a = a->next)
                if (a->absent)
                        n++;
        if (relinkd_metrics.nics_missing == n)
                return;
        relinkd_metrics.nics_missing = n;
        metrics_flush();
}

static void set_absent(struct act *a, bool absent) {
        a->absent = absent;
        update_missing();
}

static void act_free(struct act *a) {
        for (struct act **pa = &acts; *pa; pa = &(*pa)->next)
                if (*pa == a) {
                        *pa = a->next;
                        break;
                }
        timer_cancel(&a->timer);
        timer_cancel(&a->poll_timer);
        timer_cancel(&a->reask_timer);
        timer_cancel(&a->orphan_timer);
        timer_cancel(&a->check_timer);
        fd_unwatch(&a->port_watch);
        if (a->port_fd >= 0)
                virtdom->port_close(a->port_fd);
        free(a->cur_xml);
        free(a->had_xml);
        virtdom->unref(a->dom);
        pod_unref(a->pod);
        free(a);
        update_missing();
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

/* The MAC of a standalone <interface> element, lower case. */
static int iface_mac(const char *iface_xml, char out[18]) {
        _cleanup_free_ char *wrapped = NULL;
        struct dom_nic *n = NULL;
        size_t nn = 0;
        int r;

        if (asprintf(&wrapped, "<domain><devices>%s</devices></domain>", iface_xml) < 0)
                return -ENOMEM;
        r = domxml_nics(wrapped, &n, &nn);
        if (r < 0)
                return r;
        if (nn != 1 || !*n[0].mac)
                r = -EBADMSG;
        else
                memcpy(out, n[0].mac, 18);
        dom_nics_free(n, nn);
        return r;
}

/* What is at the slot now: 1 and its MAC/alias, 0 when absent, or -errno. */
static int slot_nic(struct act *a, char mac[18], char alias[64]) {
        struct dom_nic *nics = NULL;
        size_t n = 0;
        int r, i;

        r = virtdom_nics(a->dom, &nics, &n);
        if (r < 0)
                return r;
        i = virtdom_nic_find(nics, n, a->pci, NULL);
        if (i >= 0) {
                if (mac)
                        memcpy(mac, nics[i].mac, 18);
                if (alias)
                        snprintf(alias, 64, "%s", nics[i].alias);
        }
        dom_nics_free(nics, n);
        return i >= 0;
}

/* "nic_state=present nic_mac=…", "nic_state=absent" or why it is unknown: every final line says it. */
static void nic_state(struct act *a, char *buf, size_t size) {
        char mac[18];
        int r;

        if (!a->pod->alive) {
                snprintf(buf, size, "nic_state=unknown (connection lost)");
                return;
        }
        r = slot_nic(a, mac, NULL);
        if (r < 0)
                snprintf(buf, size, "nic_state=unknown (%s)", virt_strerror(r));
        else if (r == 0)
                snprintf(buf, size, "nic_state=absent");
        else
                snprintf(buf, size, "nic_state=present nic_mac=%s", mac);
}

static void hotplug_next(const struct act *done);

static void count(struct act *a, enum action_result result) {
        relinkd_metrics.actions[act_kind(a)][result]++;
}

/* FAILED as a status: logged and counted once; the action goes on and a later success clears it. */
static void report_failed(struct act *a, const char *why) {
        char st[128];

        nic_state(a, st, sizeof(st));
        act_log(a, LOG_LEVEL_ERROR, "FAILED kind=%s first=%s reason=\"%s\" %s waiting=yes: still waiting for the guest; a "
                "later release or renewal clears this", action_to_string(act_kind(a)),
                action_to_string(a->first_kind), why, st);
        if (!a->failed_reported)
                count(a, RESULT_FAILED);
        a->failed_reported = true;
        metrics_flush();
}

/*
 * The NIC's entry in the domain's relink metadata: the record's network with the NIC's MAC now, and
 * applied=<kind> (metadata.h) while the action is between its last change and its verdict, NULL once
 * verified. Written before verifying, a relinkd killed during the verification finds the action done
 * after its restart and does not do it a second time (a second flap, a flap after the re-plug).
 */
static int meta_mark(struct act *a, const char *applied, enum worked worked) {
        _cleanup_free_ struct meta_nic *nics = NULL;
        struct meta_nic *m = NULL;
        size_t n = 0;
        int r;

        if (relinkd_cfg->dry_run)
                return 0;
        r = virtdom_meta_get(a->dom, &nics, &n);
        if (r < 0 && r != -ENOENT)
                return r;
        for (size_t i = 0; i < n && !m; i++)
                if (streq(nics[i].pci, a->pci))
                        m = &nics[i];
        if (!m) {
                m = metadata_append(&nics, &n);
                if (!m)
                        return -ENOMEM;
                r = strcpy_bounded(m->pci, sizeof(m->pci), a->pci);
                if (r < 0)
                        return r;
        }
        nic_identity_from_record(&a->rec, &m->id);
        snprintf(m->id.mac, sizeof(m->id.mac), "%s", a->mac_now);
        snprintf(m->applied, sizeof(m->applied), "%s", applied ? applied : "");
        if (worked != WORKED_NONE)
                m->worked = worked;
        return virtdom_meta_put(a->dom, nics, n);
}

static void finish(struct act *a, enum action_result result, const char *note) {
        int64_t t = now_ms() - a->t_event;
        enum phase was = a->phase;
        char st[128];
        int r;

        a->phase = PH_DONE;
        if (result == RESULT_ABORTED && note && streq(note, "domain stopped"))
                snprintf(st, sizeof(st), "nic_state=n/a (domain stopped)");
        else
                nic_state(a, st, sizeof(st));
        switch (result) {
        case RESULT_VERIFIED:
                count(a, result);
                if (a->migrated)
                        histogram_observe(&relinkd_metrics.renewal, (double) t / 1000.0);
                if (a->failed_reported) {
                        relinkd_metrics.recovered_late++;
                        act_log(a, LOG_LEVEL_WARN, "recovered-late kind=%s: the earlier FAILED is cleared",
                                action_to_string(act_kind(a)));
                }
                act_log(a, LOG_LEVEL_INFO, "verified kind=%s%s%s renewal_ms=%lld %s", action_to_string(act_kind(a)),
                        note ? " note=" : "", note ? note : "", (long long) t, st);
                /* A flap decided, and the same-MAC re-plug verified: the next migration skips the flap
                 * (trigger/fingerprint.h); a flap that verified keeps the flap. */
                r = meta_mark(a, NULL, !a->decided_flap                         ? WORKED_NONE
                                       : act_kind(a) == ACTION_FLAP              ? WORKED_FLAP
                                       : strcasecmp(a->mac_now, a->mac_had) == 0 ? WORKED_REPLUG
                                                                                 : WORKED_NONE);
                if (r < 0)
                        act_log(a, LOG_LEVEL_WARN, "cannot update relink metadata: %s", virt_strerror(r));
                break;
        case RESULT_FAILED:
                if (!a->failed_reported)
                        count(a, result);
                act_log(a, LOG_LEVEL_ERROR, "FAILED kind=%s first=%s reason=\"%s\" %s: the guest did not take the "
                        "pod's network; it needs attention", action_to_string(act_kind(a)),
                        action_to_string(a->first_kind), note ? note : "", st);
                break;
        case RESULT_ABORTED:
                count(a, result);
                act_log(a, LOG_LEVEL_WARN, "aborted kind=%s phase=%s reason=\"%s\" %s", action_to_string(act_kind(a)),
                        phase_to_string(was), note ? note : "", st);
                break;
        case RESULT_ESCALATED:
        case _RESULT_MAX:
                break;
        }
        statusring_outcome(a->status_seq, act_kind(a), result, note, result == RESULT_VERIFIED ? t : -1);
        metrics_flush();
        hotplug_next(a);
        act_free(a);
}

static void run_rung(struct act *a);
static void run_rung_step(void *opaque);

/* ---- the connection ---- */

/* A step that needs libvirt runs only on a live connection; otherwise it waits for action_adopt(). */
static bool parked(struct act *a, timer_fn step) {
        if (a->pod->alive)
                return false;
        a->parked = step;
        act_log(a, LOG_LEVEL_WARN, "connection lost: step waits for the daemon to come back");
        return true;
}

/* A libvirt call failed: if the connection died under it, wait for a reconnect instead. */
static bool lost(struct act *a, int r, timer_fn step) {
        if (r != -EIO || virtdom->conn_alive(a->dom))
                return false;
        a->parked = step;
        act_log(a, LOG_LEVEL_WARN, "connection lost during a libvirt call: step waits for the daemon to come back");
        return true;
}

static void arm(struct act *a, int *slot, unsigned ms, timer_fn fn) {
        int r = timer_after(ms, fn, a);

        if (r > 0)
                *slot = r;
        else
                act_log(a, LOG_LEVEL_ERROR, "cannot add a timer: %s", strerror(-r));
}

/* ---- verification ---- */

/* Frames read per port callback, and at most discarded before a verification window opens. */
#define PORT_BURST     64
#define PORT_DRAIN_MAX 1024

static void port_drain(struct act *a) {
        struct dhcp_seen s;

        if (a->port_fd < 0)
                return;
        for (unsigned i = 0; i < PORT_DRAIN_MAX && virtdom->port_read(a->port_fd, &s) == 0; i++)
                ;
}

/* This rung did not work: climb to the next one, or report. */
static bool next_rung(struct act *a, const char *why) {
        const struct rung *next;

        if (a->plugged != PLUG_NEW || a->rung + 1 >= a->n_rungs || relinkd_cfg->no_escalate)
                return false;
        next = &a->rungs[a->rung + 1];
        count(a, RESULT_ESCALATED);
        metrics_flush();
        act_log(a, LOG_LEVEL_WARN, "escalate from=%s to=%s mac=%s reason=\"%s\"", action_to_string(act_kind(a)),
                action_to_string(next->kind), next->mac, why);
        a->rung++;
        a->fresh = false;
        run_rung(a);
        return true;
}

static void verify_timeout(void *opaque);

static unsigned verify_window(const struct act *a) {
        return act_kind(a) == ACTION_FLAP ? relinkd_cfg->verify_flap_ms : relinkd_cfg->verify_reattach_ms;
}

/* The window follows what the guest and the server do (docs/relinkd.md, "Verification"):
 *   silent guest        → the whole window (a re-plugged NIC takes the guest's stack a while);
 *   guest DISCOVERed    → the server has --answer-ms to answer that MAC at all (a REQUEST for a
 *                         remembered lease does not start this clock: a server may ignore it);
 *   server answered     → the whole window again, for the exchange to end in an ACK. */
static void verify_rearm(struct act *a, int64_t at) {
        int64_t now = now_ms();

        timer_cancel(&a->timer);
        arm(a, &a->timer, at > now ? (unsigned) (at - now) : 0, verify_timeout);
}

static void verify_timeout(void *opaque) {
        struct act *a = opaque;
        char why[200];

        a->timer = 0;
        if (a->requested && !a->answered) {
                /* Asked and nobody answered: the NIC's MAC is not the one the target serves. */
                snprintf(why, sizeof(why), "DHCP unanswered for MAC %s", a->mac_now);
                if (a->n_unanswered < ARRAY_SIZE(a->unanswered) &&
                    (a->n_unanswered == 0 || !streq(a->unanswered[a->n_unanswered - 1], a->mac_now)))
                        memcpy(a->unanswered[a->n_unanswered++], a->mac_now, 18);
        } else if (a->requested)
                snprintf(why, sizeof(why), "the server answers MAC %s but acknowledged no lease on %s within %u ms",
                         a->mac_now, rec_ipv4(&a->rec), verify_window(a));
        else
                snprintf(why, sizeof(why), "no DHCP from the guest within %u ms", verify_window(a));
        if (next_rung(a, why))
                return;
        if (a->n_unanswered == 2)
                snprintf(why, sizeof(why), "DHCP unanswered for MAC %s (and %s)", a->unanswered[0], a->unanswered[1]);
        else if (a->n_unanswered == 1 && !(a->requested && a->answered))
                snprintf(why, sizeof(why), "DHCP unanswered for MAC %s", a->unanswered[0]);
        if (a->plugged == PLUG_HAD) {
                char w2[640];

                snprintf(w2, sizeof(w2), "the new NIC could not be attached (%s); the guest's own NIC is back: %s",
                         a->attach_err, why);
                finish(a, RESULT_FAILED, w2);
                return;
        }
        finish(a, RESULT_FAILED, why);
}

static void start_verify(struct act *a) {
        unsigned window = verify_window(a);
        int r;

        if (a->port_fd < 0) {
                finish(a, RESULT_ABORTED, "unverified: the guest's port cannot be watched");
                return;
        }
        /* The guest's own NIC back in the slot (PLUG_HAD) is not the action done: a restart may retry it. */
        if (a->plugged != PLUG_HAD) {
                r = meta_mark(a, action_to_string(act_kind(a)), WORKED_NONE);
                if (r < 0)
                        act_log(a, LOG_LEVEL_WARN, "cannot mark the action applied in the relink metadata: %s",
                                virt_strerror(r));
        }
        port_drain(a);
        a->requested = a->answered = a->answer_clock = false;
        a->phase = PH_VERIFY;
        a->t_phase = now_ms();
        a->t_verify_end = a->t_phase + window;
        r = timer_after(window, verify_timeout, a);
        if (r < 0) {
                finish(a, RESULT_ABORTED, "cannot add a timer");
                return;
        }
        a->timer = r;
}

/* A frame of the server's to the guest's MAC: the MAC is served; the exchange gets the whole window. */
static void server_answered(struct act *a, const char *what) {
        if (a->answered)
                return;
        a->answered = true;
        act_log(a, LOG_LEVEL_DEBUG, "dhcp-%s to guest: its MAC is served", what);
        if (a->answer_clock)
                verify_rearm(a, a->t_verify_end);
}

static void on_port(int fd, void *opaque) {
        struct act *a = opaque;
        struct dhcp_seen s;
        int r = 0;

        /* At most PORT_BURST frames per call: a guest flooding DHCP cannot hold the event loop (the
         * socket stays readable, the loop calls again after the others' turn). */
        for (unsigned burst = 0; burst < PORT_BURST && (r = virtdom->port_read(fd, &s)) == 0; burst++) {
                if (a->phase != PH_VERIFY || strcasecmp(s.chaddr, a->mac_now) != 0)
                        continue;
                switch (s.msgtype) {
                case DHCP_DISCOVER:
                case DHCP_REQUEST:
                        if (s.to_guest)
                                break;
                        if (!a->requested)
                                act_log(a, LOG_LEVEL_INFO, "dhcp-%s from guest requested=%s",
                                        s.msgtype == DHCP_DISCOVER ? "discover" : "request",
                                        *s.requested ? s.requested : "-");
                        a->requested = true;
                        /* A DISCOVER (or a REQUEST naming a server) must be answered by a server that
                         * serves this MAC: from the first, the server has --answer-ms to do so. Not a
                         * REQUEST for a remembered lease (INIT-REBOOT, RENEW): a server that does not
                         * know that address may rightly stay silent (RFC 2131 4.3.2). */
                        if (!a->answer_clock && !a->answered &&
                            (s.msgtype == DHCP_DISCOVER || *s.server_id)) {
                                a->answer_clock = true;
                                if (now_ms() + relinkd_cfg->answer_ms < a->t_verify_end)
                                        verify_rearm(a, now_ms() + relinkd_cfg->answer_ms);
                        }
                        break;
                case DHCP_OFFER:
                        if (s.to_guest)
                                server_answered(a, "offer");
                        break;
                case DHCP_ACK:
                        /* Only the server's: a frame the tap carried to the guest. */
                        if (!s.to_guest)
                                break;
                        if (!rec_has_ipv4(&a->rec, s.yiaddr)) {
                                act_log(a, LOG_LEVEL_WARN, "dhcp-ack for %s, expected %s: still waiting", s.yiaddr,
                                        rec_ipv4(&a->rec));
                                server_answered(a, "ack");
                                break;
                        }
                        act_log(a, LOG_LEVEL_DEBUG, "dhcp-ack ip=%s", s.yiaddr);
                        timer_cancel(&a->timer);
                        finish(a, RESULT_VERIFIED, a->plugged == PLUG_HAD ? "fallback=had" : NULL);
                        return;
                case DHCP_NAK:
                        if (s.to_guest) {
                                act_log(a, LOG_LEVEL_INFO, "dhcp-nak to guest (it asked for its old lease)");
                                server_answered(a, "nak");
                        }
                        break;
                default:
                        break;
                }
        }
        if (r < 0 && r != -EAGAIN) {
                act_log(a, LOG_LEVEL_WARN, "dhcp watch failed: %s; verification disabled", strerror(-r));
                fd_unwatch(&a->port_watch);
                virtdom->port_close(a->port_fd);
                a->port_fd = -1;
        }
}

/* ---- the live element ---- */

/* The live <interface> of this NIC into a->cur_xml (link forced up); refreshes alias and MAC.
 * -ENOENT when the slot is empty. */
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
                free(a->cur_xml);
                a->cur_xml = up;
                snprintf(a->alias, sizeof(a->alias), "%s", nics[i].alias);
                memcpy(a->mac_now, nics[i].mac, 18);
        }
        dom_nics_free(nics, n);
        return r;
}

/* load_iface() for the first step of an action the job started from the live XML it has just read
 * (same loop turn, nothing in between): that element, without a second read on the critical path. */
static int current_iface(struct act *a) {
        char *up;

        if (!a->fresh)
                return load_iface(a);
        a->fresh = false;
        up = strdup(a->had_xml);      /* the live element, link forced up; alias and MAC set from it */
        if (!up)
                return -ENOMEM;
        free(a->cur_xml);
        a->cur_xml = up;
        return 0;
}

static void read_iface_failed(struct act *a, int r) {
        char why[512];

        if (lost(a, r, run_rung_step))
                return;
        snprintf(why, sizeof(why), "cannot read the live interface: %s", virt_strerror(r));
        finish(a, RESULT_FAILED, why);
}

/* ---- flap ---- */

static void flap_up(void *opaque) {
        struct act *a = opaque;
        char why[512];
        int r;

        a->timer = 0;
        if (parked(a, flap_up))
                return;
        r = virtdom->update_device(a->dom, a->cur_xml);
        if (r < 0) {
                if (lost(a, r, flap_up))
                        return;
                /* Try again: a link left down is a cut-off guest. */
                snprintf(why, sizeof(why), "link up failed: %s", virt_strerror(r));
                act_log(a, LOG_LEVEL_WARN, "%s; retrying", why);
                arm(a, &a->timer, ATTACH_RETRY_MS, flap_up);
                return;
        }
        act_log(a, LOG_LEVEL_INFO, "link-up held_ms=%lld", (long long) (now_ms() - a->t_phase));
        start_verify(a);
}

static void flap_down(struct act *a) {
        _cleanup_free_ char *down = NULL;
        char why[512];
        int r;

        r = current_iface(a);
        if (r == 0)
                r = ifxml_set_link(a->cur_xml, false, &down);
        if (r < 0) {
                read_iface_failed(a, r);
                return;
        }
        r = virtdom->update_device(a->dom, down);
        if (r < 0) {
                if (lost(a, r, run_rung_step))
                        return;
                snprintf(why, sizeof(why), "link down failed: %s", virt_strerror(r));
                if (!next_rung(a, why))
                        finish(a, RESULT_FAILED, why);
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

/* ---- re-plug ---- */

static void attach_step(void *opaque);
static void reopen_port(struct act *a);
static void detach_poll(void *opaque);
static void detach_deadline(void *opaque);
static void reask(void *opaque);

/* Another NIC of the same domain is being unplugged or plugged. Guests handle ACPI hot-plug events
 * one slot scan at a time: two unplugs in flight and a re-plug into one of the slots made the guest
 * eject the re-plugged NIC again (seen with two NICs re-attached at once). One hot-plug per domain,
 * except behind an unplug already past its deadline (a stuck guest must not hold the others). */
static bool hotplug_busy(const struct act *a) {
        for (const struct act *b = acts; b; b = b->next)
                if (b != a && b->pod == a->pod && streq(b->uuid, a->uuid) &&
                    ((b->phase == PH_DETACHING && !b->failed_reported) || b->phase == PH_ATTACHING))
                        return true;
        return false;
}

static void hotplug_next(const struct act *done) {
        for (struct act *b = acts; b; b = b->next) {
                if (b == done || b->phase != PH_QUEUED || b->pod != done->pod || !streq(b->uuid, done->uuid))
                        continue;
                b->phase = PH_START;
                arm(b, &b->timer, 0, run_rung_step);
                return;
        }
}

/* The element to plug: the one the guest had with the rung's MAC, link up, no auto alias. */
static int plug_xml(const struct act *a, enum plug what, char **ret) {
        _cleanup_free_ char *with_mac = NULL, *up = NULL;
        int r;

        switch (what) {
        case PLUG_NEW:
                r = ifxml_set_mac(a->had_xml, a->rungs[a->rung].mac, &with_mac);
                if (r < 0)
                        return r;
                return ifxml_strip_alias(with_mac, ret);
        case PLUG_HAD:
                return ifxml_strip_alias(a->had_xml, ret);
        case PLUG_UNCONNECTED:
        case PLUG_USER:
                r = ifxml_strip_alias(a->had_xml, &up);
                if (r < 0)
                        return r;
                return ifxml_drop_target(up, what == PLUG_USER ? "user" : NULL, ret);
        }
        return -EINVAL;
}

/* Before the unplug: what to attach, what the guest had and when we asked go into the domain. */
static void record_pending(struct act *a) {
        struct pending_nic e = { .had_xml = a->had_xml, .asked_ms = a->t_asked };
        _cleanup_free_ char *xml = NULL;
        int r;

        memcpy(e.pci, a->pci, sizeof(e.pci));
        r = plug_xml(a, PLUG_NEW, &xml);
        if (r == 0) {
                e.iface_xml = xml;
                r = pending_set(a->dom, &e);
        }
        if (r < 0)
                act_log(a, LOG_LEVEL_WARN, "cannot record the outstanding unplug: %s", virt_strerror(r));
}

static void clear_pending(struct act *a) {
        int r = pending_clear(a->dom, a->pci);

        if (r < 0)
                act_log(a, LOG_LEVEL_WARN, "cannot clear the outstanding unplug: %s", virt_strerror(r));
}

/* Waiting for the guest: poll the live XML, re-ask with backoff, report at the deadline. */
static void detaching_timers(struct act *a) {
        int64_t left = a->t_asked + relinkd_cfg->detach_timeout_ms - now_ms();

        timer_cancel(&a->timer);
        timer_cancel(&a->poll_timer);
        timer_cancel(&a->reask_timer);
        if (!a->failed_reported)
                arm(a, &a->timer, left > 0 ? (unsigned) left : 0, detach_deadline);
        arm(a, &a->poll_timer, a->failed_reported ? DETACH_POLL_SLOW_MS : DETACH_POLL_MS, detach_poll);
        arm(a, &a->reask_timer, a->reask_ms, reask);
}

static void unplug(struct act *a) {
        int64_t t_pending, t_call;
        char why[512];
        int r;

        if (hotplug_busy(a)) {
                a->phase = PH_QUEUED;
                act_log(a, LOG_LEVEL_INFO, "re-plug queued behind another hot-plug of this domain");
                return;
        }
        r = current_iface(a);
        if (r == -ENOENT) {
                /* Already gone (released while the connection was down, or put nothing back). */
                act_log(a, LOG_LEVEL_INFO, "the slot is empty: attaching");
                a->phase = PH_ATTACHING;
                set_absent(a, true);
                a->attach_tries = 0;
                arm(a, &a->timer, 0, attach_step);
                return;
        }
        if (r < 0) {
                read_iface_failed(a, r);
                return;
        }
        a->t_asked = now_ms();
        a->attach_tries = 0;
        a->reasks = 0;
        a->reask_ms = REASK_FIRST_MS;
        t_pending = now_ms();
        record_pending(a);
        t_call = now_ms();
        r = virtdom->detach(a->dom, a->alias, a->cur_xml);
        if (r < 0) {
                if (lost(a, r, run_rung_step))
                        return;
                /* Refused: the NIC stays where it is (no hole); nothing more to try with it. */
                clear_pending(a);
                snprintf(why, sizeof(why), "detach failed: %s", virt_strerror(r));
                finish(a, RESULT_FAILED, why);
                return;
        }
        a->phase = PH_DETACHING;
        /* What the unplug's own calls cost (bench/realguest.sh: relinkd's share of the re-plug). */
        act_log(a, LOG_LEVEL_INFO, "detach alias=%s new_mac=%s pending_ms=%lld call_ms=%lld", a->alias,
                a->rungs[a->rung].mac, (long long) (t_call - t_pending), (long long) (now_ms() - t_call));
        detaching_timers(a);
}

/* The guest let go of the NIC: plug one back at once. */
static void released(struct act *a, const char *how) {
        int64_t removed = now_ms() - a->t_asked;
        int64_t late = a->t_asked > 0 ? removed - (int64_t) relinkd_cfg->detach_timeout_ms : 0;
        char late_s[40] = "";

        if (a->phase != PH_DETACHING)
                return;
        timer_cancel(&a->timer);
        timer_cancel(&a->poll_timer);
        timer_cancel(&a->reask_timer);
        if (late > 0) {
                relinkd_metrics.late_releases++;
                snprintf(late_s, sizeof(late_s), " late_ms=%lld", (long long) late);
        }
        act_log(a, late > 0 ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, "released how=%s removed_ms=%lld%s reasks=%u", how,
                a->t_asked > 0 ? (long long) removed : -1LL, late_s, a->reasks);
        a->phase = PH_ATTACHING;
        a->attach_tries = 0;
        set_absent(a, true);
        arm(a, &a->timer, 0, attach_step);
}

static void detach_poll(void *opaque) {
        struct act *a = opaque;
        char mac[18] = "", alias[64] = "";
        int r;

        a->poll_timer = 0;
        if (a->phase != PH_DETACHING || !a->pod->alive)
                return;   /* action_adopt() polls again */
        r = slot_nic(a, mac, alias);
        if (r == 0) {
                released(a, "live-xml");
                return;
        }
        if (r > 0 && (!streq(mac, a->mac_now) || !streq(alias, a->alias))) {
                /* Released and something else plugged there already (the launcher's own sync). */
                released(a, "replaced");
                return;
        }
        arm(a, &a->poll_timer, a->failed_reported ? DETACH_POLL_SLOW_MS : DETACH_POLL_MS, detach_poll);
}

static void detach_deadline(void *opaque) {
        struct act *a = opaque;
        char why[256];
        int r;

        a->timer = 0;
        if (parked(a, detach_deadline))
                return;
        r = slot_nic(a, NULL, NULL);
        if (r == 0) {
                released(a, "live-xml");
                return;
        }
        snprintf(why, sizeof(why), "guest has not released the NIC after %u s; NIC still present with MAC %s",
                 (relinkd_cfg->detach_timeout_ms + 999) / 1000, a->mac_now);
        report_failed(a, why);
        hotplug_next(a);      /* other NICs of this domain need not wait for a stuck guest */
}

static void reask(void *opaque) {
        struct act *a = opaque;
        char alias[64] = "";
        int r;

        a->reask_timer = 0;
        if (a->phase != PH_DETACHING || !a->pod->alive)
                return;
        r = slot_nic(a, NULL, alias);
        if (r == 0) {
                released(a, "live-xml");
                return;
        }
        /* Only the very NIC we asked for: never a new one that took the alias. */
        if (r > 0 && streq(alias, a->alias)) {
                r = virtdom->detach(a->dom, a->alias, a->cur_xml);
                a->reasks++;
                relinkd_metrics.unplug_reasks++;
                act_log(a, r < 0 ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, "unplug re-asked n=%u waited_ms=%lld%s%s",
                        a->reasks, (long long) (now_ms() - a->t_asked), r < 0 ? " error=" : "",
                        r < 0 ? virt_strerror(r) : "");
        }
        a->reask_ms = a->reask_ms * 2 > REASK_MAX_MS ? REASK_MAX_MS : a->reask_ms * 2;
        arm(a, &a->reask_timer, a->reask_ms, reask);
}

/* Which element the n-th attach attempt plugs: the new one first, then what the guest had, then the
 * guest's own element without the pod's tap (a NIC at the slot, connected to nothing or to QEMU's
 * user-mode network), round again. */
static enum plug plug_for_try(unsigned n) {
        if (n < ATTACH_NEW_TRIES)
                return PLUG_NEW;
        switch ((n - ATTACH_NEW_TRIES) % (PLUG_FALLBACKS + 1)) {
        case 0:
                return PLUG_HAD;
        case 1:
                return PLUG_UNCONNECTED;
        case 2:
                return PLUG_USER;
        default:
                return PLUG_NEW;
        }
}

/* The wait after failed attempt n: backoff while the new element may still work (a tap being
 * re-created), then the fallbacks quickly (a guest without a NIC is the worst state), then slowly. */
static unsigned attach_backoff(unsigned n) {
        if (n + 1 < ATTACH_NEW_TRIES)
                return ATTACH_RETRY_MS << n;
        if (n < ATTACH_NEW_TRIES + PLUG_FALLBACKS - 1)
                return ATTACH_RETRY_MS;
        return ATTACH_RETRY_MAX_MS;
}

static void after_attach(struct act *a) {
        hotplug_next(a);
        if (*a->final_why) {
                char why[256];

                snprintf(why, sizeof(why), "%s", a->final_why);
                finish(a, RESULT_FAILED, why);
                return;
        }
        switch (a->plugged) {
        case PLUG_NEW:
                start_verify(a);
                return;
        case PLUG_HAD:
                relinkd_metrics.attach_fallbacks++;
                start_verify(a);
                return;
        case PLUG_UNCONNECTED:
        case PLUG_USER: {
                char why[512];

                relinkd_metrics.attach_fallbacks++;
                snprintf(why, sizeof(why), "the new NIC could not be attached (%s); the slot holds the guest's own "
                         "NIC %s, not the pod's network", a->attach_err,
                         a->plugged == PLUG_USER ? "on QEMU's user-mode network" : "on a tap of its own, connected to nothing");
                finish(a, RESULT_FAILED, why);
                return;
        }
        }
}

static void attach_step(void *opaque) {
        struct act *a = opaque;
        _cleanup_free_ char *xml = NULL;
        enum plug what = plug_for_try(a->attach_tries);
        char mac[18] = "", why[256];
        int64_t t_call;
        int r;

        a->timer = 0;
        a->phase = PH_ATTACHING;
        if (parked(a, attach_step))
                return;
        r = slot_nic(a, mac, NULL);
        if (r > 0) {
                /* Occupied: our attach went through before the connection dropped, or the launcher's
                 * own sync plugged a NIC back. Either way the slot is full: adopt it, do not fail. */
                act_log(a, LOG_LEVEL_INFO, "the slot is occupied by a NIC with MAC %s: adopted (%s)", mac,
                        streq(mac, a->rungs[a->rung].mac) ? "our attach went through" : "plugged by someone else");
                memcpy(a->mac_now, mac, 18);
                a->plugged = streq(mac, a->rungs[a->rung].mac) || !streq(mac, a->mac_had) ? PLUG_NEW : PLUG_HAD;
                if (a->plugged == PLUG_HAD && !*a->attach_err)
                        snprintf(a->attach_err, sizeof(a->attach_err), "the slot was refilled with the old NIC");
                set_absent(a, false);
                clear_pending(a);
                after_attach(a);
                return;
        }
        if (r < 0) {
                if (lost(a, r, attach_step))
                        return;
                act_log(a, LOG_LEVEL_WARN, "cannot read the live XML before attaching: %s; retrying", virt_strerror(r));
                arm(a, &a->timer, attach_backoff(a->attach_tries++), attach_step);
                return;
        }
        /* The tap may have been re-created (new ifindex): watch the one the NIC will be plugged into. */
        if (what == PLUG_NEW || what == PLUG_HAD)
                reopen_port(a);
        r = plug_xml(a, what, &xml);
        t_call = now_ms();
        if (r == 0)
                r = virtdom->attach(a->dom, xml);
        if (r < 0) {
                unsigned delay;

                if (lost(a, r, attach_step))
                        return;
                snprintf(why, sizeof(why), "%s", virt_strerror(r));
                if (what == PLUG_NEW)
                        snprintf(a->attach_err, sizeof(a->attach_err), "%s", why);
                delay = attach_backoff(a->attach_tries);
                a->attach_tries++;
                act_log(a, LOG_LEVEL_WARN, "attach failed plug=%s error=\"%s\": next plug=%s in %u ms",
                        plug_to_string(what), why, plug_to_string(plug_for_try(a->attach_tries)), delay);
                if (a->attach_tries == ATTACH_NEW_TRIES + PLUG_FALLBACKS && !a->failed_reported)
                        report_failed(a, "no NIC could be attached at the slot; NIC absent");
                arm(a, &a->timer, delay, attach_step);
                return;
        }
        a->plugged = what;
        if (what == PLUG_NEW)
                memcpy(a->mac_now, a->rungs[a->rung].mac, 18);
        else
                memcpy(a->mac_now, a->mac_had, 18);
        set_absent(a, false);
        act_log(a, what == PLUG_NEW ? LOG_LEVEL_INFO : LOG_LEVEL_WARN,
                "attached plug=%s mac=%s detach_ms=%lld tries=%u call_ms=%lld", plug_to_string(what), a->mac_now,
                a->t_asked > 0 ? (long long) (now_ms() - a->t_asked) : -1LL, a->attach_tries + 1,
                (long long) (now_ms() - t_call));
        clear_pending(a);
        after_attach(a);
}

/* ---- the ladder ---- */

static void run_rung(struct act *a) {
        if (parked(a, run_rung_step))
                return;
        a->plugged = PLUG_NEW;
        switch (act_kind(a)) {
        case ACTION_FLAP:
                flap_down(a);
                return;
        case ACTION_REATTACH:
                unplug(a);
                return;
        case ACTION_NONE:
                finish(a, RESULT_ABORTED, "nothing to do");
                return;
        }
}

static void run_rung_step(void *opaque) {
        struct act *a = opaque;

        a->timer = 0;
        a->fresh = false;
        run_rung(a);
}

static void add_rung(struct act *a, unsigned allow, enum action kind, const char *mac) {
        char norm[18];

        if (!mac || !*mac || !mac_normalise(mac, norm) || a->n_rungs >= MAX_RUNGS)
                return;
        if (allow && !(allow & (kind == ACTION_FLAP ? ACTION_ALLOW_FLAP : ACTION_ALLOW_REPLUG)))
                return;   /* the policy forbids this rung */
        /* A re-plug with a MAC already tried adds nothing. */
        for (unsigned i = 0; i < a->n_rungs; i++)
                if (a->rungs[i].kind == ACTION_REATTACH && kind == ACTION_REATTACH && streq(a->rungs[i].mac, norm))
                        return;
        a->rungs[a->n_rungs].kind = kind;
        memcpy(a->rungs[a->n_rungs].mac, norm, 18);
        a->n_rungs++;
}

static struct act *act_find(const struct pod *p, const char *uuid, const char *pci) {
        for (struct act *a = acts; a; a = a->next)
                if (a->pod == p && streq(a->uuid, uuid) && (!pci || streq(a->pci, pci)))
                        return a;
        return NULL;
}

bool action_busy(const struct pod *p, virDomainPtr dom, const char *pci) {
        char uuid[VIR_UUID_STRING_BUFLEN];

        return virtdom->uuid(dom, uuid) == 0 && act_find(p, uuid, pci);
}

static void open_port(struct act *a) {
        int r;

        /* Watch before acting, so the guest's first DHCP packet cannot be missed. */
        r = virtdom->port_open(a->pod->ns_fd, a->tap, &a->port_fd);
        if (r < 0) {
                act_log(a, LOG_LEVEL_WARN, "cannot watch DHCP on %s: %s; acting unverified", a->tap, strerror(-r));
                a->port_fd = -1;
                return;
        }
        r = fd_watch(a->port_fd, on_port, a);
        if (r < 0) {
                virtdom->port_close(a->port_fd);
                a->port_fd = -1;
                return;
        }
        a->port_watch = r;
}

static void reopen_port(struct act *a) {
        fd_unwatch(&a->port_watch);
        if (a->port_fd >= 0)
                virtdom->port_close(a->port_fd);
        a->port_fd = -1;
        open_port(a);
}

/* relinkd restarted with an unplug outstanding: pick it up in whatever state the slot is in. */
static void resume(struct act *a, const struct pending_nic *pend) {
        char mac[18] = "", alias[64] = "";
        int r;

        a->t_asked = pend->asked_ms > 0 && pend->asked_ms <= now_ms() ? pend->asked_ms : now_ms();
        a->reask_ms = REASK_FIRST_MS;
        r = slot_nic(a, mac, alias);
        if (r < 0) {
                read_iface_failed(a, r);
                return;
        }
        if (r == 0) {
                act_log(a, LOG_LEVEL_INFO, "resuming an outstanding unplug: the guest released the NIC");
                a->phase = PH_DETACHING;
                released(a, "before-restart");
                return;
        }
        if (streq(mac, a->rungs[0].mac) && !streq(mac, a->mac_had)) {
                /* Attached before the restart; only the entry was left. */
                act_log(a, LOG_LEVEL_INFO, "resuming an outstanding unplug: already re-attached with %s", mac);
                memcpy(a->mac_now, mac, 18);
                clear_pending(a);
                start_verify(a);
                return;
        }
        /* Still there: the unplug request stands in QEMU; keep waiting (and re-asking). */
        r = load_iface(a);
        if (r < 0) {
                read_iface_failed(a, r);
                return;
        }
        act_log(a, LOG_LEVEL_INFO, "resuming an outstanding unplug: the guest still holds the NIC (asked %lld ms ago)",
                (long long) (now_ms() - a->t_asked));
        a->phase = PH_DETACHING;
        detaching_timers(a);
}

int action_start(const struct action_req *q) {
        char uuid[VIR_UUID_STRING_BUFLEN], had_mac[18] = "";
        struct act *a;
        int r;

        if (virtdom->uuid(q->dom, uuid) < 0)
                return -EIO;
        if (act_find(q->pod, uuid, q->nic->pci))
                return -EBUSY;
        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->port_fd = -1;
        a->pod = pod_ref(q->pod);
        a->dom = virtdom->ref(q->dom);
        memcpy(a->uuid, uuid, sizeof(uuid));
        snprintf(a->name, sizeof(a->name), "%s", virtdom->name(q->dom));
        snprintf(a->pci, sizeof(a->pci), "%s", q->nic->pci);
        snprintf(a->alias, sizeof(a->alias), "%s", q->nic->alias);
        snprintf(a->tap, sizeof(a->tap), "%s", q->nic->target);
        snprintf(a->recname, sizeof(a->recname), "%s/%s@%s", q->rec->network, q->rec->container_id, q->rec->ifname);
        a->rec = *q->rec;
        a->first_kind = q->kind;
        a->decided_flap = q->kind == ACTION_FLAP && !q->resume;
        a->migrated = q->migrated;
        a->t_event = q->t_event;
        a->next = acts;
        acts = a;

        /* The guest's own element: from the live NIC, or what the outstanding entry kept. */
        r = -ENOMEM;
        if (q->resume)
                r = q->resume->had_xml ? ifxml_set_link(q->resume->had_xml, true, &a->had_xml)
                                       : ifxml_set_link(q->resume->iface_xml, true, &a->had_xml);
        else if (q->nic->xml)
                r = ifxml_set_link(q->nic->xml, true, &a->had_xml);
        if (r == 0)
                r = iface_mac(a->had_xml, had_mac);
        if (r < 0) {
                act_free(a);
                return r;
        }
        memcpy(a->mac_had, had_mac, 18);
        memcpy(a->mac_now, had_mac, 18);

        if (q->resume) {
                char plug_mac[18];

                r = iface_mac(q->resume->iface_xml, plug_mac);
                if (r < 0) {
                        act_free(a);
                        return r;
                }
                /* An unplug is outstanding: the NIC must come back whatever the policy says. */
                add_rung(a, 0, ACTION_REATTACH, plug_mac);
                add_rung(a, 0, ACTION_REATTACH, q->mac_alt && *q->mac_alt ? q->mac_alt : had_mac);
        } else if (q->kind == ACTION_FLAP) {
                if (!q->skip_flap)
                        add_rung(a, q->allow, ACTION_FLAP, had_mac);
                add_rung(a, q->allow, ACTION_REATTACH, had_mac);
                add_rung(a, q->allow, ACTION_REATTACH, q->mac_alt);
        } else {
                add_rung(a, q->allow, ACTION_REATTACH,
                         q->mac_new && *q->mac_new ? q->mac_new : *q->rec->mac ? q->rec->mac : had_mac);
                add_rung(a, q->allow, ACTION_REATTACH, q->mac_alt && *q->mac_alt ? q->mac_alt : had_mac);
        }
        if (a->n_rungs == 0) {
                act_free(a);
                return q->allow ? -EPERM : -EINVAL;
        }
        a->first_kind = a->rungs[0].kind;   /* the decision's kind, unless the ladder starts higher */
        a->status_seq = statusring_claim(a->uuid, a->pci);
        open_port(a);
        if (q->resume)
                resume(a, q->resume);
        else {
                /* Only the first step may use it; it may also finish (and free) the action: a is not
                 * touched after run_rung(). Later steps enter through run_rung_step() or next_rung(),
                 * which drop it (queued, parked, escalated: they read the live XML). */
                a->fresh = q->nic_fresh && q->nic->xml;
                run_rung(a);
        }
        return 0;
}

/* A device of the domain went away while we verify a re-plug: was it the NIC we plugged? */
static void replug_check(void *opaque) {
        struct act *a = opaque;

        a->check_timer = 0;
        if (a->phase != PH_VERIFY || !a->pod->alive || slot_nic(a, NULL, NULL) != 0)
                return;
        timer_cancel(&a->timer);
        a->replugs++;
        if (a->replugs > REPLUG_RETRIES)
                snprintf(a->final_why, sizeof(a->final_why), "the guest keeps ejecting the re-plugged NIC (%u times)",
                         a->replugs);
        act_log(a, LOG_LEVEL_WARN, "the guest ejected the re-plugged NIC: plugging it again (%u/%u)", a->replugs,
                REPLUG_RETRIES);
        a->phase = PH_ATTACHING;
        a->attach_tries = 0;
        set_absent(a, true);
        arm(a, &a->timer, 0, attach_step);
}

/* From the DEVICE_REMOVED callback: only schedules. */
void action_device_removed(struct pod *p, virDomainPtr dom, const char *alias) {
        char uuid[VIR_UUID_STRING_BUFLEN];

        if (virtdom->uuid(dom, uuid) < 0)
                return;
        for (struct act *a = acts; a; a = a->next) {
                if (a->pod != p || !streq(a->uuid, uuid))
                        continue;
                if (a->phase == PH_DETACHING && streq(a->alias, alias)) {
                        released(a, "device-removed");
                        return;
                }
                if (a->phase == PH_VERIFY && act_kind(a) == ACTION_REATTACH && a->check_timer == 0)
                        arm(a, &a->check_timer, 0, replug_check);
        }
}

static void abort_later(void *opaque) {
        struct act *a = opaque;

        a->timer = 0;
        set_absent(a, false);    /* the rule is about running domains */
        finish(a, RESULT_ABORTED, "domain stopped");
}

void action_domain_gone(struct pod *p, virDomainPtr dom) {
        char uuid[VIR_UUID_STRING_BUFLEN];

        if (virtdom->uuid(dom, uuid) < 0)
                return;
        for (struct act *a = acts; a; a = a->next)
                if (a->pod == p && streq(a->uuid, uuid)) {
                        timer_cancel(&a->timer);
                        timer_cancel(&a->poll_timer);
                        timer_cancel(&a->reask_timer);
                        timer_cancel(&a->check_timer);
                        arm(a, &a->timer, 0, abort_later);
                }
}

static void orphan_timeout(void *opaque) {
        struct act *a = opaque;

        a->orphan_timer = 0;
        finish(a, RESULT_FAILED, a->phase == PH_DETACHING || a->phase == PH_ATTACHING
                                         ? "connection lost with the NIC unplugged or being unplugged; the "
                                           "outstanding entry in the domain resumes it on reconnect"
                                 : a->phase == PH_LINK_DOWN ? "connection lost while the link was down"
                                                            : "connection lost");
}

/* The connection closed: verification (a packet socket) goes on; libvirt steps park until a
 * reconnect to the same pod adopts the action, or give up after ORPHAN_TIMEOUT_MS (an outstanding
 * unplug stays in the domain's metadata, and the next reconcile resumes it). */
void action_pod_lost(struct pod *p) {
        for (struct act *a = acts; a; a = a->next) {
                if (a->pod != p || a->orphan_timer > 0)
                        continue;
                timer_cancel(&a->poll_timer);
                timer_cancel(&a->reask_timer);
                act_log(a, a->phase == PH_VERIFY ? LOG_LEVEL_INFO : LOG_LEVEL_WARN,
                        "connection lost mid-%s (phase %s): waiting up to %d ms for it to come back",
                        action_to_string(act_kind(a)), phase_to_string(a->phase), ORPHAN_TIMEOUT_MS);
                arm(a, &a->orphan_timer, ORPHAN_TIMEOUT_MS, orphan_timeout);
        }
}

void action_adopt(struct pod *p, virDomainPtr dom) {
        char uuid[VIR_UUID_STRING_BUFLEN];

        if (virtdom->uuid(dom, uuid) < 0)
                return;
        for (struct act *a = acts; a; a = a->next) {
                timer_fn step;

                if (a->pod->alive || a->pod->ns_dev != p->ns_dev || a->pod->ns_ino != p->ns_ino ||
                    !streq(a->uuid, uuid))
                        continue;
                pod_unref(a->pod);
                a->pod = pod_ref(p);
                virtdom->unref(a->dom);
                a->dom = virtdom->ref(dom);
                a->adopted = true;
                timer_cancel(&a->orphan_timer);
                step = a->parked;
                a->parked = NULL;
                act_log(a, LOG_LEVEL_INFO, "connection back: resuming %s (phase %s)", action_to_string(act_kind(a)),
                        phase_to_string(a->phase));
                if (step) {
                        timer_cancel(&a->timer);
                        arm(a, &a->timer, 0, step);
                } else if (a->phase == PH_DETACHING) {
                        /* DEVICE_REMOVED may have been lost with the connection. */
                        timer_cancel(&a->poll_timer);
                        timer_cancel(&a->reask_timer);
                        arm(a, &a->poll_timer, 0, detach_poll);
                        arm(a, &a->reask_timer, a->reask_ms, reask);
                }
        }
}

/* Shutdown with the NIC gone: one synchronous round of every element, so a NIC is back. */
static void shutdown_attach(struct act *a) {
        static const enum plug order[] = { PLUG_NEW, PLUG_HAD, PLUG_UNCONNECTED, PLUG_USER };

        if (!a->pod->alive) {
                act_log(a, LOG_LEVEL_ERROR, "shutdown with the NIC unplugged and the connection lost: the "
                        "outstanding entry in the domain lets the next relinkd put it back");
                return;
        }
        if (slot_nic(a, NULL, NULL) > 0) {
                set_absent(a, false);
                clear_pending(a);
                return;
        }
        for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
                _cleanup_free_ char *xml = NULL;
                int r = plug_xml(a, order[i], &xml);

                if (r == 0)
                        r = virtdom->attach(a->dom, xml);
                if (r == 0) {
                        act_log(a, LOG_LEVEL_WARN, "shutdown: attached plug=%s", plug_to_string(order[i]));
                        set_absent(a, false);
                        clear_pending(a);
                        return;
                }
                act_log(a, LOG_LEVEL_ERROR, "shutdown: attach plug=%s failed: %s", plug_to_string(order[i]),
                        virt_strerror(r));
        }
}

void actions_shutdown(void) {
        while (acts) {
                struct act *a = acts;
                int r;

                switch (a->phase) {
                case PH_LINK_DOWN:
                        r = virtdom->update_device(a->dom, a->cur_xml);
                        if (r < 0)
                                act_log(a, LOG_LEVEL_ERROR, "shutdown: link up failed: %s", virt_strerror(r));
                        else
                                act_log(a, LOG_LEVEL_INFO, "shutdown: link brought up");
                        break;
                case PH_DETACHING:
                        /* QEMU keeps the request; the entry in the domain hands it to the next relinkd. */
                        if (a->pod->alive && slot_nic(a, NULL, NULL) == 0) {
                                set_absent(a, true);
                                shutdown_attach(a);
                        } else
                                act_log(a, LOG_LEVEL_WARN, "shutdown with an unplug outstanding: the next relinkd "
                                        "resumes it from the domain's metadata");
                        break;
                case PH_ATTACHING:
                        shutdown_attach(a);
                        break;
                case PH_START:
                case PH_QUEUED:
                case PH_VERIFY:
                case PH_DONE:
                        break;
                }
                finish(a, RESULT_ABORTED, "shutdown");
        }
}
