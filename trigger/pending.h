/* SPDX-License-Identifier: MIT */
/* Unplugs in flight, kept in the domain's own metadata: the home of an outstanding unplug. The entry
 * is written before relinkd asks the guest to release a NIC and removed once a NIC is back at that
 * slot, so a relinkd restarted (or reconnected) at any point finds what it owes the domain: the
 * element to attach, the element the guest had (the fallback), and when the unplug was asked.
 * Element (own namespace):
 *   <pending><nic pci="0000:00:02.0" asked="MONO_MS"><attach>…</attach><had>…</had></nic></pending>
 * The <interface> elements travel escaped (as text). The older form, the element to attach as the
 * <nic>'s own text, is still read. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <libvirt/libvirt.h>

#define RELINK_PENDING_URI "https://relink.dev/xmlns/relinkd-pending/1"
#define RELINK_PENDING_KEY "relinkp"
#define PENDING_MAX 64

struct pending_nic {
        char pci[16];
        char *iface_xml;             /* the element to attach (new MAC, same <address>) */
        char *had_xml;               /* the element the guest had, or NULL (older entries) */
        int64_t asked_ms;            /* now_ms() of the unplug request (CLOCK_MONOTONIC), 0: unknown */
};

/* Pure (libxml2). 0 or -errno (-EBADMSG for malformed input). */
int pending_encode(const struct pending_nic *p, size_t n, char **ret_xml);
int pending_decode(const char *xml, struct pending_nic **ret, size_t *ret_n);
void pending_free(struct pending_nic *p, size_t n);

/* On the live domain (through virtdom). get: -ENOENT when there is none. set replaces the entry of
 * e->pci; set/clear keep the other entries. */
int pending_get(virDomainPtr dom, struct pending_nic **ret, size_t *ret_n);
int pending_set(virDomainPtr dom, const struct pending_nic *e);
int pending_clear(virDomainPtr dom, const char *pci);
