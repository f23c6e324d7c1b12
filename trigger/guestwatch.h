/* SPDX-License-Identifier: MIT */
/* A standing watch of the DHCP client of every guest NIC relinkd follows: a packet socket on the NIC's
 * tap in the pod netns that sees only the guest's own DHCP (udp destination port 67), at boot and at
 * every renewal. Each packet is classified (trigger/fingerprint.h); when the client differs from what
 * the domain's metadata says, the metadata is updated (from a timer, never per packet: renewals are
 * frequent, the metadata changes only when the client does). The metadata migrates with the domain, so
 * the target's relinkd knows the guest before it decides (trigger/reconcile.c sets skip_flap).
 *
 * Fed by the domain jobs (trigger/reconcile.c) whenever they see a domain (boot, migration, reconcile
 * after a (re)connect); a watch ends with its domain or its pod's connection. */
#pragma once

#include <libvirt/libvirt.h>

#include "trigger/metadata.h"
#include "trigger/pod.h"

/* Watch the guest NIC at pci (tap in p's netns) of dom, unless already watched; had: its metadata entry
 * (NULL: none yet), what the guest is known as so far. Errors are logged (debug) and retried later. */
void guestwatch_follow(struct pod *p, virDomainPtr dom, const char *pci, const char *tap, const struct meta_nic *had);
/* The domain stopped (or left by migration) / the pod's connection closed: drop their watches. */
void guestwatch_domain_gone(struct pod *p, virDomainPtr dom);
void guestwatch_pod_lost(struct pod *p);
/* Shutdown: close every watch. */
void guestwatch_shutdown(void);
/* Watches open (sockets) now. */
unsigned guestwatch_active(void);
