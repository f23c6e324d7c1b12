/* SPDX-License-Identifier: MIT */
/* The standing watch of the guests' DHCP clients (trigger/guestwatch.c) on a fake domain, fake ports
 * and a fake clock (tests/unit/fake_virt.h): what is written into the domain's relink metadata and
 * when not, the reopen ladder when the tap goes away, and that every way a watch ends gives back
 * everything it held (ports, timers, domain and pod references; ASan in the sanitize tier). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/log.h"
#include "common/util.h"
#include "tests/unit/fake_virt.h"
#include "trigger/guestwatch.h"
#include "trigger/options.h"
#include "trigger/virtdom.h"

#define PCI "0000:00:03.0"
#define PCI2 "0000:00:04.0"
#define MAC "02:00:00:00:00:01"
#define MAC2 "02:00:00:00:00:02"
#define REOPEN_MS 1000           /* guestwatch.c's ladder: every second … */
#define REOPEN_TRIES 120         /* … this many times */

static struct opts cfg;
static struct pod *pod;
static struct fake_dom dom, dom2;

/* Parameter request lists of the real clients (trigger/fingerprint.c, tests/unit/test_fingerprint.c). */
static const uint8_t prl_networkd[] = { 1, 3, 6, 12, 15, 33, 42, 120, 121 };
static const uint8_t prl_nm[] = { 1, 2, 6, 12, 15, 26, 28, 121, 3, 33, 40, 41, 42, 119, 249, 252, 17 };
static const uint8_t prl_plain[] = { 1, 3, 6 };      /* matches no client */

enum client_pkt { PKT_NETWORKD, PKT_NM, PKT_UNKNOWN };

/* A client → server packet; renewal: a REQUEST without option 50 (else a DISCOVER). */
static void send_client(const char *tap, const char *mac, enum client_pkt c, bool renewal) {
        struct dhcp_seen s = { .op = 1, .msgtype = renewal ? DHCP_REQUEST : DHCP_DISCOVER, .has_prl = true,
                               .client_id_type = -1 };
        const uint8_t *prl = c == PKT_NETWORKD ? prl_networkd : c == PKT_NM ? prl_nm : prl_plain;
        size_t n = c == PKT_NETWORKD ? sizeof(prl_networkd) : c == PKT_NM ? sizeof(prl_nm) : sizeof(prl_plain);

        snprintf(s.chaddr, sizeof(s.chaddr), "%s", mac);
        memcpy(s.prl, prl, n);
        s.n_prl = (uint8_t) n;
        s.opts[s.n_opts++] = 53;
        s.opts[s.n_opts++] = 55;
        fake_port_push(tap, &s);
}

static int world_up(void **state) {
        fake_install();
        cfg = (struct opts) { .hold_ms = 1000 };
        relinkd_cfg = &cfg;
        fake_log_open("test_guestwatch");
        pod = pod_new(NULL, -1, "fake-pod");
        assert_non_null(pod);
        fake_dom_init(&dom, "default_vm", pod);
        fake_dom_add_nic(&dom, PCI, MAC, "tap0");
        fake_dom_add_nic(&dom, PCI2, MAC2, "tap1");
        fake_dom_init(&dom2, "default_vm2", pod);
        fake_dom_add_nic(&dom2, PCI, MAC, "tap9");
        return 0;
}

/* Whatever a test left running: shutdown gives everything back. */
static int world_down(void **state) {
        guestwatch_shutdown();
        assert_int_equal(guestwatch_active(), 0);
        assert_int_equal(fake_ports_open(), 0);
        assert_int_equal(fake_timers_pending(), 0);
        assert_int_equal(dom.refs, 0);
        assert_int_equal(dom2.refs, 0);
        assert_int_equal(pod->refs, 1);
        fake_dom_free(&dom);
        fake_dom_free(&dom2);
        pod_unref(pod);
        fake_log_close();
        fake_uninstall();
        relinkd_cfg = NULL;
        return 0;
}

/* The domain's relink metadata: an entry per NIC of d, with client c on the first (CLIENT_UNKNOWN:
 * no client attribute). The write is not counted. */
static void record_nics(struct fake_dom *d, enum guest_client c) {
        struct meta_nic nics[FAKE_MAX_NICS] = { 0 };

        for (size_t i = 0; i < d->n_nics; i++) {
                snprintf(nics[i].pci, sizeof(nics[i].pci), "%s", d->nics[i].pci);
                snprintf(nics[i].id.mac, sizeof(nics[i].id.mac), "%s", d->nics[i].mac);
                nics[i].id.mtu = 1500;
                if (i == 0 && c != CLIENT_UNKNOWN) {
                        nics[i].client = c;
                        nics[i].client_src = SRC_BOOT;
                }
        }
        assert_int_equal(virtdom_meta_put(fake_domptr(d), nics, d->n_nics), 0);
        d->meta_sets = 0;
}

/* What the metadata says of the NIC at pci. */
static struct meta_nic entry(struct fake_dom *d, const char *pci) {
        _cleanup_free_ struct meta_nic *nics = NULL;
        const struct meta_nic *e;
        size_t n = 0;

        assert_int_equal(virtdom_meta_get(fake_domptr(d), &nics, &n), 0);
        e = metadata_find(nics, n, pci);
        assert_non_null(e);
        return *e;
}

/* Follow the NIC at pci as a domain job does: with its metadata entry, if it has one. */
static void follow(struct fake_dom *d, const char *pci, const char *tap) {
        _cleanup_free_ struct meta_nic *nics = NULL;
        size_t n = 0;
        int r = virtdom_meta_get(fake_domptr(d), &nics, &n);

        assert_true(r == 0 || r == -ENOENT);
        guestwatch_follow(pod, fake_domptr(d), pci, tap, metadata_find(nics, n, pci));
}

static void test_known_client_not_rewritten(void **state) {
        record_nics(&dom, CLIENT_NM);
        follow(&dom, PCI, "tap0");
        assert_int_equal(guestwatch_active(), 1);
        send_client("tap0", MAC, PKT_NM, false);
        send_client("tap0", MAC, PKT_NM, true);
        assert_int_equal(fake_timers_pending(), 0);         /* not even a write scheduled */
        fake_run(0);
        send_client("tap0", MAC, PKT_NM, true);
        fake_run(60000);
        assert_int_equal(dom.meta_sets, 0);
        assert_int_equal(entry(&dom, PCI).client, CLIENT_NM);
        assert_int_equal(fake_log_count("client=nm src="), 0);
        assert_int_equal(fake_log_count("DHCP type=3 from " MAC ": client=nm"), 2);   /* it did read them */
}

static void test_new_client_written_once(void **state) {
        struct meta_nic e;

        record_nics(&dom, CLIENT_NM);
        follow(&dom, PCI, "tap0");
        /* A burst of one client (a DISCOVER and its retransmission): one write, from a timer (never
         * from the packet callback). */
        send_client("tap0", MAC, PKT_NETWORKD, false);
        send_client("tap0", MAC, PKT_NETWORKD, false);
        assert_int_equal(dom.meta_sets, 0);
        fake_run(0);
        assert_int_equal(dom.meta_sets, 1);
        e = entry(&dom, PCI);
        assert_int_equal(e.client, CLIENT_NETWORKD);
        assert_int_equal(e.client_src, SRC_BOOT);
        assert_string_equal(e.id.mac, MAC);                 /* the rest of the entry kept */
        assert_int_equal(e.id.mtu, 1500);
        e = entry(&dom, PCI2);                              /* the other NIC's entry untouched */
        assert_string_equal(e.id.mac, MAC2);
        assert_int_equal(e.client, CLIENT_UNKNOWN);
        assert_int_equal(fake_log_count("nic=" PCI " tap=tap0 client=networkd src=boot (was nm)"), 1);
        /* Renewals of the same client afterwards: nothing more. */
        for (int i = 0; i < 5; i++) {
                send_client("tap0", MAC, PKT_NETWORKD, true);
                fake_run(1000);
        }
        assert_int_equal(dom.meta_sets, 1);
}

static void test_source_of_the_first_sight(void **state) {
        record_nics(&dom, CLIENT_UNKNOWN);
        follow(&dom, PCI, "tap0");
        send_client("tap0", MAC, PKT_NM, true);             /* a renewal is the first thing seen */
        fake_run(0);
        assert_int_equal(dom.meta_sets, 1);
        assert_int_equal(entry(&dom, PCI).client, CLIENT_NM);
        assert_int_equal(entry(&dom, PCI).client_src, SRC_RENEWAL);
        assert_int_equal(fake_log_count("client=nm src=renewal (was unknown)"), 1);
}

static void test_unknown_client_never_written(void **state) {
        record_nics(&dom, CLIENT_NM);
        follow(&dom, PCI, "tap0");
        send_client("tap0", MAC, PKT_UNKNOWN, false);
        send_client("tap0", MAC, PKT_UNKNOWN, true);
        fake_run(10000);
        assert_int_equal(dom.meta_sets, 0);
        assert_int_equal(entry(&dom, PCI).client, CLIENT_NM);
        /* … and it does not reset what was seen before: a flip back and forth writes nothing. */
        send_client("tap0", MAC, PKT_NETWORKD, true);
        send_client("tap0", MAC, PKT_NM, true);
        fake_run(0);
        assert_int_equal(dom.meta_sets, 0);
}

static void test_client_seen_before_entry_existed(void **state) {
        follow(&dom, PCI, "tap0");                          /* no metadata at all yet */
        send_client("tap0", MAC, PKT_NM, false);
        fake_run(0);
        assert_int_equal(dom.meta_sets, 0);
        assert_int_equal(fake_log_count("client=nm seen before the NIC's identity was recorded"), 1);
        /* The job records the NIC's identity, then follows again: the client is said now, by the
         * same watch (no second port). */
        record_nics(&dom, CLIENT_UNKNOWN);
        follow(&dom, PCI, "tap0");
        assert_int_equal(fake_ports_open(), 1);
        assert_int_equal(fake_port_opens(), 1);
        fake_run(0);
        assert_int_equal(dom.meta_sets, 1);
        assert_int_equal(entry(&dom, PCI).client, CLIENT_NM);
        assert_int_equal(entry(&dom, PCI).client_src, SRC_BOOT);
}

static void test_metadata_rewritten_without_client(void **state) {
        /* Someone rewrote the metadata from an older snapshot (no client): the next follow says it again. */
        record_nics(&dom, CLIENT_UNKNOWN);
        follow(&dom, PCI, "tap0");
        send_client("tap0", MAC, PKT_NETWORKD, false);
        fake_run(0);
        assert_int_equal(dom.meta_sets, 1);
        record_nics(&dom, CLIENT_UNKNOWN);
        follow(&dom, PCI, "tap0");
        fake_run(0);
        assert_int_equal(dom.meta_sets, 1);
        assert_int_equal(entry(&dom, PCI).client, CLIENT_NETWORKD);
        /* Followed with an entry that already says so: nothing. */
        follow(&dom, PCI, "tap0");
        fake_run(0);
        assert_int_equal(dom.meta_sets, 1);
}

static void test_write_refused_is_retried(void **state) {
        record_nics(&dom, CLIENT_NM);
        follow(&dom, PCI, "tap0");
        dom.fail_meta_set = 1;
        send_client("tap0", MAC, PKT_NETWORKD, false);
        fake_run(0);
        assert_int_equal(dom.meta_sets, 0);
        assert_int_equal(fake_log_count("cannot record client=networkd: fake: metadata refused"), 1);
        assert_int_equal(entry(&dom, PCI).client, CLIENT_NM);
        send_client("tap0", MAC, PKT_NETWORKD, true);       /* the next renewal tries again */
        fake_run(0);
        assert_int_equal(dom.meta_sets, 1);
        assert_int_equal(entry(&dom, PCI).client, CLIENT_NETWORKD);
}

static void test_observe_only_writes_nothing(void **state) {
        cfg.dry_run = true;
        record_nics(&dom, CLIENT_NM);
        follow(&dom, PCI, "tap0");
        send_client("tap0", MAC, PKT_NETWORKD, false);
        fake_run(0);
        send_client("tap0", MAC, PKT_NETWORKD, true);
        fake_run(0);
        assert_int_equal(dom.meta_sets, 0);
        assert_int_equal(entry(&dom, PCI).client, CLIENT_NM);
        assert_int_equal(fake_log_count("client=networkd src=boot (was nm) (dry run: not written)"), 1);
}

static void test_dead_connection_writes_nothing(void **state) {
        record_nics(&dom, CLIENT_NM);
        follow(&dom, PCI, "tap0");
        pod->alive = false;
        send_client("tap0", MAC, PKT_NETWORKD, false);
        fake_run(0);
        pod->alive = true;
        assert_int_equal(dom.meta_sets, 0);
}

static void test_two_nics_each_their_own(void **state) {
        record_nics(&dom, CLIENT_UNKNOWN);
        follow(&dom, PCI, "tap0");
        follow(&dom, PCI2, "tap1");
        assert_int_equal(guestwatch_active(), 2);
        send_client("tap1", MAC2, PKT_NM, false);
        fake_run(0);
        assert_int_equal(dom.meta_sets, 1);
        assert_int_equal(entry(&dom, PCI).client, CLIENT_UNKNOWN);
        assert_int_equal(entry(&dom, PCI2).client, CLIENT_NM);
}

static void test_tap_gone_reopens_then_gives_up(void **state) {
        follow(&dom, PCI, "tap0");
        assert_int_equal(fake_port_opens(), 1);
        fake_port_gone("tap0", -ENETDOWN);
        assert_int_equal(fake_ports_open(), 0);             /* the socket is closed at once */
        assert_int_equal(guestwatch_active(), 0);
        fake_run(REOPEN_MS - 1);
        assert_int_equal(fake_port_opens(), 1);
        fake_run(1);
        assert_int_equal(fake_port_opens(), 2);             /* the first reopen, on the timer */
        fake_run((REOPEN_TRIES - 2) * REOPEN_MS);
        assert_int_equal(fake_port_opens(), REOPEN_TRIES);
        assert_int_equal(dom.refs, 1);                      /* still trying */
        fake_run(REOPEN_MS);
        assert_int_equal(fake_port_opens(), 1 + REOPEN_TRIES);
        assert_int_equal(dom.refs, 0);                      /* given up: the watch is gone */
        assert_int_equal(pod->refs, 1);
        assert_int_equal(fake_timers_pending(), 0);
        assert_int_equal(fake_log_count("tap=tap0 DHCP client watch given up: No such device"), 1);
        fake_run(10 * REOPEN_MS);
        assert_int_equal(fake_port_opens(), 1 + REOPEN_TRIES);
        /* The next job that sees the domain starts over. */
        fake_port_back("tap0");
        follow(&dom, PCI, "tap0");
        assert_int_equal(guestwatch_active(), 1);
}

static void test_tap_back_reopened_and_ladder_reset(void **state) {
        record_nics(&dom, CLIENT_NM);
        follow(&dom, PCI, "tap0");
        fake_port_gone("tap0", -ENETDOWN);
        fake_run(5 * REOPEN_MS);                            /* five failed reopens */
        assert_int_equal(fake_port_opens(), 6);
        fake_port_back("tap0");
        fake_run(REOPEN_MS);
        assert_int_equal(guestwatch_active(), 1);
        send_client("tap0", MAC, PKT_NETWORKD, false);      /* the reopened socket works */
        fake_run(0);
        assert_int_equal(dom.meta_sets, 1);
        /* Gone again: a whole new ladder, not what was left of the first. */
        fake_port_gone("tap0", -ENETDOWN);
        fake_run((REOPEN_TRIES - 1) * REOPEN_MS);
        assert_int_equal(dom.refs, 1);
        fake_run(REOPEN_MS);
        assert_int_equal(dom.refs, 0);
}

static void test_tap_not_there_yet(void **state) {
        fake_port_gone("tap0", -ENETDOWN);
        follow(&dom, PCI, "tap0");
        assert_int_equal(guestwatch_active(), 0);
        assert_int_equal(fake_log_count("cannot watch the DHCP client on tap 'tap0' yet: No such device"), 1);
        fake_run(3 * REOPEN_MS);
        fake_port_back("tap0");
        assert_int_equal(guestwatch_active(), 0);
        fake_run(REOPEN_MS);
        assert_int_equal(guestwatch_active(), 1);
        assert_int_equal(fake_port_opens(), 5);
        /* follow while it is open: still one watch */
        follow(&dom, PCI, "tap0");
        assert_int_equal(fake_port_opens(), 5);
}

static void test_nic_moved_to_another_tap(void **state) {
        record_nics(&dom, CLIENT_NM);
        follow(&dom, PCI, "tap0");
        follow(&dom, PCI, "tap5");                          /* a re-plug with a new tap */
        assert_int_equal(fake_ports_open(), 1);
        assert_int_equal(guestwatch_active(), 1);
        send_client("tap0", MAC, PKT_NETWORKD, false);      /* the old tap is not read any more */
        fake_run(0);
        assert_int_equal(dom.meta_sets, 0);
        send_client("tap5", MAC, PKT_NETWORKD, false);
        fake_run(0);
        assert_int_equal(dom.meta_sets, 1);
        assert_int_equal(dom.refs, 1);
}

static void test_bad_arguments_watch_nothing(void **state) {
        guestwatch_follow(pod, fake_domptr(&dom), PCI, "", NULL);
        guestwatch_follow(pod, fake_domptr(&dom), "", "tap0", NULL);
        guestwatch_follow(pod, fake_domptr(&dom), NULL, "tap0", NULL);
        guestwatch_follow(pod, fake_domptr(&dom), PCI, NULL, NULL);
        guestwatch_follow(pod, fake_domptr(&dom), PCI, "tap-name-too-long0", NULL);
        assert_int_equal(fake_port_opens(), 0);
        assert_int_equal(dom.refs, 0);
        assert_int_equal(fake_timers_pending(), 0);
}

/* Watches in every state at once: open with a write due, in the reopen ladder, on another domain. */
static void watch_everything(void) {
        record_nics(&dom, CLIENT_NM);
        follow(&dom, PCI, "tap0");
        follow(&dom, PCI2, "tap1");
        follow(&dom2, PCI, "tap9");
        send_client("tap0", MAC, PKT_NETWORKD, false);      /* write timer pending */
        fake_port_gone("tap1", -ENETDOWN);                  /* reopen timer pending */
        assert_int_equal(fake_ports_open(), 2);
        assert_int_equal(fake_timers_pending(), 2);
        assert_int_equal(dom.refs, 2);
        assert_int_equal(dom2.refs, 1);
        assert_int_equal(pod->refs, 4);
}

static void test_domain_gone_frees_its_watches(void **state) {
        watch_everything();
        guestwatch_domain_gone(pod, fake_domptr(&dom));
        assert_int_equal(dom.refs, 0);
        assert_int_equal(dom2.refs, 1);
        assert_int_equal(pod->refs, 2);
        assert_int_equal(fake_ports_open(), 1);
        assert_int_equal(fake_timers_pending(), 0);          /* the write and the reopen are cancelled */
        fake_run(REOPEN_TRIES * REOPEN_MS);
        assert_int_equal(dom.meta_sets, 0);
        assert_int_equal(fake_port_opens(), 3);
        /* the other domain's watch still reads */
        send_client("tap9", MAC, PKT_NM, false);
        fake_run(0);
        assert_int_equal(fake_log_count("domain=default_vm2 nic=" PCI " tap=tap9 DHCP type=1"), 1);
}

static void test_pod_lost_frees_its_watches(void **state) {
        struct pod *other = pod_new(NULL, -1, "other-pod");
        struct fake_dom d3;

        assert_non_null(other);
        fake_dom_init(&d3, "default_vm3", other);
        fake_dom_add_nic(&d3, PCI, MAC, "tap7");
        watch_everything();
        guestwatch_follow(other, fake_domptr(&d3), PCI, "tap7", NULL);
        guestwatch_pod_lost(pod);
        assert_int_equal(dom.refs + dom2.refs, 0);
        assert_int_equal(pod->refs, 1);
        assert_int_equal(fake_ports_open(), 1);             /* the other pod's */
        assert_int_equal(fake_timers_pending(), 0);
        assert_int_equal(d3.refs, 1);
        assert_int_equal(other->refs, 2);
        guestwatch_pod_lost(other);
        assert_int_equal(d3.refs, 0);
        assert_int_equal(other->refs, 1);
        assert_int_equal(fake_ports_open(), 0);
        fake_run(REOPEN_TRIES * REOPEN_MS);
        assert_int_equal(dom.meta_sets, 0);
        fake_dom_free(&d3);
        pod_unref(other);
}

static void test_shutdown_frees_everything(void **state) {
        watch_everything();
        guestwatch_shutdown();
        assert_int_equal(dom.refs + dom2.refs, 0);
        assert_int_equal(pod->refs, 1);
        assert_int_equal(fake_ports_open(), 0);
        assert_int_equal(fake_timers_pending(), 0);
        assert_int_equal(guestwatch_active(), 0);
}

static void test_flood_does_not_hold_the_loop(void **state) {
        /* As the action's port (test_action.c, audit row 10): one callback reads a bounded number of
         * frames, so a guest flooding DHCP cannot hold the event loop. A new client behind 100 frames
         * is seen on a later call (the socket stays readable; the loop calls again). */
        record_nics(&dom, CLIENT_NM);
        follow(&dom, PCI, "tap0");
        fake_port_hold(true);
        for (int i = 0; i < 100; i++)
                send_client("tap0", MAC, PKT_UNKNOWN, true);
        send_client("tap0", MAC, PKT_NETWORKD, true);
        fake_port_hold(false);
        fake_port_ready("tap0");
        fake_run(0);
        assert_int_equal(dom.meta_sets, 0);
        fake_port_ready("tap0");
        fake_run(0);
        assert_int_equal(dom.meta_sets, 1);
        assert_int_equal(entry(&dom, PCI).client, CLIENT_NETWORKD);
}

#define T(f) cmocka_unit_test_setup_teardown(f, world_up, world_down)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_known_client_not_rewritten),
                T(test_new_client_written_once),
                T(test_source_of_the_first_sight),
                T(test_unknown_client_never_written),
                T(test_client_seen_before_entry_existed),
                T(test_metadata_rewritten_without_client),
                T(test_write_refused_is_retried),
                T(test_observe_only_writes_nothing),
                T(test_dead_connection_writes_nothing),
                T(test_two_nics_each_their_own),
                T(test_tap_gone_reopens_then_gives_up),
                T(test_tap_back_reopened_and_ladder_reset),
                T(test_tap_not_there_yet),
                T(test_nic_moved_to_another_tap),
                T(test_bad_arguments_watch_nothing),
                T(test_domain_gone_frees_its_watches),
                T(test_pod_lost_frees_its_watches),
                T(test_shutdown_frees_everything),
                T(test_flood_does_not_hold_the_loop),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
