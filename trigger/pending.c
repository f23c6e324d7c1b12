/* SPDX-License-Identifier: MIT */
/* Pending re-attaches in the domain metadata (see pending.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "trigger/pending.h"
#include "trigger/virtdom.h"
#include "trigger/xmlutil.h"

#define PENDING_MAX_BYTES (4 * 1024 * 1024)

void pending_free(struct pending_nic *p, size_t n) {
        for (size_t i = 0; p && i < n; i++)
                free(p[i].iface_xml);
        free(p);
}

int pending_encode(const struct pending_nic *p, size_t n, char **ret_xml) {
        _cleanup_doc_ xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
        xmlNodePtr root = doc ? xmlNewNode(NULL, BAD_CAST "pending") : NULL;

        if (!root)
                return -ENOMEM;
        xmlDocSetRootElement(doc, root);
        for (size_t i = 0; i < n; i++) {
                /* xmlNewTextChild escapes the content: the element travels as text. */
                xmlNodePtr c = xmlNewTextChild(root, NULL, BAD_CAST "nic", BAD_CAST p[i].iface_xml);
                if (!c || !xmlNewProp(c, BAD_CAST "pci", BAD_CAST p[i].pci))
                        return -ENOMEM;
        }
        return xml_dump(doc, root, ret_xml);
}

int pending_decode(const char *xml, struct pending_nic **ret, size_t *ret_n) {
        struct pending_nic *p = NULL;
        size_t n = 0;
        _cleanup_doc_ xmlDocPtr doc = NULL;
        xmlNodePtr root;
        int r;

        r = xml_parse(xml, PENDING_MAX_BYTES, &doc);
        if (r < 0)
                return r;
        root = xmlDocGetRootElement(doc);
        if (!xmlStrEqual(root->name, BAD_CAST "pending"))
                return -EBADMSG;
        for (xmlNodePtr c = root->children; c; c = c->next) {
                _cleanup_xml_ xmlChar *pci = NULL, *content = NULL;
                struct pending_nic *q;

                if (!xml_is_elem(c, "nic"))
                        continue;
                if (n >= PENDING_MAX) {
                        r = -EBADMSG;
                        goto out;
                }
                pci = xmlGetProp(c, BAD_CAST "pci");
                content = xmlNodeGetContent(c);
                if (!pci || !content || strlen((const char *) pci) >= sizeof(p->pci) || !*content) {
                        r = -EBADMSG;
                        goto out;
                }
                q = realloc(p, (n + 1) * sizeof(*p));
                if (!q) {
                        r = -ENOMEM;
                        goto out;
                }
                p = q;
                memset(&p[n], 0, sizeof(p[n]));
                strcpy(p[n].pci, (const char *) pci);
                p[n].iface_xml = strdup((const char *) content);
                if (!p[n++].iface_xml) {
                        r = -ENOMEM;
                        goto out;
                }
        }
out:
        if (r < 0) {
                pending_free(p, n);
                return r;
        }
        *ret = p;
        *ret_n = n;
        return 0;
}

int pending_get(virDomainPtr dom, struct pending_nic **ret, size_t *ret_n) {
        _cleanup_free_ char *xml = NULL;
        int r = virtdom_metadata_get(dom, RELINK_PENDING_URI, &xml);

        if (r < 0)
                return r;
        return pending_decode(xml, ret, ret_n);
}

static int pending_put(virDomainPtr dom, const struct pending_nic *p, size_t n) {
        _cleanup_free_ char *xml = NULL;
        int r;

        if (n == 0)   /* NULL metadata removes the element */
                return virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, NULL, RELINK_PENDING_KEY,
                                            RELINK_PENDING_URI, VIR_DOMAIN_AFFECT_LIVE) < 0 ? -EIO : 0;
        r = pending_encode(p, n, &xml);
        if (r < 0)
                return r;
        return virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml, RELINK_PENDING_KEY, RELINK_PENDING_URI,
                                    VIR_DOMAIN_AFFECT_LIVE) < 0 ? -EIO : 0;
}

/* Read, drop pci, add (pci, iface_xml) when given, write back. */
static int pending_update(virDomainPtr dom, const char *pci, const char *iface_xml) {
        struct pending_nic *p = NULL, *q;
        size_t n = 0, k = 0;
        int r;

        r = pending_get(dom, &p, &n);
        if (r == -ENOENT) {
                if (!iface_xml)
                        return 0;
                p = NULL;
                n = 0;
        } else if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                if (streq(p[i].pci, pci)) {
                        free(p[i].iface_xml);
                        continue;
                }
                p[k++] = p[i];
        }
        n = k;
        if (iface_xml) {
                q = realloc(p, (n + 1) * sizeof(*p));
                if (!q) {
                        pending_free(p, n);
                        return -ENOMEM;
                }
                p = q;
                memset(&p[n], 0, sizeof(p[n]));
                if (strcpy_bounded(p[n].pci, sizeof(p[n].pci), pci) < 0 || !(p[n].iface_xml = strdup(iface_xml))) {
                        pending_free(p, n);
                        return -ENOMEM;
                }
                n++;
        }
        r = pending_put(dom, p, n);
        pending_free(p, n);
        return r;
}

int pending_set(virDomainPtr dom, const char *pci, const char *iface_xml) {
        return pending_update(dom, pci, iface_xml);
}

int pending_clear(virDomainPtr dom, const char *pci) {
        return pending_update(dom, pci, NULL);
}
