/* SPDX-License-Identifier: MIT */
/* Read a domain's <interface> elements and edit one of them. The only libvirt-XML code. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/mac.h"
#include "common/util.h"
#include "trigger/domxml.h"
#include "trigger/xmlutil.h"

#define DOMXML_MAX_BYTES (16 * 1024 * 1024)

static xmlNodePtr child(xmlNodePtr parent, const char *name) {
        for (xmlNodePtr c = parent->children; c; c = c->next)
                if (xml_is_elem(c, name))
                        return c;
        return NULL;
}

/* Copy an attribute into a fixed buffer; left "" when absent or too long. */
static void attr_copy(xmlNodePtr n, const char *attr, char *dst, size_t size) {
        _cleanup_xml_ xmlChar *v = NULL;

        dst[0] = '\0';
        if (!n)
                return;
        v = xmlGetProp(n, BAD_CAST attr);
        if (v)
                (void) strcpy_bounded(dst, size, (const char *) v);
}

static bool hex_field(xmlNodePtr n, const char *attr, unsigned long max, unsigned long *ret) {
        _cleanup_xml_ xmlChar *v = xmlGetProp(n, BAD_CAST attr);
        char *end;
        unsigned long x;

        if (!v || !*v)
                return false;
        errno = 0;
        x = strtoul((const char *) v, &end, 0);
        if (errno || *end || x > max)
                return false;
        *ret = x;
        return true;
}

static void pci_format(xmlNodePtr addr, char out[16]) {
        _cleanup_xml_ xmlChar *type = NULL;
        unsigned long dom = 0, bus, slot, fn;

        out[0] = '\0';
        if (!addr)
                return;
        type = xmlGetProp(addr, BAD_CAST "type");
        if (!type || !xmlStrEqual(type, BAD_CAST "pci"))
                return;
        if (xmlHasProp(addr, BAD_CAST "domain") && !hex_field(addr, "domain", 0xffff, &dom))
                return;
        if (!hex_field(addr, "bus", 0xff, &bus) || !hex_field(addr, "slot", 0x1f, &slot) ||
            !hex_field(addr, "function", 0x7, &fn))
                return;
        snprintf(out, 16, "%04lx:%02lx:%02lx.%lx", dom, bus, slot, fn);
}

void dom_nics_free(struct dom_nic *nics, size_t n) {
        if (!nics)
                return;
        for (size_t i = 0; i < n; i++)
                free(nics[i].xml);
        free(nics);
}

int domxml_nics(const char *domain_xml, struct dom_nic **ret, size_t *ret_n) {
        _cleanup_doc_ xmlDocPtr doc = NULL;
        struct dom_nic *nics = NULL;
        size_t n = 0, cap = 0;
        xmlNodePtr root, devices;
        int r;

        r = xml_parse(domain_xml, DOMXML_MAX_BYTES, &doc);
        if (r < 0)
                return r;
        root = xmlDocGetRootElement(doc);
        if (!xml_is_elem(root, "domain"))
                return -EBADMSG;
        devices = child(root, "devices");

        for (xmlNodePtr c = devices ? devices->children : NULL; c; c = c->next) {
                struct dom_nic *d;
                char mac[18] = "";
                _cleanup_xml_ xmlChar *state = NULL;
                xmlNodePtr link;

                if (!xml_is_elem(c, "interface"))
                        continue;
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 4;
                        struct dom_nic *p = reallocarray(nics, ncap, sizeof(*nics));
                        if (!p) {
                                dom_nics_free(nics, n);
                                return -ENOMEM;
                        }
                        nics = p;
                        cap = ncap;
                }
                d = &nics[n];
                memset(d, 0, sizeof(*d));
                attr_copy(child(c, "mac"), "address", mac, sizeof(mac));
                if (!mac_normalise(mac, d->mac))
                        d->mac[0] = '\0';
                attr_copy(child(c, "target"), "dev", d->target, sizeof(d->target));
                attr_copy(child(c, "alias"), "name", d->alias, sizeof(d->alias));
                pci_format(child(c, "address"), d->pci);
                link = child(c, "link");
                state = link ? xmlGetProp(link, BAD_CAST "state") : NULL;
                d->link_up = !(state && xmlStrEqual(state, BAD_CAST "down"));
                r = xml_dump(doc, c, &d->xml);
                if (r < 0) {
                        dom_nics_free(nics, n);
                        return r;
                }
                n++;
        }
        *ret = nics;
        *ret_n = n;
        return 0;
}

/* Parse a standalone <interface> element. */
static int parse_iface(const char *iface_xml, xmlDocPtr *ret_doc, xmlNodePtr *ret_root) {
        xmlDocPtr doc;
        int r = xml_parse(iface_xml, DOMXML_MAX_BYTES, &doc);

        if (r < 0)
                return r;
        if (!xml_is_elem(xmlDocGetRootElement(doc), "interface")) {
                xmlFreeDoc(doc);
                return -EBADMSG;
        }
        *ret_doc = doc;
        *ret_root = xmlDocGetRootElement(doc);
        return 0;
}

/* Add a new empty child element, before trailing indentation so the output stays tidy. */
static xmlNodePtr add_child(xmlNodePtr parent, const char *name) {
        xmlNodePtr n = xmlNewNode(NULL, BAD_CAST name);
        xmlNodePtr last = parent->last;

        if (!n)
                return NULL;
        if (last && xmlIsBlankNode(last)) {
                if (!xmlAddPrevSibling(last, n)) {
                        xmlFreeNode(n);
                        return NULL;
                }
                /* indent like the other children (libxml2 merges adjacent text, so add it second) */
                for (xmlNodePtr p = n->prev; p; p = p->prev)
                        if (xmlIsBlankNode(p)) {
                                xmlNodePtr ws = xmlCopyNode(p, 1);
                                if (ws && !xmlAddPrevSibling(n, ws))
                                        xmlFreeNode(ws);
                                break;
                        }
                return n;
        }
        if (!xmlAddChild(parent, n)) {
                xmlFreeNode(n);
                return NULL;
        }
        return n;
}

/* Set attr of the first <elem> child of a standalone <interface>, adding the child when missing. */
static int iface_set_child_attr(const char *iface_xml, const char *elem, const char *attr, const char *value,
                                char **ret) {
        _cleanup_doc_ xmlDocPtr doc = NULL;
        xmlNodePtr root, c;
        int r;

        r = parse_iface(iface_xml, &doc, &root);
        if (r < 0)
                return r;
        c = child(root, elem);
        if (!c)
                c = add_child(root, elem);
        if (!c || !xmlSetProp(c, BAD_CAST attr, BAD_CAST value))
                return -ENOMEM;
        return xml_dump(doc, root, ret);
}

int ifxml_set_link(const char *iface_xml, bool up, char **ret) {
        return iface_set_child_attr(iface_xml, "link", "state", up ? "up" : "down", ret);
}

int ifxml_set_mac(const char *iface_xml, const char *mac, char **ret) {
        char norm[18];

        if (!mac_normalise(mac, norm))
                return -EINVAL;
        return iface_set_child_attr(iface_xml, "mac", "address", norm, ret);
}

int ifxml_strip_alias(const char *iface_xml, char **ret) {
        _cleanup_doc_ xmlDocPtr doc = NULL;
        xmlNodePtr root, next;
        int r;

        r = parse_iface(iface_xml, &doc, &root);
        if (r < 0)
                return r;
        for (xmlNodePtr c = root->children; c; c = next) {
                _cleanup_xml_ xmlChar *name = NULL;

                next = c->next;
                if (!xml_is_elem(c, "alias"))
                        continue;
                name = xmlGetProp(c, BAD_CAST "name");
                if (name && xmlStrncmp(name, BAD_CAST "ua-", 3) == 0)
                        continue;
                /* drop the indentation before it too */
                if (c->prev && c->prev->type == XML_TEXT_NODE && xmlIsBlankNode(c->prev)) {
                        xmlNodePtr ws = c->prev;
                        xmlUnlinkNode(ws);
                        xmlFreeNode(ws);
                }
                xmlUnlinkNode(c);
                xmlFreeNode(c);
        }
        return xml_dump(doc, root, ret);
}

int ifxml_drop_target(const char *iface_xml, const char *type, char **ret) {
        _cleanup_doc_ xmlDocPtr doc = NULL;
        xmlNodePtr root, c;
        int r;

        r = parse_iface(iface_xml, &doc, &root);
        if (r < 0)
                return r;
        while ((c = child(root, "target"))) {
                xmlUnlinkNode(c);
                xmlFreeNode(c);
        }
        if (type && !xmlSetProp(root, BAD_CAST "type", BAD_CAST type))
                return -ENOMEM;
        return xml_dump(doc, root, ret);
}
