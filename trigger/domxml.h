/* SPDX-License-Identifier: MIT */
/* Domain / <interface> XML: list a domain's NICs and edit one <interface> element (libxml2).
 * All functions return 0 or -errno (-EBADMSG for unparsable XML, -EINVAL for bad arguments). */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

struct dom_nic {
        char mac[18];            /* lower case, "" when none */
        char target[IFNAMSIZ];   /* <target dev>, "" when none */
        char alias[64];          /* <alias name>, "" when none */
        char pci[16];            /* "0000:00:03.0", "" when none */
        bool link_up;            /* <link state='down'/> absent → up */
        char *xml;               /* the full live <interface> element, standalone */
};

int domxml_nics(const char *domain_xml, struct dom_nic **ret, size_t *ret_n);
void dom_nics_free(struct dom_nic *nics, size_t n);

int ifxml_set_link(const char *iface_xml, bool up, char **ret);       /* keeps everything else */
int ifxml_set_mac(const char *iface_xml, const char *mac, char **ret); /* keeps <address> (PCI slot) */
/* Drop an auto-assigned <alias> (e.g. "net0") before re-attaching; a user alias ("ua-…") is kept.
 * libvirt ignores non-"ua-" aliases on attach anyway; stripping keeps the element unambiguous. */
int ifxml_strip_alias(const char *iface_xml, char **ret);
/* Drop <target> (libvirt then makes a backend of its own: a tap connected to nothing) and, when type
 * is given, set the interface type ("user": QEMU's user-mode network, needs no privileges). The last
 * resort when a NIC must be back at its slot and the pod's tap is gone. */
int ifxml_drop_target(const char *iface_xml, const char *type, char **ret);
