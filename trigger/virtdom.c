/* SPDX-License-Identifier: MIT */
/* The domain seam: the libvirt implementation of struct virtdom_ops, and what is built on it
 * (live NICs, relink metadata get/put). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include "common/util.h"
#include "trigger/virtdom.h"

static virDomainPtr lv_ref(virDomainPtr dom) {
        virDomainRef(dom);
        return dom;
}

static void lv_unref(virDomainPtr dom) {
        if (dom)
                virDomainFree(dom);
}

static int lv_uuid(virDomainPtr dom, char ret[VIR_UUID_STRING_BUFLEN]) {
        return virDomainGetUUIDString(dom, ret) < 0 ? -EIO : 0;
}

static const char *lv_name(virDomainPtr dom) {
        const char *n = virDomainGetName(dom);

        return n ? n : "?";
}

static bool lv_conn_alive(virDomainPtr dom) {
        virConnectPtr vc = virDomainGetConnect(dom);

        return vc && virConnectIsAlive(vc) == 1;
}

static int lv_xml(virDomainPtr dom, char **ret) {
        char *xml = virDomainGetXMLDesc(dom, 0);

        if (!xml)
                return -EIO;
        *ret = xml;
        return 0;
}

static int lv_state(virDomainPtr dom, int *ret_state, int *ret_reason) {
        return virDomainGetState(dom, ret_state, ret_reason, 0) < 0 ? -EIO : 0;
}

static int lv_metadata_get(virDomainPtr dom, const char *uri, char **ret_xml) {
        char *xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, uri, VIR_DOMAIN_AFFECT_LIVE);

        if (!xml) {
                virErrorPtr e = virGetLastError();
                if (e && e->code == VIR_ERR_NO_DOMAIN_METADATA) {
                        virResetLastError();
                        return -ENOENT;
                }
                return -EIO;
        }
        *ret_xml = xml;
        return 0;
}

static int lv_metadata_set(virDomainPtr dom, const char *key, const char *uri, const char *xml, bool config) {
        unsigned flags = VIR_DOMAIN_AFFECT_LIVE;

        if (config && virDomainIsPersistent(dom) == 1)
                flags |= VIR_DOMAIN_AFFECT_CONFIG;
        return virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml, key, uri, flags) < 0 ? -EIO : 0;
}

static int lv_update_device(virDomainPtr dom, const char *iface_xml) {
        return virDomainUpdateDeviceFlags(dom, iface_xml, VIR_DOMAIN_AFFECT_LIVE) < 0 ? -EIO : 0;
}

static int lv_detach(virDomainPtr dom, const char *alias, const char *iface_xml) {
        /* DetachDeviceAlias only asks for the unplug and returns; DetachDeviceFlags would block inside
         * libvirtd's own wait for the guest (up to 5 s). */
        if (alias && *alias)
                return virDomainDetachDeviceAlias(dom, alias, VIR_DOMAIN_AFFECT_LIVE) < 0 ? -EIO : 0;
        return virDomainDetachDeviceFlags(dom, iface_xml, VIR_DOMAIN_AFFECT_LIVE) < 0 ? -EIO : 0;
}

static int lv_attach(virDomainPtr dom, const char *iface_xml) {
        return virDomainAttachDeviceFlags(dom, iface_xml, VIR_DOMAIN_AFFECT_LIVE) < 0 ? -EIO : 0;
}

static void lv_port_close(int fd) {
        if (fd >= 0)
                close(fd);
}

static const char *lv_last_error(void) {
        const char *m = virGetLastErrorMessage();

        return m ? m : "unknown libvirt error";
}

static const struct virtdom_ops libvirt_ops = {
        .ref = lv_ref,
        .unref = lv_unref,
        .uuid = lv_uuid,
        .name = lv_name,
        .conn_alive = lv_conn_alive,
        .xml = lv_xml,
        .state = lv_state,
        .metadata_get = lv_metadata_get,
        .metadata_set = lv_metadata_set,
        .update_device = lv_update_device,
        .detach = lv_detach,
        .attach = lv_attach,
        .port_open = dhcpwatch_open,
        .port_read = dhcpwatch_read,
        .port_close = lv_port_close,
        .last_error = lv_last_error,
};

const struct virtdom_ops *virtdom = &libvirt_ops;

void virtdom_set_ops(const struct virtdom_ops *ops) {
        virtdom = ops ? ops : &libvirt_ops;
}

int virtdom_nics(virDomainPtr dom, struct dom_nic **ret, size_t *ret_n) {
        _cleanup_free_ char *xml = NULL;
        int r = virtdom->xml(dom, &xml);

        if (r < 0)
                return r;
        return domxml_nics(xml, ret, ret_n);
}

int virtdom_nic_find(const struct dom_nic *nics, size_t n, const char *pci, const char *alias) {
        for (size_t i = 0; i < n; i++) {
                if (pci && *pci) {
                        if (streq(nics[i].pci, pci))
                                return (int) i;
                } else if (alias && *alias && streq(nics[i].alias, alias))
                        return (int) i;
        }
        return -ENOENT;
}

int virtdom_metadata_get(virDomainPtr dom, const char *uri, char **ret_xml) {
        return virtdom->metadata_get(dom, uri, ret_xml);
}

int virtdom_meta_get(virDomainPtr dom, struct meta_nic **ret, size_t *ret_n) {
        _cleanup_free_ char *xml = NULL;
        int r = virtdom_metadata_get(dom, RELINK_META_URI, &xml);

        if (r < 0)
                return r;
        return metadata_decode(xml, ret, ret_n);
}

int virtdom_meta_put(virDomainPtr dom, const struct meta_nic *nics, size_t n) {
        _cleanup_free_ char *xml = NULL;
        int r;

        r = metadata_encode(nics, n, &xml);
        if (r < 0)
                return r;
        return virtdom->metadata_set(dom, RELINK_META_KEY, RELINK_META_URI, xml, true);
}

int virtdom_meta_put_nic(virDomainPtr dom, const char *pci, const struct nic_identity *id) {
        _cleanup_free_ struct meta_nic *nics = NULL;
        size_t n = 0;
        int r;

        r = virtdom_meta_get(dom, &nics, &n);
        if (r < 0 && r != -ENOENT)
                return r;
        for (size_t i = 0; i < n; i++)
                if (streq(nics[i].pci, pci)) {
                        nics[i].id = *id;
                        return virtdom_meta_put(dom, nics, n);
                }
        struct meta_nic *m = metadata_append(&nics, &n);
        if (!m)
                return -ENOMEM;
        r = strcpy_bounded(m->pci, sizeof(m->pci), pci);
        if (r < 0)
                return r;
        m->id = *id;
        return virtdom_meta_put(dom, nics, n);
}

int virtdom_state(virDomainPtr dom, int *ret_state, int *ret_reason) {
        return virtdom->state(dom, ret_state, ret_reason);
}
