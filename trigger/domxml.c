/* SPDX-License-Identifier: MIT */
/* Read a domain's <interface> elements and edit one of them. The only libvirt-XML code. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "common/util.h"
#include "trigger/domxml.h"

#define DOMXML_MAX_BYTES (16 * 1024 * 1024)
#define XML_OPTS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

static void xml_doc_freep(xmlDocPtr *d) {
        if (*d)
                xmlFreeDoc(*d);
}
static void xml_freep(xmlChar **p) {
        if (*p)
                xmlFree(*p);
}
#define _cleanup_doc_ _cleanup_(xml_doc_freep)
#define _cleanup_xml_ _cleanup_(xml_freep)

static int parse(const char *xml, xmlDocPtr *ret) {
        size_t n;
        xmlDocPtr doc;

        if (!xml)
                return -EINVAL;
        n = strlen(xml);
        if (n == 0 || n > DOMXML_MAX_BYTES)
                return -EBADMSG;
        doc = xmlReadMemory(xml, (int) n, NULL, NULL, XML_OPTS);
        if (!doc || !xmlDocGetRootElement(doc)) {
                if (doc)
                        xmlFreeDoc(doc);
                return -EBADMSG;
        }
        *ret = doc;
        return 0;
}

static bool is_elem(xmlNodePtr n, const char *name) {
        return n && n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, BAD_CAST name);
}

static xmlNodePtr child(xmlNodePtr parent, const char *name) {
        for (xmlNodePtr c = parent->children; c; c = c->next)
                if (is_elem(c, name))
                        return c;
        return NULL;
}

/* Serialise one element standalone (no XML declaration). */
static int dump(xmlDocPtr doc, xmlNodePtr node, char **ret) {
        xmlBufferPtr buf = xmlBufferCreate();
        char *s;

        if (!buf)
                return -ENOMEM;
        if (xmlNodeDump(buf, doc, node, 0, 0) < 0) {
                xmlBufferFree(buf);
                return -ENOMEM;
        }
        s = strdup((const char *) xmlBufferContent(buf));
        xmlBufferFree(buf);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* "aa:bb:cc:dd:ee:ff" in any case → lower case into out[18]. */
static bool mac_normalise(const char *s, char out[18]) {
        if (!s || strlen(s) != 17)
                return false;
        for (int i = 0; i < 17; i++) {
                if (i % 3 == 2) {
                        if (s[i] != ':')
                                return false;
                } else if (!isxdigit((unsigned char) s[i]))
                        return false;
                out[i] = (char) tolower((unsigned char) s[i]);
        }
        out[17] = '\0';
        return true;
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

        r = parse(domain_xml, &doc);
        if (r < 0)
                return r;
        root = xmlDocGetRootElement(doc);
        if (!is_elem(root, "domain"))
                return -EBADMSG;
        devices = child(root, "devices");

        for (xmlNodePtr c = devices ? devices->children : NULL; c; c = c->next) {
                struct dom_nic *d;
                char mac[18] = "";
                _cleanup_xml_ xmlChar *state = NULL;
                xmlNodePtr link;

                if (!is_elem(c, "interface"))
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
                r = dump(doc, c, &d->xml);
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
        int r = parse(iface_xml, &doc);

        if (r < 0)
                return r;
        if (!is_elem(xmlDocGetRootElement(doc), "interface")) {
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

int ifxml_set_link(const char *iface_xml, bool up, char **ret) {
        _cleanup_doc_ xmlDocPtr doc = NULL;
        xmlNodePtr root, link;
        int r;

        r = parse_iface(iface_xml, &doc, &root);
        if (r < 0)
                return r;
        link = child(root, "link");
        if (!link)
                link = add_child(root, "link");
        if (!link || !xmlSetProp(link, BAD_CAST "state", BAD_CAST (up ? "up" : "down")))
                return -ENOMEM;
        return dump(doc, root, ret);
}

int ifxml_set_mac(const char *iface_xml, const char *mac, char **ret) {
        _cleanup_doc_ xmlDocPtr doc = NULL;
        char norm[18];
        xmlNodePtr root, m;
        int r;

        if (!mac_normalise(mac, norm))
                return -EINVAL;
        r = parse_iface(iface_xml, &doc, &root);
        if (r < 0)
                return r;
        m = child(root, "mac");
        if (!m)
                m = add_child(root, "mac");
        if (!m || !xmlSetProp(m, BAD_CAST "address", BAD_CAST norm))
                return -ENOMEM;
        return dump(doc, root, ret);
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
                if (!is_elem(c, "alias"))
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
        return dump(doc, root, ret);
}
