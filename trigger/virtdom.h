/* SPDX-License-Identifier: MIT */
/* libvirt calls on one domain that several modules share: live NICs, relink metadata. */
#pragma once

#include <libvirt/libvirt.h>

#include "trigger/domxml.h"
#include "trigger/metadata.h"

/* The live NICs (domxml_nics of the live XML). 0 or -errno (-EIO: libvirt, see virt_error()). */
int virtdom_nics(virDomainPtr dom, struct dom_nic **ret, size_t *ret_n);
/* Index of the NIC at PCI address pci (or, when pci is "", with alias); -ENOENT. */
int virtdom_nic_find(const struct dom_nic *nics, size_t n, const char *pci, const char *alias);
/* The live domain's metadata element in namespace uri (caller frees); -ENOENT when there is none,
 * -EIO for other libvirt errors. */
int virtdom_metadata_get(virDomainPtr dom, const char *uri, char **ret_xml);
/* relink metadata of the live domain; -ENOENT when the domain has none. */
int virtdom_meta_get(virDomainPtr dom, struct meta_nic **ret, size_t *ret_n);
/* Replace the whole relink metadata (live, and config for persistent domains). */
int virtdom_meta_put(virDomainPtr dom, const struct meta_nic *nics, size_t n);
/* Set (add or replace) the entry of one NIC. */
int virtdom_meta_put_nic(virDomainPtr dom, const char *pci, const struct nic_identity *id);
/* Domain state and reason (virDomainGetState). */
int virtdom_state(virDomainPtr dom, int *ret_state, int *ret_reason);
