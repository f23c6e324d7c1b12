/* SPDX-License-Identifier: MIT */
/* What each NIC was configured for, stored in the domain's own metadata so it migrates with it.
 * Element: <nics><nic pci=".." mac=".." mtu=".." [applied="flap|reattach"] [client=".." client-src=".."]
 *          [worked=".."]><ip address=".." prefix=".." gateway=".."/><route dst=".." gw=".."/></nic></nics>
 * applied: the action of that kind has made its last change to the NIC (link up, new NIC attached) and
 * its verification has not ended yet: a relinkd that finds it on a NIC no action of its own is working on
 * knows the action was done (not to be repeated) but never verified. Absent once verified.
 * client/client-src: the guest's DHCP client on that NIC and where relinkd saw it (trigger/fingerprint.h,
 * written by trigger/guestwatch.c); worked: what made the guest take the pod's network the last time a
 * flap was decided (written by the action when it verifies). A client or worked name this version does
 * not know reads as unknown (a newer relinkd may have written it); absent attributes read as unknown.
 * Write it with virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml, RELINK_META_KEY, RELINK_META_URI, ..)
 * (libvirt adds the namespace itself). */
#pragma once

#include <stddef.h>

#include "trigger/decide.h"
#include "trigger/fingerprint.h"

#define RELINK_META_URI "https://relink.dev/xmlns/relinkd/1"
#define RELINK_META_KEY "relink"
#define RELINK_META_MAX_NICS 64
#define RELINK_META_MAX_BYTES (1024 * 1024)

struct meta_nic {
        char pci[16];
        struct nic_identity id;
        char applied[16];
        enum guest_client client;    /* CLIENT_UNKNOWN: not known */
        enum client_src client_src;
        enum worked worked;
};

/* 0, or -EINVAL when an entry would not decode (empty/invalid pci or mac, bad address, duplicate pci). */
int metadata_encode(const struct meta_nic *nics, size_t n, char **ret_xml);
/* 0, -EBADMSG (malformed, missing/invalid attributes, too many entries), -ENOMEM. *ret is NULL when *ret_n is 0;
 * free(*ret). Accepts the root with or without the RELINK_META_URI namespace (libvirt 9 returns it without). */
int metadata_decode(const char *xml, struct meta_nic **ret, size_t *ret_n);
/* Grow *nics by one zeroed entry and return it; NULL (nothing changed) when out of memory. */
struct meta_nic *metadata_append(struct meta_nic **nics, size_t *n);
/* The entry for pci (NULL when absent). */
const struct meta_nic *metadata_find(const struct meta_nic *nics, size_t n, const char *pci);
