/* SPDX-License-Identifier: MIT */
/* Re-attaches in flight, kept in the domain's own metadata so that a relinkd killed between the
 * detach and the attach gives the NIC back after a restart. Element (own namespace):
 *   <pending><nic pci="0000:00:02.0">…the escaped <interface> element to attach…</nic></pending> */
#pragma once

#include <stddef.h>

#include <libvirt/libvirt.h>

#define RELINK_PENDING_URI "https://relink.dev/xmlns/relinkd-pending/1"
#define RELINK_PENDING_KEY "relinkp"
#define PENDING_MAX 64

struct pending_nic {
        char pci[16];
        char *iface_xml;
};

/* Pure (libxml2). 0 or -errno (-EBADMSG for malformed input). */
int pending_encode(const struct pending_nic *p, size_t n, char **ret_xml);
int pending_decode(const char *xml, struct pending_nic **ret, size_t *ret_n);
void pending_free(struct pending_nic *p, size_t n);

/* On the live domain. get: -ENOENT when there is none. set/clear keep the other entries. */
int pending_get(virDomainPtr dom, struct pending_nic **ret, size_t *ret_n);
int pending_set(virDomainPtr dom, const char *pci, const char *iface_xml);
int pending_clear(virDomainPtr dom, const char *pci);
