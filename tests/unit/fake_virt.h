/* SPDX-License-Identifier: MIT */
/* Fakes under the action core: a loop with a virtual clock (struct loop_ops) and a domain with a
 * scripted guest and DHCP server (struct virtdom_ops). Linked into every unit test; inert until
 * fake_install() is called.
 *
 * The guest: an unplug request is honoured release_ms after the request numbered release_on (1:
 * the first; 0: never), optionally announced with DEVICE_REMOVED; after a plug (and, with
 * dhcp_on_flap, a link-up) it sends a DHCPDISCOVER dhcp_ms later, which the server answers with an
 * ACK when the NIC's MAC is served_mac. Every libvirt call can be made to fail. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libvirt/libvirt.h>

#include "trigger/dhcpwatch.h"
#include "trigger/pod.h"

#define FAKE_MAX_NICS 4

struct fake_nic {
        char pci[16];                /* "0000:00:03.0" */
        char alias[16];
        char mac[18];
        char tap[16];                /* "": libvirt made its own tap; "user": QEMU's user-mode network */
        bool link_up;
        unsigned requests;           /* unplug requests for this device */
};

struct fake_dom {
        char name[64];
        char uuid[VIR_UUID_STRING_BUFLEN];
        struct pod *pod;             /* for DEVICE_REMOVED */
        struct fake_nic nics[FAKE_MAX_NICS];
        size_t n_nics;
        unsigned next_alias;
        int refs;
        char *meta_uri[4], *meta_xml[4];
        /* the guest */
        unsigned release_on;         /* release on a device's n-th unplug request (0: never) */
        unsigned release_ms;         /* … this long after it */
        bool announce;               /* send DEVICE_REMOVED on release */
        bool eject_plugged;          /* eject every NIC plugged into the slot once, right away */
        int dhcp_ms;                 /* DHCP after a plug; < 0: never */
        bool dhcp_on_flap;           /* also after a link down/up */
        char served_mac[2][18];      /* the server ACKs these MACs ("": none) */
        char served_ip[16];
        /* failure injection: the next N calls fail with -EIO */
        unsigned fail_attach, fail_detach, fail_update, fail_xml, fail_meta_set;
        bool tap_gone;               /* attaching an element with a <target> fails */
        bool unprivileged;           /* a session daemon: cannot make a tap of its own */
        bool conn_dead;              /* conn_alive() false, failing calls as if the connection died */
        /* what happened */
        unsigned unplug_requests, attach_calls, update_calls, releases, meta_sets;
        unsigned xml_reads;          /* live XML reads (GetXMLDesc) */
        char attached[8][18];        /* MACs plugged, in order ("-": on a tap of libvirt's, "user": user-mode) */
        unsigned n_attached;
        char links[16];              /* 'd'/'u' per link change */
};

/* The clock starts at 1000 s. */
void fake_install(void);
void fake_uninstall(void);
int64_t fake_now_ms(void);
/* Advance the clock by ms, firing due timers in order (0: only what is due now). */
void fake_run(unsigned ms);
unsigned fake_timers_pending(void);

void fake_dom_init(struct fake_dom *d, const char *name, struct pod *pod);
/* Add a NIC with link up; returns it. */
struct fake_nic *fake_dom_add_nic(struct fake_dom *d, const char *pci, const char *mac, const char *tap);
struct fake_nic *fake_dom_nic(struct fake_dom *d, const char *pci);
void fake_dom_free(struct fake_dom *d);
/* The guest releases the NIC at pci now (announce: DEVICE_REMOVED too). */
void fake_guest_release(struct fake_dom *d, const char *pci, bool announce);
/* A DHCP frame on tap's port: from the guest (to_guest false) or to it. */
void fake_port_frame(const char *tap, uint8_t msgtype, const char *mac, const char *yiaddr, bool to_guest);
/* Any frame (a client's full fingerprint). Ports opened with port_open_client get no to_guest frame. */
void fake_port_push(const char *tap, const struct dhcp_seen *s);
/* The tap goes away: the next read on its open ports fails with err (the watcher is woken unless held)
 * and opening it fails with -ENODEV until fake_port_back(). */
void fake_port_gone(const char *tap, int err);
void fake_port_back(const char *tap);
/* port_open/port_open_client calls so far (failed ones too); ports open now. */
unsigned fake_port_opens(void);
unsigned fake_ports_open(void);
/* hold: frames queue up without waking the watcher; fake_port_ready wakes it once (one callback). */
void fake_port_hold(bool hold);
void fake_port_ready(const char *tap);
/* relinkd's log into a temporary file for the test to read (name: the file's prefix under /tmp);
 * fake_log_close() closes and removes it. fake_log_text(): the log so far (free it); fake_log_count():
 * how often needle occurs in it. */
void fake_log_open(const char *name);
void fake_log_close(void);
char *fake_log_text(void);
unsigned fake_log_count(const char *needle);
static inline virDomainPtr fake_domptr(struct fake_dom *d) {
        return (virDomainPtr) (void *) d;
}
