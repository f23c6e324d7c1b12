/* SPDX-License-Identifier: MIT */
/* Outstanding unplugs in the domain metadata (see pending.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "trigger/pending.h"
#include "trigger/virtdom.h"
#include "trigger/xmlutil.h"

#define PENDING_MAX_BYTES (4 * 1024 * 1024)

void pending_free(struct pending_nic *p, size_t n) {
        for (size_t i = 0; p && i < n; i++) {
                free(p[i].iface_xml);
                free(p[i].had_xml);
        }
        free(p);
}

int pending_encode(const struct pending_nic *p, size_t n, char **ret_xml) {
        _cleanup_doc_ xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
        xmlNodePtr root = doc ? xmlNewNode(NULL, BAD_CAST "pending") : NULL;

        if (!root)
                return -ENOMEM;
        xmlDocSetRootElement(doc, root);
        for (size_t i = 0; i < n; i++) {
                xmlNodePtr c = xmlNewChild(root, NULL, BAD_CAST "nic", NULL);
                char asked[24];

                if (!c || !xmlNewProp(c, BAD_CAST "pci", BAD_CAST p[i].pci))
                        return -ENOMEM;
                if (p[i].asked_ms > 0) {
                        snprintf(asked, sizeof(asked), "%" PRId64, p[i].asked_ms);
                        if (!xmlNewProp(c, BAD_CAST "asked", BAD_CAST asked))
                                return -ENOMEM;
                }
                /* xmlNewTextChild escapes the content: the elements travel as text. */
                if (!xmlNewTextChild(c, NULL, BAD_CAST "attach", BAD_CAST p[i].iface_xml))
                        return -ENOMEM;
                if (p[i].had_xml && !xmlNewTextChild(c, NULL, BAD_CAST "had", BAD_CAST p[i].had_xml))
                        return -ENOMEM;
        }
        return xml_dump(doc, root, ret_xml);
}

static xmlNodePtr elem_child(xmlNodePtr n, const char *name) {
        for (xmlNodePtr c = n->children; c; c = c->next)
                if (xml_is_elem(c, name))
                        return c;
        return NULL;
}

static int decode_nic(xmlNodePtr c, struct pending_nic *ret) {
        _cleanup_xml_ xmlChar *pci = xmlGetProp(c, BAD_CAST "pci"), *asked = xmlGetProp(c, BAD_CAST "asked");
        _cleanup_xml_ xmlChar *attach = NULL, *had = NULL;
        xmlNodePtr a = elem_child(c, "attach"), h = elem_child(c, "had");
        char *end;

        /* The older form: the element to attach is the <nic>'s own text. */
        attach = xmlNodeGetContent(a ? a : c);
        if (h)
                had = xmlNodeGetContent(h);
        if (!pci || !attach || !*attach || strlen((const char *) pci) >= sizeof(ret->pci) || (h && (!had || !*had)))
                return -EBADMSG;
        memset(ret, 0, sizeof(*ret));
        if (asked) {
                long long v = strtoll((const char *) asked, &end, 10);
                if (*end || v < 0)
                        return -EBADMSG;
                ret->asked_ms = v;
        }
        strcpy(ret->pci, (const char *) pci);
        ret->iface_xml = strdup((const char *) attach);
        ret->had_xml = had ? strdup((const char *) had) : NULL;
        if (!ret->iface_xml || (had && !ret->had_xml)) {
                free(ret->iface_xml);
                free(ret->had_xml);
                return -ENOMEM;
        }
        return 0;
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
                struct pending_nic *q;

                if (!xml_is_elem(c, "nic"))
                        continue;
                if (n >= PENDING_MAX) {
                        r = -EBADMSG;
                        break;
                }
                q = realloc(p, (n + 1) * sizeof(*p));
                if (!q) {
                        r = -ENOMEM;
                        break;
                }
                p = q;
                r = decode_nic(c, &p[n]);
                if (r < 0)
                        break;
                n++;
        }
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
                return virtdom->metadata_set(dom, RELINK_PENDING_KEY, RELINK_PENDING_URI, NULL, false);
        r = pending_encode(p, n, &xml);
        if (r < 0)
                return r;
        return virtdom->metadata_set(dom, RELINK_PENDING_KEY, RELINK_PENDING_URI, xml, false);
}

static int dup_entry(const struct pending_nic *e, struct pending_nic *ret) {
        memset(ret, 0, sizeof(*ret));
        if (strcpy_bounded(ret->pci, sizeof(ret->pci), e->pci) < 0 || !e->iface_xml)
                return -EINVAL;
        ret->asked_ms = e->asked_ms;
        ret->iface_xml = strdup(e->iface_xml);
        ret->had_xml = e->had_xml ? strdup(e->had_xml) : NULL;
        if (!ret->iface_xml || (e->had_xml && !ret->had_xml)) {
                free(ret->iface_xml);
                free(ret->had_xml);
                return -ENOMEM;
        }
        return 0;
}

/* Read, drop pci, add e when given, write back. */
static int pending_update(virDomainPtr dom, const char *pci, const struct pending_nic *e) {
        struct pending_nic *p = NULL, *q;
        size_t n = 0, k = 0;
        bool had_it = false;
        int r;

        r = pending_get(dom, &p, &n);
        if (r == -ENOENT) {
                p = NULL;
                n = 0;
        } else if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                if (streq(p[i].pci, pci)) {
                        free(p[i].iface_xml);
                        free(p[i].had_xml);
                        had_it = true;
                        continue;
                }
                p[k++] = p[i];
        }
        n = k;
        if (!e && !had_it) {
                pending_free(p, n);
                return 0;
        }
        if (e) {
                q = realloc(p, (n + 1) * sizeof(*p));
                if (!q) {
                        pending_free(p, n);
                        return -ENOMEM;
                }
                p = q;
                r = dup_entry(e, &p[n]);
                if (r < 0) {
                        pending_free(p, n);
                        return r;
                }
                n++;
        }
        r = pending_put(dom, p, n);
        pending_free(p, n);
        return r;
}

int pending_set(virDomainPtr dom, const struct pending_nic *e) {
        return pending_update(dom, e->pci, e);
}

int pending_clear(virDomainPtr dom, const char *pci) {
        return pending_update(dom, pci, NULL);
}
