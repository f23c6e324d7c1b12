/* SPDX-License-Identifier: MIT */
/* Domain-level libvirt calls: live XML → NICs, relink metadata get/put. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>

#include "common/util.h"
#include "trigger/virtdom.h"

int virtdom_nics(virDomainPtr dom, struct dom_nic **ret, size_t *ret_n) {
        _cleanup_free_ char *xml = virDomainGetXMLDesc(dom, 0);

        if (!xml)
                return -EIO;
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

int virtdom_meta_get(virDomainPtr dom, struct meta_nic **ret, size_t *ret_n) {
        _cleanup_free_ char *xml = NULL;
        int r = virtdom_metadata_get(dom, RELINK_META_URI, &xml);

        if (r < 0)
                return r;
        return metadata_decode(xml, ret, ret_n);
}

int virtdom_meta_put(virDomainPtr dom, const struct meta_nic *nics, size_t n) {
        _cleanup_free_ char *xml = NULL;
        unsigned flags = VIR_DOMAIN_AFFECT_LIVE;
        int r;

        r = metadata_encode(nics, n, &xml);
        if (r < 0)
                return r;
        if (virDomainIsPersistent(dom) == 1)
                flags |= VIR_DOMAIN_AFFECT_CONFIG;
        if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml, RELINK_META_KEY, RELINK_META_URI,
                                 flags) < 0)
                return -EIO;
        return 0;
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
        if (virDomainGetState(dom, ret_state, ret_reason, 0) < 0)
                return -EIO;
        return 0;
}
