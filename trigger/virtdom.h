/* SPDX-License-Identifier: MIT */
/* The domain seam: every libvirt call on a domain that actions, jobs and the pending/metadata code
 * make, and the guest's port (DHCP frames on its tap), behind one ops table.
 *
 * `virtdom` points at the libvirt implementation (and trigger/dhcpwatch.c for the port); unit tests
 * install a fake domain (tests/unit/fake_virt.c) with virtdom_set_ops(). With struct loop_ops
 * (trigger/loop.h: timers, fds, clock) this is everything the action state machine touches, so a
 * test can run it end to end without libvirt, QEMU or a network namespace.
 *
 * The libvirt implementation makes every RPC through the call gate (trigger/callgate.h): a call the
 * launcher's daemon does not answer within --call-timeout-ms returns -EIO with last_error() saying so,
 * and conn_alive() is false for that connection from then on (the connection is torn down and
 * reopened; actions park until then).
 *
 * Conventions: 0 or -errno; -EIO means libvirt failed and last_error() says why; -ENOENT from
 * metadata_get means the domain has no such element. Device calls act on the live domain only. */
#pragma once

#include <stdbool.h>

#include <libvirt/libvirt.h>

#include "trigger/dhcpwatch.h"
#include "trigger/domxml.h"
#include "trigger/metadata.h"

struct virtdom_ops {
        /* identity and lifetime of a domain reference */
        virDomainPtr (*ref)(virDomainPtr dom);
        void (*unref)(virDomainPtr dom);
        int (*uuid)(virDomainPtr dom, char ret[VIR_UUID_STRING_BUFLEN]);
        const char *(*name)(virDomainPtr dom);
        bool (*conn_alive)(virDomainPtr dom);          /* can calls through its connection still work */
        /* reads */
        int (*xml)(virDomainPtr dom, char **ret);       /* live XML */
        int (*state)(virDomainPtr dom, int *ret_state, int *ret_reason);
        int (*metadata_get)(virDomainPtr dom, const char *uri, char **ret_xml);
        /* Set (xml) or remove (NULL) the metadata element uri (prefix key); live, and also the
         * persistent config when config is true and the domain is persistent. */
        int (*metadata_set)(virDomainPtr dom, const char *key, const char *uri, const char *xml, bool config);
        /* live device changes */
        int (*update_device)(virDomainPtr dom, const char *iface_xml);
        /* Ask the guest to release a device (by alias, or by element when alias is ""): returns once
         * asked; DEVICE_REMOVED (or the live XML) tells when the guest let go. */
        int (*detach)(virDomainPtr dom, const char *alias, const char *iface_xml);
        int (*attach)(virDomainPtr dom, const char *iface_xml);
        /* the guest's port: DHCP frames on tap in the pod netns (dhcpwatch semantics) */
        int (*port_open)(int netns_fd, const char *tap, int *ret_fd);
        /* … only the guest's own frames (client → server, dhcpwatch_open_client): the standing watch */
        int (*port_open_client)(int netns_fd, const char *tap, int *ret_fd);
        int (*port_read)(int fd, struct dhcp_seen *ret);
        void (*port_close)(int fd);
        /* text of the last -EIO (never NULL) */
        const char *(*last_error)(void);
};

extern const struct virtdom_ops *virtdom;
/* Install ops (NULL: libvirt). */
void virtdom_set_ops(const struct virtdom_ops *ops);

/* Built on the ops. */
/* The live NICs (domxml_nics of the live XML). */
int virtdom_nics(virDomainPtr dom, struct dom_nic **ret, size_t *ret_n);
/* Index of the NIC at PCI address pci (or, when pci is "", with alias); -ENOENT. */
int virtdom_nic_find(const struct dom_nic *nics, size_t n, const char *pci, const char *alias);
/* The live domain's metadata element in namespace uri (caller frees); -ENOENT when there is none. */
int virtdom_metadata_get(virDomainPtr dom, const char *uri, char **ret_xml);
/* relink metadata of the live domain; -ENOENT when the domain has none. */
int virtdom_meta_get(virDomainPtr dom, struct meta_nic **ret, size_t *ret_n);
/* Replace the whole relink metadata (live, and config for persistent domains). */
int virtdom_meta_put(virDomainPtr dom, const struct meta_nic *nics, size_t n);
/* Set (add or replace) the entry of one NIC. */
int virtdom_meta_put_nic(virDomainPtr dom, const char *pci, const struct nic_identity *id);
/* The active domains of a connection (virConnectListAllDomains through the call gate); the caller
 * frees each (virDomainFree) and the array. */
int virtdom_list_active(virConnectPtr vc, virDomainPtr **ret, size_t *ret_n);
/* Domain state and reason (virDomainGetState). */
int virtdom_state(virDomainPtr dom, int *ret_state, int *ret_reason);
