/* SPDX-License-Identifier: MIT */
/* The action state machine on a fake domain and a fake clock (tests/unit/fake_virt.h): every phase
 * transition, late and silent releases, restarts, reconnects, attach errors, the DHCP ladder.
 * Every scenario ends with assert_rule(): the running domain has exactly one NIC at the slot. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "common/log.h"
#include "common/util.h"
#include "tests/unit/fake_virt.h"
#include "trigger/action.h"
#include "trigger/metrics.h"
#include "trigger/options.h"
#include "trigger/pending.h"
#include "trigger/virtdom.h"

#define PCI "0000:00:03.0"
#define PCI2 "0000:00:04.0"
#define OLD "02:00:00:00:00:01"     /* the MAC the guest had (source pod) */
#define NEW "0a:58:0a:f4:02:0a"     /* the record's MAC (target pod) */
#define ALT "02:00:00:00:00:99"     /* another candidate */
#define IP "10.244.2.10"

static struct opts cfg;
static struct pod *pod;
static struct fake_dom dom;
static struct record rec;

static int world_up(void **state) {
        fake_install();
        metrics_open(NULL);
        cfg = (struct opts) {
                .hold_ms = 1000, .verify_flap_ms = 3000, .verify_reattach_ms = 8000, .answer_ms = 3000,
                .detach_timeout_ms = 5000,
        };
        relinkd_cfg = &cfg;
        fake_log_open("test_action");
        pod = pod_new(NULL, -1, "fake-pod");
        assert_non_null(pod);
        pod->ns_dev = 7;
        pod->ns_ino = 42;
        fake_dom_init(&dom, "default_vm", pod);
        fake_dom_add_nic(&dom, PCI, OLD, "tap0");
        memset(&rec, 0, sizeof(rec));
        snprintf(rec.network, sizeof(rec.network), "podnet");
        snprintf(rec.container_id, sizeof(rec.container_id), "cid");
        snprintf(rec.ifname, sizeof(rec.ifname), "eth0");
        snprintf(rec.mac, sizeof(rec.mac), NEW);
        rec.ips[0] = (struct record_ip) { .family = AF_INET, .address = IP, .prefix = 24 };
        rec.n_ips = 1;
        snprintf(dom.served_mac[0], sizeof(dom.served_mac[0]), NEW);
        snprintf(dom.served_ip, sizeof(dom.served_ip), IP);
        return 0;
}

static int world_down(void **state) {
        actions_shutdown();
        assert_int_equal(actions_active(), 0);
        assert_int_equal(dom.refs, 0);           /* every domain reference given back */
        fake_dom_free(&dom);
        pod_unref(pod);
        fake_log_close();
        fake_uninstall();
        return 0;
}

static void assert_logged(const char *needle) {
        if (fake_log_count(needle) == 0) {
                _cleanup_free_ char *t = fake_log_text();
                fail_msg("not logged: '%s'\n--- log ---\n%s", needle, t);
        }
}

static bool pending_for(const char *pci) {
        struct pending_nic *p = NULL;
        size_t n = 0;
        bool found = false;

        if (pending_get(fake_domptr(&dom), &p, &n) < 0)
                return false;
        for (size_t i = 0; i < n; i++)
                found |= streq(p[i].pci, pci);
        pending_free(p, n);
        return found;
}

/* The rule: the running domain has exactly one NIC at the slot (with mac, unless NULL). At rest
 * (outstanding == false) nothing is missing, no unplug is recorded and no action holds the NIC; with
 * an unplug outstanding its entry is in the domain. */
static void assert_rule(const char *pci, const char *mac, bool outstanding) {
        unsigned at_slot = 0;

        for (size_t i = 0; i < dom.n_nics; i++)
                if (streq(dom.nics[i].pci, pci)) {
                        at_slot++;
                        if (mac)
                                assert_string_equal(dom.nics[i].mac, mac);
                }
        assert_int_equal(at_slot, 1);
        assert_int_equal(relinkd_metrics.nics_missing, 0);
        assert_int_equal(pending_for(pci), outstanding);
        if (!outstanding)
                assert_false(action_busy(dom.pod, fake_domptr(&dom), pci));
}

static int start_on_skip(const char *pci, enum action kind, const char *mac_new, const char *mac_alt, bool skip_flap) {
        struct dom_nic *nics = NULL;
        size_t n = 0;
        int i, r;

        assert_int_equal(virtdom_nics(fake_domptr(&dom), &nics, &n), 0);
        i = virtdom_nic_find(nics, n, pci, NULL);
        assert_true(i >= 0);
        r = action_start(&(struct action_req) {
                .pod = pod, .dom = fake_domptr(&dom), .nic = &nics[i], .rec = &rec, .kind = kind,
                .mac_new = mac_new, .mac_alt = mac_alt, .t_event = fake_now_ms(), .migrated = true,
                .skip_flap = skip_flap,
        });
        dom_nics_free(nics, n);
        return r;
}

/* An operator's policy (trigger/policy.h): the rungs allowed. */
static int start_allowed(enum action kind, const char *mac_new, const char *mac_alt, unsigned allow) {
        struct dom_nic *nics = NULL;
        size_t n = 0;
        int i, r;

        assert_int_equal(virtdom_nics(fake_domptr(&dom), &nics, &n), 0);
        i = virtdom_nic_find(nics, n, PCI, NULL);
        assert_true(i >= 0);
        r = action_start(&(struct action_req) {
                .pod = pod, .dom = fake_domptr(&dom), .nic = &nics[i], .rec = &rec, .kind = kind,
                .mac_new = mac_new, .mac_alt = mac_alt, .t_event = fake_now_ms(), .migrated = true,
                .allow = allow,
        });
        dom_nics_free(nics, n);
        return r;
}

static int start_on(const char *pci, enum action kind, const char *mac_new, const char *mac_alt) {
        return start_on_skip(pci, kind, mac_new, mac_alt, false);
}

/* What the domain's relink metadata says worked for pci (WORKED_NONE without an entry). */
static enum worked worked_for(const char *pci) {
        _cleanup_free_ struct meta_nic *m = NULL;
        size_t n = 0;
        const struct meta_nic *e;

        if (virtdom_meta_get(fake_domptr(&dom), &m, &n) < 0)
                return WORKED_NONE;
        e = metadata_find(m, n, pci);
        return e ? e->worked : WORKED_NONE;
}

static void start(enum action kind, const char *mac_new, const char *mac_alt) {
        assert_int_equal(start_on(PCI, kind, mac_new, mac_alt), 0);
}

static uint64_t result(enum action k, enum action_result r) {
        return relinkd_metrics.actions[k][r];
}

/* ---- flap ---- */

static void test_flap_verified(void **state) {
        snprintf(dom.served_mac[0], 18, OLD);
        dom.dhcp_on_flap = true;
        start(ACTION_FLAP, NULL, NULL);
        assert_string_equal(dom.links, "d");
        fake_run(999);
        assert_string_equal(dom.links, "d");         /* held */
        fake_run(1);
        assert_string_equal(dom.links, "du");
        fake_run(600);
        assert_int_equal(result(ACTION_FLAP, RESULT_VERIFIED), 1);
        assert_int_equal(dom.attach_calls, 0);
        assert_logged("verified kind=flap renewal_ms=1500 nic_state=present nic_mac=" OLD);
        assert_rule(PCI, OLD, false);
}

static void test_flap_ignored_replug_same_mac(void **state) {
        /* ifupdown: a flap changes nothing; the same-MAC re-plug makes it renew. */
        snprintf(dom.served_mac[0], 18, OLD);
        start(ACTION_FLAP, NULL, NULL);
        fake_run(1000 + 3000);
        assert_logged("escalate from=flap to=reattach mac=" OLD " reason=\"no DHCP from the guest within 3000 ms\"");
        fake_run(300 + 600);
        assert_int_equal(dom.n_attached, 1);
        assert_string_equal(dom.attached[0], OLD);
        assert_int_equal(result(ACTION_FLAP, RESULT_ESCALATED), 1);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_rule(PCI, OLD, false);
}

/* The guest's DHCP client is known to ignore a flap (NM, dhclient): the ladder starts at the same-MAC
 * re-plug — no link down at all — and a re-plug that verified is what worked. */
static void test_skip_flap_replugs_at_once(void **state) {
        snprintf(dom.served_mac[0], 18, OLD);
        dom.dhcp_on_flap = true;                     /* would renew on a flap: the flap must not happen */
        assert_int_equal(start_on_skip(PCI, ACTION_FLAP, NULL, NULL, true), 0);
        fake_run(300 + 600);
        assert_string_equal(dom.links, "");
        assert_int_equal(dom.n_attached, 1);
        assert_string_equal(dom.attached[0], OLD);
        assert_int_equal(result(ACTION_FLAP, RESULT_ESCALATED), 0);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_int_equal(fake_log_count("escalate from=flap"), 0);
        assert_int_equal(worked_for(PCI), WORKED_REPLUG);
        assert_rule(PCI, OLD, false);
}

static void test_skip_flap_failed_says_first_reattach(void **state) {
        dom.served_mac[0][0] = '\0';
        assert_int_equal(start_on_skip(PCI, ACTION_FLAP, NULL, ALT, true), 0);
        fake_run(300 + 8000 + 300 + 8000);
        assert_string_equal(dom.links, "");
        assert_int_equal(result(ACTION_REATTACH, RESULT_FAILED), 1);
        assert_logged("FAILED kind=reattach first=reattach reason=\"DHCP unanswered for MAC " OLD " (and " ALT ")\"");
        assert_int_equal(worked_for(PCI), WORKED_NONE);
        assert_rule(PCI, ALT, false);              /* the last candidate stays plugged */
}

/* What worked is remembered: a flap that had to escalate to the same-MAC re-plug → replug; a flap that
 * verified → flap; a decided re-attach (MAC changed) says nothing about flaps. */
static void test_worked_recorded(void **state) {
        snprintf(dom.served_mac[0], 18, OLD);
        start(ACTION_FLAP, NULL, NULL);
        fake_run(1000 + 3000 + 300 + 600);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_int_equal(worked_for(PCI), WORKED_REPLUG);

        dom.dhcp_on_flap = true;
        start(ACTION_FLAP, NULL, NULL);
        fake_run(1000 + 600);
        assert_int_equal(result(ACTION_FLAP, RESULT_VERIFIED), 1);
        assert_int_equal(worked_for(PCI), WORKED_FLAP);

        snprintf(dom.served_mac[0], 18, NEW);
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(300 + 600);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 2);
        assert_int_equal(worked_for(PCI), WORKED_FLAP);
}

static void test_flap_unanswered_climbs_to_alt(void **state) {
        /* The guest asks after the flap and after the same-MAC re-plug; only ALT is served. */
        snprintf(dom.served_mac[0], 18, ALT);
        dom.dhcp_on_flap = true;
        start(ACTION_FLAP, NULL, ALT);
        fake_run(1000 + 3000);
        assert_logged("escalate from=flap to=reattach mac=" OLD " reason=\"DHCP unanswered for MAC " OLD "\"");
        fake_run(300 + 8000);
        assert_logged("escalate from=reattach to=reattach mac=" ALT " reason=\"DHCP unanswered for MAC " OLD "\"");
        fake_run(300 + 600);
        assert_int_equal(dom.n_attached, 2);
        assert_string_equal(dom.attached[1], ALT);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_rule(PCI, ALT, false);
}

static void test_flap_link_up_retried(void **state) {
        /* link down works, link up is refused once: retried, never left down */
        snprintf(dom.served_mac[0], 18, OLD);
        dom.dhcp_on_flap = true;
        start(ACTION_FLAP, NULL, NULL);
        dom.fail_update = 1;
        fake_run(1000);
        assert_string_equal(dom.links, "d");
        fake_run(500);
        assert_string_equal(dom.links, "du");
        assert_logged("link up failed: fake: update refused; retrying");
        fake_run(600);
        assert_int_equal(result(ACTION_FLAP, RESULT_VERIFIED), 1);
        assert_rule(PCI, OLD, false);
}

static void test_flap_link_down_refused_replugs(void **state) {
        dom.fail_update = 1;
        start(ACTION_FLAP, NULL, NULL);
        snprintf(dom.served_mac[0], 18, OLD);
        assert_logged("escalate from=flap to=reattach mac=" OLD " reason=\"link down failed: fake: update refused\"");
        fake_run(300 + 600);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_rule(PCI, OLD, false);
}

static void test_flap_parked_on_lost_connection(void **state) {
        struct pod *p2;

        snprintf(dom.served_mac[0], 18, OLD);
        dom.dhcp_on_flap = true;
        start(ACTION_FLAP, NULL, NULL);
        fake_run(500);
        pod->alive = false;                         /* lost during the hold */
        dom.conn_dead = true;
        action_pod_lost(pod);
        fake_run(500);
        assert_string_equal(dom.links, "d");        /* link-up waits for the connection */
        assert_logged("connection lost: step waits for the daemon to come back");
        p2 = pod_new(NULL, -1, "fake-pod-again");
        p2->ns_dev = 7;
        p2->ns_ino = 42;
        dom.conn_dead = false;
        action_adopt(p2, fake_domptr(&dom));
        fake_run(0);
        assert_string_equal(dom.links, "du");
        fake_run(500);
        assert_int_equal(result(ACTION_FLAP, RESULT_VERIFIED), 1);
        assert_rule(PCI, OLD, false);
        pod_unref(p2);
}

/* ---- re-attach ---- */

static void test_reattach_slot_already_empty(void **state) {
        /* released between the decision and the unplug (or by someone else): straight to the attach */
        struct dom_nic *nics = NULL;
        size_t n = 0;

        assert_int_equal(virtdom_nics(fake_domptr(&dom), &nics, &n), 0);
        fake_guest_release(&dom, PCI, false);
        assert_int_equal(action_start(&(struct action_req) {
                .pod = pod, .dom = fake_domptr(&dom), .nic = &nics[0], .rec = &rec, .kind = ACTION_REATTACH,
                .mac_new = NEW, .t_event = fake_now_ms(), .migrated = true,
        }), 0);
        dom_nics_free(nics, n);
        assert_logged("the slot is empty: attaching");
        assert_int_equal(dom.unplug_requests, 0);
        fake_run(0);
        assert_string_equal(dom.attached[0], NEW);
        fake_run(500);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_rule(PCI, NEW, false);
}

static void test_reattach_verified(void **state) {
        start(ACTION_REATTACH, NEW, NULL);
        assert_int_equal(dom.unplug_requests, 1);
        assert_true(pending_for(PCI));              /* recorded before the unplug */
        fake_run(300);                              /* DEVICE_REMOVED */
        assert_logged("released how=device-removed removed_ms=300 reasks=0");
        fake_run(0);
        assert_int_equal(dom.n_attached, 1);
        assert_string_equal(dom.attached[0], NEW);
        fake_run(500);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_logged("verified kind=reattach renewal_ms=800 nic_state=present nic_mac=" NEW);
        assert_int_equal(relinkd_metrics.late_releases, 0);
        assert_rule(PCI, NEW, false);
}

/* Started by the job with the live element it has just read (nic_fresh): the unplug goes out without
 * a second read of the live XML; without nic_fresh (a parked job, a resumed or queued step) it reads. */
static void reattach_reads(bool fresh, unsigned want_reads) {
        struct dom_nic *nics = NULL;
        size_t n = 0;
        unsigned reads;

        assert_int_equal(virtdom_nics(fake_domptr(&dom), &nics, &n), 0);
        reads = dom.xml_reads;
        assert_int_equal(action_start(&(struct action_req) {
                .pod = pod, .dom = fake_domptr(&dom), .nic = &nics[0], .rec = &rec, .kind = ACTION_REATTACH,
                .mac_new = NEW, .t_event = fake_now_ms(), .migrated = true, .nic_fresh = fresh,
        }), 0);
        dom_nics_free(nics, n);
        assert_int_equal(dom.unplug_requests, 1);
        assert_int_equal(dom.xml_reads - reads, want_reads);
        assert_logged("detach alias=net0 new_mac=" NEW " pending_ms=0 call_ms=0");
        fake_run(300);                              /* DEVICE_REMOVED */
        fake_run(0);
        assert_string_equal(dom.attached[0], NEW);
        assert_logged("attached plug=new mac=" NEW " detach_ms=300 tries=1 call_ms=0");
        fake_run(500);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_rule(PCI, NEW, false);
}

static void test_reattach_fresh_no_second_read(void **state) {
        reattach_reads(true, 0);
}

static void test_reattach_not_fresh_reads(void **state) {
        reattach_reads(false, 1);
}

static void test_flap_fresh_no_second_read(void **state) {
        struct dom_nic *nics = NULL;
        size_t n = 0;
        unsigned reads;

        snprintf(dom.served_mac[0], 18, OLD);
        dom.dhcp_on_flap = true;
        assert_int_equal(virtdom_nics(fake_domptr(&dom), &nics, &n), 0);
        reads = dom.xml_reads;
        assert_int_equal(action_start(&(struct action_req) {
                .pod = pod, .dom = fake_domptr(&dom), .nic = &nics[0], .rec = &rec, .kind = ACTION_FLAP,
                .t_event = fake_now_ms(), .migrated = true, .nic_fresh = true,
        }), 0);
        dom_nics_free(nics, n);
        assert_string_equal(dom.links, "d");
        assert_int_equal(dom.xml_reads, reads);
        fake_run(1000);                             /* hold, link up */
        assert_string_equal(dom.links, "du");
        fake_run(500);
        assert_int_equal(result(ACTION_FLAP, RESULT_VERIFIED), 1);
        assert_rule(PCI, OLD, false);
}

static void test_reattach_unanswered_then_alt(void **state) {
        /* The target serves the VM's previous MAC while the record says another. */
        snprintf(dom.served_mac[0], 18, OLD);
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(300 + 8000);
        assert_logged("escalate from=reattach to=reattach mac=" OLD " reason=\"DHCP unanswered for MAC " NEW "\"");
        fake_run(300 + 600);
        assert_int_equal(dom.n_attached, 2);
        assert_string_equal(dom.attached[0], NEW);
        assert_string_equal(dom.attached[1], OLD);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_int_equal(result(ACTION_REATTACH, RESULT_FAILED), 0);
        assert_rule(PCI, OLD, false);
}

static void test_reattach_nothing_answers(void **state) {
        dom.served_mac[0][0] = '\0';
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(300 + 8000 + 300 + 8000);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 0);
        assert_int_equal(result(ACTION_REATTACH, RESULT_FAILED), 1);
        assert_logged("FAILED kind=reattach first=reattach reason=\"DHCP unanswered for MAC " NEW " (and " OLD
                      ")\" nic_state=present nic_mac=" OLD ": the guest did not take");   /* final: no waiting=yes */
        assert_rule(PCI, OLD, false);
}

static void test_ack_not_to_guest_is_not_verified(void **state) {
        /* An ACK the guest itself sent (incoming on the tap) is not the server's. */
        dom.dhcp_ms = -1;
        cfg.no_escalate = true;
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(300);
        fake_run(0);
        fake_port_frame("tap0", DHCP_REQUEST, NEW, NULL, false);
        fake_port_frame("tap0", DHCP_ACK, NEW, IP, false);
        fake_run(8000);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 0);
        assert_logged("reason=\"DHCP unanswered for MAC " NEW "\"");
        assert_rule(PCI, NEW, false);
}

/* Verification follows the guest (issue 8): a silent re-plugged guest is waited for the whole
 * window (real ifupdown guests asked 5-13 s after the attach), ... */
static void test_verify_silent_guest_gets_the_window(void **state) {
        cfg.verify_reattach_ms = 20000;
        dom.dhcp_ms = 12600;                        /* the slowest ifupdown guest measured */
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(300);
        fake_run(0);
        assert_string_equal(dom.attached[0], NEW);
        fake_run(12600 + 10);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_int_equal(result(ACTION_REATTACH, RESULT_ESCALATED), 0);
        assert_int_equal(result(ACTION_REATTACH, RESULT_FAILED), 0);
        assert_int_equal(dom.n_attached, 1);
}

/* ... but once it asked, the server has --answer-ms to show it serves the MAC at all: a MAC nobody
 * serves is left after 3 s, not after the whole window. */
static void test_verify_unanswered_after_answer_ms(void **state) {
        cfg.verify_reattach_ms = 20000;
        snprintf(dom.served_mac[0], 18, OLD);       /* the target serves the MAC the VM had */
        start(ACTION_REATTACH, NEW, NULL);          /* DEVICE_REMOVED at 300, DHCP 500 after the plug */
        fake_run(300);
        fake_run(0);
        fake_run(500 + 2990);
        assert_int_equal(result(ACTION_REATTACH, RESULT_ESCALATED), 0);
        fake_run(20);
        assert_int_equal(result(ACTION_REATTACH, RESULT_ESCALATED), 1);
        assert_logged("escalate from=reattach to=reattach mac=" OLD " reason=\"DHCP unanswered for MAC " NEW "\"");
        fake_run(300 + 600);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_rule(PCI, OLD, false);
}

/* ... and an exchange the server answers (a NAK for the old lease, an OFFER) gets the whole window:
 * the MAC is served, the guest is on its way. No MAC is called unanswered for it. */
static void test_verify_answered_exchange_gets_the_window(void **state) {
        dom.dhcp_ms = -1;
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(300);
        fake_run(0);
        fake_port_frame("tap0", DHCP_REQUEST, NEW, NULL, false);   /* INIT-REBOOT for the old address */
        fake_run(100);
        fake_port_frame("tap0", DHCP_NAK, NEW, NULL, true);
        fake_run(5000);                                             /* past --answer-ms */
        assert_int_equal(result(ACTION_REATTACH, RESULT_ESCALATED), 0);
        fake_port_frame("tap0", DHCP_DISCOVER, NEW, NULL, false);
        fake_port_frame("tap0", DHCP_ACK, NEW, IP, true);
        fake_run(0);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
}

/* A REQUEST for a remembered lease (INIT-REBOOT: dhclient on a re-plugged NIC) may rightly go
 * unanswered by a server that does not know that address: it does not cut the window; the guest's
 * DISCOVER after its own timeout is answered and verifies. */
static void test_verify_init_reboot_silence_keeps_the_window(void **state) {
        dom.dhcp_ms = -1;
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(300);
        fake_run(0);
        fake_port_frame("tap0", DHCP_REQUEST, NEW, NULL, false);
        fake_run(5000);                                             /* past --answer-ms, silence */
        assert_int_equal(result(ACTION_REATTACH, RESULT_ESCALATED), 0);
        fake_port_frame("tap0", DHCP_DISCOVER, NEW, NULL, false);
        fake_port_frame("tap0", DHCP_OFFER, NEW, IP, true);
        fake_port_frame("tap0", DHCP_REQUEST, NEW, NULL, false);
        fake_port_frame("tap0", DHCP_ACK, NEW, IP, true);
        fake_run(0);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_int_equal(dom.n_attached, 1);
}

/* An answered exchange that never ends in the record's lease: the window's end says so, without
 * blaming the MAC. */
static void test_verify_answered_but_no_ack(void **state) {
        dom.dhcp_ms = -1;
        cfg.no_escalate = true;
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(300);
        fake_run(0);
        fake_port_frame("tap0", DHCP_DISCOVER, NEW, NULL, false);
        fake_port_frame("tap0", DHCP_OFFER, NEW, IP, true);
        fake_run(8000);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 0);
        assert_logged("reason=\"the server answers MAC " NEW " but acknowledged no lease on " IP " within 8000 ms\"");
}

static void test_port_burst_is_capped(void **state) {
        /* Audit row 10: one port callback reads a bounded number of frames (64); a guest flooding
         * DHCP cannot hold the loop. The server's ACK behind 100 requests is seen on the next call. */
        dom.dhcp_ms = -1;
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(300);
        fake_run(0);
        fake_port_hold(true);
        for (int i = 0; i < 100; i++)
                fake_port_frame("tap0", DHCP_REQUEST, NEW, NULL, false);
        fake_port_frame("tap0", DHCP_ACK, NEW, IP, true);
        fake_port_hold(false);
        fake_port_ready("tap0");
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 0);
        fake_port_ready("tap0");
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
}

static void test_ack_for_other_address_waits(void **state) {
        dom.dhcp_ms = -1;
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(300);
        fake_run(0);
        fake_port_frame("tap0", DHCP_ACK, NEW, "10.244.1.10", true);
        assert_logged("dhcp-ack for 10.244.1.10, expected " IP ": still waiting");
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 0);
        fake_port_frame("tap0", DHCP_ACK, NEW, IP, true);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_rule(PCI, NEW, false);
}

/* DEVICE_REMOVED after every deadline: before the unplug deadline, just after, after the first
 * re-asks, after the reconnect orphan window, long after. */
static void test_removed_after_every_deadline(void **state) {
        static const unsigned release_ms[] = { 4999, 5001, 8000, 30000, 61000, 600000 };

        world_down(state);
        for (size_t i = 0; i < ARRAY_SIZE(release_ms); i++) {
                char late[64];

                world_up(state);
                dom.release_on = 0;                  /* not by itself: at release_ms */
                start(ACTION_REATTACH, NEW, NULL);
                fake_run(release_ms[i]);
                assert_int_equal(dom.n_nics, 1);     /* still held */
                assert_int_equal(result(ACTION_REATTACH, RESULT_FAILED), release_ms[i] > 5000);
                if (release_ms[i] > 5000)
                        assert_logged("reason=\"guest has not released the NIC after 5 s; NIC still present with MAC "
                                      OLD "\" nic_state=present nic_mac=" OLD " waiting=yes");   /* a status, not the end */
                fake_guest_release(&dom, PCI, true);
                assert_int_equal(relinkd_metrics.nics_missing, 1);
                fake_run(0);
                assert_int_equal(relinkd_metrics.nics_missing, 0);
                assert_string_equal(dom.attached[0], NEW);
                if (release_ms[i] > 5000) {
                        snprintf(late, sizeof(late), "late_ms=%u", release_ms[i] - 5000);
                        assert_logged(late);
                }
                assert_int_equal(relinkd_metrics.late_releases, release_ms[i] > 5000);
                fake_run(500);
                assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
                assert_int_equal(relinkd_metrics.recovered_late, release_ms[i] > 5000);
                if (release_ms[i] > 5000)
                        assert_logged("recovered-late kind=reattach");
                assert_true(dom.unplug_requests >= 1 + (release_ms[i] >= 8000));   /* re-asked meanwhile */
                assert_rule(PCI, NEW, false);
                world_down(state);
        }
        world_up(state);
}

static void test_metrics_rendered(void **state) {
        _cleanup_free_ char *text = NULL;

        dom.release_on = 0;
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(9000);
        fake_guest_release(&dom, PCI, true);
        assert_int_equal(metrics_render(&relinkd_metrics, &text), 0);
        assert_non_null(strstr(text, "\nrelinkd_nics_missing 1\n"));
        free(TAKE_PTR(text));
        fake_run(500);
        assert_int_equal(metrics_render(&relinkd_metrics, &text), 0);
        assert_non_null(strstr(text, "\nrelinkd_nics_missing 0\n"));
        assert_non_null(strstr(text, "\nrelinkd_late_releases_total 1\n"));
        assert_non_null(strstr(text, "\nrelinkd_recovered_late_total 1\n"));
        assert_non_null(strstr(text, "\nrelinkd_unplug_reasks_total 2\n"));      /* at 2 and 6 s */
        assert_non_null(strstr(text, "relinkd_actions_total{kind=\"reattach\",result=\"failed\"} 1\n"));
        assert_non_null(strstr(text, "relinkd_actions_total{kind=\"reattach\",result=\"verified\"} 1\n"));
        assert_rule(PCI, NEW, false);
}

static void test_removal_seen_only_by_polling(void **state) {
        dom.announce = false;
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(300);
        assert_int_equal(dom.n_nics, 0);
        fake_run(250);                              /* the next poll of the live XML */
        assert_logged("released how=live-xml");
        fake_run(0);
        assert_string_equal(dom.attached[0], NEW);
        fake_run(500);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_rule(PCI, NEW, false);
}

static void test_reask_until_released(void **state) {
        /* The guest missed the first request and acts on the second (the re-ask). */
        dom.release_on = 2;
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(1999);
        assert_int_equal(dom.unplug_requests, 1);
        fake_run(1);
        assert_int_equal(dom.unplug_requests, 2);
        assert_logged("unplug re-asked n=1 waited_ms=2000");
        fake_run(300);
        assert_logged("released how=device-removed removed_ms=2300 reasks=1");
        fake_run(500);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_int_equal(relinkd_metrics.unplug_reasks, 1);
        assert_rule(PCI, NEW, false);
}

static void test_reask_backoff(void **state) {
        dom.release_on = 0;
        start(ACTION_REATTACH, NEW, NULL);
        /* asked at 0, re-asked at 2, 6, 14, 30, 60, 90 s */
        fake_run(90000);
        assert_int_equal(dom.unplug_requests, 7);
        assert_int_equal(result(ACTION_REATTACH, RESULT_FAILED), 1);   /* once, a status */
        assert_int_equal(actions_active(), 1);
        assert_rule(PCI, OLD, true);
        fake_guest_release(&dom, PCI, true);
        fake_run(500);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_rule(PCI, NEW, false);
}

/* ---- restarts and reconnects ---- */

static void resume_from_domain(void) {
        struct pending_nic *p = NULL;
        struct dom_nic *pn = NULL;
        _cleanup_free_ char *wrapped = NULL;
        size_t n = 0, npn = 0;

        /* what reconcile's resume_pending does after a restart */
        assert_int_equal(pending_get(fake_domptr(&dom), &p, &n), 0);
        assert_int_equal(n, 1);
        assert_true(asprintf(&wrapped, "<domain><devices>%s</devices></domain>", p[0].iface_xml) > 0);
        assert_int_equal(domxml_nics(wrapped, &pn, &npn), 0);
        assert_int_equal(action_start(&(struct action_req) {
                .pod = pod, .dom = fake_domptr(&dom), .nic = &pn[0], .rec = &rec, .kind = ACTION_REATTACH,
                .t_event = fake_now_ms(), .migrated = false, .resume = &p[0],
        }), 0);
        dom_nics_free(pn, npn);
        pending_free(p, n);
}

static void test_restart_with_unplug_outstanding(void **state) {
        dom.release_on = 0;
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(6000);
        actions_shutdown();                         /* relinkd stops: the entry stays in the domain */
        assert_int_equal(actions_active(), 0);
        assert_rule(PCI, OLD, true);
        fake_run(4000);
        resume_from_domain();                       /* the next relinkd */
        assert_logged("the guest still holds the NIC (asked 10000 ms ago)");
        fake_run(3000);
        assert_true(dom.unplug_requests >= 2);      /* it re-asks too */
        fake_guest_release(&dom, PCI, true);
        assert_logged("late_ms=8000");
        fake_run(500);
        assert_string_equal(dom.attached[0], NEW);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_rule(PCI, NEW, false);
}

static void test_restart_released_meanwhile(void **state) {
        dom.release_on = 0;
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(1000);
        actions_shutdown();
        fake_guest_release(&dom, PCI, false);       /* nobody listening */
        assert_int_equal(dom.n_nics, 0);
        resume_from_domain();
        assert_logged("the guest released the NIC");
        fake_run(0);
        assert_string_equal(dom.attached[0], NEW);
        fake_run(500);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_rule(PCI, NEW, false);
}

static void test_restart_after_attach(void **state) {
        /* killed between the attach and clearing the entry */
        start(ACTION_REATTACH, NEW, NULL);
        assert_true(pending_for(PCI));
        {
                struct pending_nic *p = NULL;
                size_t n = 0;
                _cleanup_free_ char *saved = NULL;

                assert_int_equal(pending_get(fake_domptr(&dom), &p, &n), 0);
                fake_run(300 + 500);
                assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
                assert_int_equal(pending_set(fake_domptr(&dom), &p[0]), 0);   /* as if never cleared */
                pending_free(p, n);
        }
        resume_from_domain();
        assert_logged("already re-attached with " NEW);
        assert_false(pending_for(PCI));
        fake_port_frame("tap0", DHCP_ACK, NEW, IP, true);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 2);
        assert_int_equal(dom.n_attached, 1);
        assert_rule(PCI, NEW, false);
}

static void test_adopt_after_reconnect(void **state) {
        struct pod *p2;

        dom.announce = false;
        dom.release_on = 0;
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(1000);
        pod->alive = false;                         /* the launcher's daemon restarts */
        dom.conn_dead = true;
        action_pod_lost(pod);
        fake_guest_release(&dom, PCI, false);       /* DEVICE_REMOVED lost with the connection */
        fake_run(5000);                             /* the deadline fires: parked, not failed */
        assert_int_equal(result(ACTION_REATTACH, RESULT_FAILED), 0);
        assert_int_equal(dom.n_attached, 0);
        p2 = pod_new(NULL, -1, "fake-pod-again");
        p2->ns_dev = 7;
        p2->ns_ino = 42;
        dom.conn_dead = false;
        dom.pod = p2;
        action_adopt(p2, fake_domptr(&dom));
        assert_logged("connection back: resuming reattach (phase detaching)");
        fake_run(0);
        assert_string_equal(dom.attached[0], NEW);
        fake_run(500);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_rule(PCI, NEW, false);
        dom.pod = pod;
        pod_unref(p2);
}

static void test_attach_parked_on_lost_connection(void **state) {
        struct pod *p2;

        start(ACTION_REATTACH, NEW, NULL);
        dom.conn_dead = true;                       /* dies right as the guest releases */
        fake_run(300);
        fake_run(0);
        assert_logged("connection lost during a libvirt call");
        assert_int_equal(relinkd_metrics.nics_missing, 1);
        pod->alive = false;
        action_pod_lost(pod);
        p2 = pod_new(NULL, -1, "fake-pod-again");
        p2->ns_dev = 7;
        p2->ns_ino = 42;
        dom.conn_dead = false;
        action_adopt(p2, fake_domptr(&dom));
        fake_run(0);
        assert_string_equal(dom.attached[0], NEW);
        fake_run(500);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_rule(PCI, NEW, false);
        pod_unref(p2);
}

static void test_orphaned_then_resumed(void **state) {
        /* the connection never comes back within the orphan window; a later reconcile resumes */
        dom.release_on = 0;
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(1000);
        pod->alive = false;
        action_pod_lost(pod);
        fake_run(60000);
        assert_int_equal(actions_active(), 0);
        assert_logged("outstanding entry in the domain resumes it on reconnect");
        assert_true(pending_for(PCI));
        pod->alive = true;
        resume_from_domain();
        fake_guest_release(&dom, PCI, true);
        fake_run(500);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_rule(PCI, NEW, false);
}

/* ---- attach errors ---- */

static void test_attach_fails_once(void **state) {
        dom.fail_attach = 1;
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(300);
        assert_logged("attach failed plug=new error=\"fake: attach refused\": next plug=new in 500 ms");
        assert_int_equal(relinkd_metrics.nics_missing, 1);
        fake_run(500);
        assert_string_equal(dom.attached[0], NEW);
        fake_run(500);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_rule(PCI, NEW, false);
}

static void test_tap_removed_then_restored(void **state) {
        dom.tap_gone = true;
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(300 + 500 + 1000);                 /* three tries of the new NIC */
        assert_int_equal(dom.n_nics, 0);
        assert_logged("attach failed plug=new error=\"Unable to get index for interface: No such device\": next "
                      "plug=new in 2000 ms");
        dom.tap_gone = false;
        fake_run(2000);
        assert_string_equal(dom.attached[0], NEW);
        fake_run(500);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_rule(PCI, NEW, false);
}

static void test_new_nic_refused_old_back(void **state) {
        /* libvirt refuses the new element; the guest's own goes back and is verified */
        dom.fail_attach = 4;
        snprintf(dom.served_mac[0], 18, OLD);
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(300 + 500 + 1000 + 2000 + 500);   /* new ×4, then at once the guest's own */
        assert_string_equal(dom.attached[0], OLD);
        assert_logged("attached plug=had mac=" OLD);
        fake_run(500);
        assert_int_equal(relinkd_metrics.attach_fallbacks, 1);
        assert_logged("verified kind=reattach note=fallback=had");
        assert_rule(PCI, OLD, false);
}

static void test_new_nic_refused_old_unanswered(void **state) {
        dom.fail_attach = 4;
        dom.served_mac[0][0] = '\0';
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(300 + 500 + 1000 + 2000 + 500 + 8000);
        assert_logged("reason=\"the new NIC could not be attached (fake: attach refused); the guest's own NIC is "
                      "back: DHCP unanswered for MAC " OLD "\" nic_state=present nic_mac=" OLD);
        assert_rule(PCI, OLD, false);
}

static void test_tap_gone_for_good(void **state) {
        dom.tap_gone = true;
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(300 + 500 + 1000 + 2000 + 500 + 500); /* new ×4, the guest's own (same tap), unconnected */
        assert_int_equal(dom.n_nics, 1);
        assert_string_equal(dom.nics[0].tap, "");
        assert_string_equal(dom.attached[0], "-");
        assert_logged("connected to nothing, not the pod's network\" nic_state=present nic_mac=" OLD);
        assert_int_equal(result(ACTION_REATTACH, RESULT_FAILED), 1);
        assert_rule(PCI, OLD, false);
}

static void test_tap_gone_session_daemon(void **state) {
        /* a non-root launcher cannot make a tap either: QEMU's user-mode network keeps the NIC */
        dom.tap_gone = true;
        dom.unprivileged = true;
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(300 + 500 + 1000 + 2000 + 500 + 500 + 500);
        assert_int_equal(dom.n_nics, 1);
        assert_string_equal(dom.nics[0].tap, "user");
        assert_logged("attach failed plug=unconnected error=\"Unable to create tap device: Operation not permitted\"");
        assert_logged("on QEMU's user-mode network, not the pod's network\" nic_state=present nic_mac=" OLD);
        assert_int_equal(relinkd_metrics.attach_fallbacks, 1);
        assert_rule(PCI, OLD, false);
}

static void test_no_attach_works_keeps_trying(void **state) {
        dom.fail_attach = 1000;
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(300 + 120000);
        assert_int_equal(actions_active(), 1);
        assert_int_equal(relinkd_metrics.nics_missing, 1);
        assert_int_equal(result(ACTION_REATTACH, RESULT_FAILED), 1);
        assert_logged("no NIC could be attached at the slot; NIC absent\" nic_state=absent");
        dom.fail_attach = 0;
        fake_run(30000);
        assert_int_equal(dom.n_nics, 1);
        fake_run(500);
        assert_int_equal(actions_active(), 0);
        assert_rule(PCI, NULL, false);
}

static void test_slot_occupied_adopted(void **state) {
        /* the launcher's own sync plugged the old NIC back before our attach */
        dom.announce = false;
        snprintf(dom.served_mac[0], 18, OLD);
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(300);
        fake_dom_add_nic(&dom, PCI, OLD, "tap0");
        fake_run(250);
        assert_logged("released how=replaced");
        fake_run(0);
        assert_logged("the slot is occupied by a NIC with MAC " OLD ": adopted (plugged by someone else)");
        assert_int_equal(dom.attach_calls, 0);
        fake_port_frame("tap0", DHCP_ACK, OLD, IP, true);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_rule(PCI, OLD, false);
}

static void test_detach_refused(void **state) {
        dom.fail_detach = 1;
        start(ACTION_REATTACH, NEW, NULL);
        assert_logged("reason=\"detach failed: fake: detach refused\" nic_state=present nic_mac=" OLD);
        assert_rule(PCI, OLD, false);
}

static void test_reread_fails_before_attach(void **state) {
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(299);
        dom.fail_xml = 1;
        fake_run(1);
        assert_logged("cannot read the live XML before attaching: fake: cannot get the XML; retrying");
        fake_run(500);
        assert_string_equal(dom.attached[0], NEW);
        fake_run(500);
        assert_rule(PCI, NEW, false);
}

/* ---- the guest, the domain, the daemon ---- */

static void test_replug_when_guest_ejects_again(void **state) {
        dom.eject_plugged = true;
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(300);
        fake_run(100);                              /* plugged, ejected 100 ms later */
        fake_run(0);
        assert_logged("the guest ejected the re-plugged NIC: plugging it again (1/2)");
        fake_run(0);
        assert_int_equal(dom.n_attached, 2);
        fake_run(500);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_rule(PCI, NEW, false);
}

static void test_hotplugs_of_one_domain_queue(void **state) {
        fake_dom_add_nic(&dom, PCI2, "02:00:00:00:00:02", "tap1");
        snprintf(dom.served_mac[1], 18, "02:00:00:00:00:22");
        start(ACTION_REATTACH, NEW, NULL);
        assert_int_equal(start_on(PCI2, ACTION_REATTACH, "02:00:00:00:00:22", NULL), 0);
        assert_int_equal(start_on(PCI2, ACTION_REATTACH, NULL, NULL), -EBUSY);
        assert_logged("re-plug queued behind another hot-plug of this domain");
        assert_int_equal(dom.unplug_requests, 1);
        fake_run(300);
        fake_run(0);                                /* first attached → second starts */
        assert_int_equal(dom.unplug_requests, 2);
        fake_run(300 + 500);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 2);
        assert_rule(PCI, NEW, false);
        assert_rule(PCI2, "02:00:00:00:00:22", false);
}

static void test_stuck_unplug_does_not_hold_the_queue(void **state) {
        /* the first NIC's guest never lets go; the second NIC goes ahead once the first is past its deadline */
        fake_dom_add_nic(&dom, PCI2, "02:00:00:00:00:02", "tap1");
        snprintf(dom.served_mac[1], 18, "02:00:00:00:00:22");
        dom.release_on = 0;
        start(ACTION_REATTACH, NEW, NULL);
        assert_int_equal(start_on(PCI2, ACTION_REATTACH, "02:00:00:00:00:22", NULL), 0);
        fake_run(4999);
        assert_int_equal(fake_dom_nic(&dom, PCI2)->requests, 0);
        fake_run(1);
        fake_run(0);
        assert_int_equal(fake_dom_nic(&dom, PCI2)->requests, 1);
        fake_guest_release(&dom, PCI2, true);
        fake_run(500);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_rule(PCI2, "02:00:00:00:00:22", false);
        assert_rule(PCI, OLD, true);                /* still waiting for the first guest */
}

static void test_domain_stops_mid_unplug(void **state) {
        dom.release_on = 0;
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(1000);
        action_domain_gone(pod, fake_domptr(&dom));
        fake_run(0);
        assert_int_equal(actions_active(), 0);
        assert_int_equal(relinkd_metrics.nics_missing, 0);
        assert_logged("aborted kind=reattach phase=detaching reason=\"domain stopped\"");
}

static void test_shutdown_mid_flap(void **state) {
        start(ACTION_FLAP, NULL, NULL);
        fake_run(500);
        actions_shutdown();
        assert_string_equal(dom.links, "du");
        assert_logged("shutdown: link brought up");
        assert_rule(PCI, OLD, false);
}

static void test_shutdown_after_release(void **state) {
        dom.fail_attach = 1;
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(300);                              /* released; the first attach failed */
        assert_int_equal(relinkd_metrics.nics_missing, 1);
        actions_shutdown();                         /* puts a NIC back before exiting */
        assert_logged("shutdown: attached plug=new");
        assert_rule(PCI, NEW, false);
}

/* The NIC's metadata entry while verifying, and after: applied=<kind> from the last change to the
 * verdict (a relinkd killed meanwhile does not act again after its restart), cleared by verified. */
static const struct meta_nic *meta_of(const char *pci, struct meta_nic **buf) {
        size_t n = 0;

        free(*buf);
        *buf = NULL;
        if (virtdom_meta_get(fake_domptr(&dom), buf, &n) < 0)
                return NULL;
        return metadata_find(*buf, n, pci);
}

static void test_applied_while_verifying(void **state) {
        _cleanup_free_ struct meta_nic *buf = NULL;
        const struct meta_nic *m;

        dom.dhcp_ms = 500;
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(300 + 100);                         /* attached, verifying */
        m = meta_of(PCI, &buf);
        assert_non_null(m);
        assert_string_equal(m->applied, "reattach");
        assert_string_equal(m->id.mac, NEW);
        fake_run(1000);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        m = meta_of(PCI, &buf);
        assert_non_null(m);
        assert_string_equal(m->applied, "");
        assert_string_equal(m->id.mac, NEW);
}

static void test_shutdown_mid_verify(void **state) {
        dom.dhcp_ms = -1;
        start(ACTION_REATTACH, NEW, NULL);
        fake_run(300 + 100);
        actions_shutdown();
        assert_logged("aborted kind=reattach phase=verify reason=\"shutdown\" nic_state=present nic_mac=" NEW);
        assert_rule(PCI, NEW, false);
}

static void test_no_escalate_reports(void **state) {
        cfg.no_escalate = true;
        start(ACTION_FLAP, NULL, NULL);
        fake_run(1000 + 3000);
        assert_int_equal(dom.attach_calls, 0);
        assert_logged("FAILED kind=flap first=flap reason=\"no DHCP from the guest within 3000 ms\"");
        assert_rule(PCI, OLD, false);
}

/* ---- policy: the rungs an operator allows ---- */

static void test_allow_flap_never_replugs(void **state) {
        /* policy flap: a guest that ignores the flap is reported, never re-plugged */
        snprintf(dom.served_mac[0], 18, OLD);
        assert_int_equal(start_allowed(ACTION_FLAP, NULL, ALT, ACTION_ALLOW_FLAP), 0);
        fake_run(1000 + 3000 + 10000);
        assert_string_equal(dom.links, "du");
        assert_int_equal(dom.unplug_requests, 0);
        assert_int_equal(dom.attach_calls, 0);
        assert_int_equal(fake_log_count("escalate "), 0);
        assert_logged("FAILED kind=flap first=flap reason=\"no DHCP from the guest within 3000 ms\"");
        assert_rule(PCI, OLD, false);
}

static void test_allow_replug_flap_starts_at_same_mac_replug(void **state) {
        /* policy replug: a flap decision starts at the same-MAC re-plug, the link is never flapped */
        snprintf(dom.served_mac[0], 18, OLD);
        assert_int_equal(start_allowed(ACTION_FLAP, NULL, ALT, ACTION_ALLOW_REPLUG), 0);
        fake_run(300 + 600);
        assert_string_equal(dom.links, "");
        assert_int_equal(dom.n_attached, 1);
        assert_string_equal(dom.attached[0], OLD);
        assert_int_equal(result(ACTION_REATTACH, RESULT_VERIFIED), 1);
        assert_int_equal(result(ACTION_FLAP, RESULT_VERIFIED), 0);
        assert_rule(PCI, OLD, false);
}

static void test_allow_nothing_left_is_eperm(void **state) {
        /* policy flap on a guest that needs a new MAC: no rung left, nothing touched */
        assert_int_equal(start_allowed(ACTION_REATTACH, NEW, NULL, ACTION_ALLOW_FLAP), -EPERM);
        assert_int_equal(dom.unplug_requests, 0);
        assert_int_equal(dom.attach_calls, 0);
        assert_int_equal(dom.update_calls, 0);
        assert_string_equal(dom.links, "");
        assert_int_equal(fake_timers_pending(), 0);
        assert_rule(PCI, OLD, false);
}

#define T(f) cmocka_unit_test_setup_teardown(f, world_up, world_down)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_allow_flap_never_replugs),
                T(test_allow_replug_flap_starts_at_same_mac_replug),
                T(test_allow_nothing_left_is_eperm),
                T(test_flap_verified),
                T(test_flap_ignored_replug_same_mac),
                T(test_skip_flap_replugs_at_once),
                T(test_skip_flap_failed_says_first_reattach),
                T(test_worked_recorded),
                T(test_flap_unanswered_climbs_to_alt),
                T(test_flap_link_up_retried),
                T(test_flap_link_down_refused_replugs),
                T(test_flap_parked_on_lost_connection),
                T(test_reattach_slot_already_empty),
                T(test_reattach_verified),
                T(test_reattach_fresh_no_second_read),
                T(test_reattach_not_fresh_reads),
                T(test_flap_fresh_no_second_read),
                T(test_reattach_unanswered_then_alt),
                T(test_reattach_nothing_answers),
                T(test_ack_not_to_guest_is_not_verified),
                T(test_verify_silent_guest_gets_the_window),
                T(test_verify_unanswered_after_answer_ms),
                T(test_verify_answered_exchange_gets_the_window),
                T(test_verify_answered_but_no_ack),
                T(test_verify_init_reboot_silence_keeps_the_window),
                T(test_port_burst_is_capped),
                T(test_ack_for_other_address_waits),
                T(test_removed_after_every_deadline),
                T(test_metrics_rendered),
                T(test_removal_seen_only_by_polling),
                T(test_reask_until_released),
                T(test_reask_backoff),
                T(test_restart_with_unplug_outstanding),
                T(test_restart_released_meanwhile),
                T(test_restart_after_attach),
                T(test_adopt_after_reconnect),
                T(test_attach_parked_on_lost_connection),
                T(test_orphaned_then_resumed),
                T(test_attach_fails_once),
                T(test_tap_removed_then_restored),
                T(test_new_nic_refused_old_back),
                T(test_new_nic_refused_old_unanswered),
                T(test_tap_gone_for_good),
                T(test_tap_gone_session_daemon),
                T(test_no_attach_works_keeps_trying),
                T(test_slot_occupied_adopted),
                T(test_detach_refused),
                T(test_reread_fails_before_attach),
                T(test_replug_when_guest_ejects_again),
                T(test_hotplugs_of_one_domain_queue),
                T(test_stuck_unplug_does_not_hold_the_queue),
                T(test_domain_stops_mid_unplug),
                T(test_shutdown_mid_flap),
                T(test_shutdown_after_release),
                T(test_shutdown_mid_verify),
                T(test_applied_while_verifying),
                T(test_no_escalate_reports),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
