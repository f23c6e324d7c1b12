/* SPDX-License-Identifier: MIT */
/* Encode/decode the per-NIC identity kept in the domain's metadata (libxml2). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/inaddr.h"
#include "common/mac.h"
#include "common/util.h"
#include "trigger/metadata.h"
#include "trigger/xmlutil.h"

static bool set_attr(xmlNodePtr n, const char *name, const char *value) {
        return xmlSetProp(n, BAD_CAST name, BAD_CAST value) != NULL;
}

static int encode_nic(xmlNodePtr parent, const struct meta_nic *m) {
        const struct nic_identity *id = &m->id;
        xmlNodePtr nic = xmlNewChild(parent, NULL, BAD_CAST "nic", NULL);
        char buf[16];

        if (!nic || !set_attr(nic, "pci", m->pci) || !set_attr(nic, "mac", id->mac))
                return -ENOMEM;
        snprintf(buf, sizeof(buf), "%u", id->mtu);
        if (id->mtu && !set_attr(nic, "mtu", buf))
                return -ENOMEM;
        if (m->client != CLIENT_UNKNOWN && (!set_attr(nic, "client", client_to_string(m->client)) ||
                                            !set_attr(nic, "client-src", client_src_to_string(m->client_src))))
                return -ENOMEM;
        if (m->worked != WORKED_NONE && !set_attr(nic, "worked", worked_to_string(m->worked)))
                return -ENOMEM;
        if (*m->applied && !set_attr(nic, "applied", m->applied))
                return -ENOMEM;
        for (size_t i = 0; i < id->n_ips; i++) {
                xmlNodePtr ip = xmlNewChild(nic, NULL, BAD_CAST "ip", NULL);

                snprintf(buf, sizeof(buf), "%u", id->ips[i].prefix);
                if (!ip || !set_attr(ip, "address", id->ips[i].address) || !set_attr(ip, "prefix", buf))
                        return -ENOMEM;
                if (*id->ips[i].gateway && !set_attr(ip, "gateway", id->ips[i].gateway))
                        return -ENOMEM;
        }
        for (size_t i = 0; i < id->n_routes; i++) {
                xmlNodePtr rt = xmlNewChild(nic, NULL, BAD_CAST "route", NULL);

                if (!rt || !set_attr(rt, "dst", id->routes[i].dst))
                        return -ENOMEM;
                if (*id->routes[i].gw && !set_attr(rt, "gw", id->routes[i].gw))
                        return -ENOMEM;
        }
        return 0;
}

int metadata_encode(const struct meta_nic *nics, size_t n, char **ret_xml) {
        _cleanup_doc_ xmlDocPtr doc = NULL;
        xmlNodePtr root;
        char *s;
        int r;

        if (n > RELINK_META_MAX_NICS || (n && !nics))
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (nics[i].id.n_ips > RECORD_MAX_IPS || nics[i].id.n_routes > RECORD_MAX_ROUTES ||
                    nics[i].client >= _CLIENT_MAX || nics[i].client_src >= _SRC_MAX || nics[i].worked >= _WORKED_MAX)
                        return -EINVAL;
        doc = xmlNewDoc(BAD_CAST "1.0");
        root = doc ? xmlNewNode(NULL, BAD_CAST "nics") : NULL;
        if (!root)
                return -ENOMEM;
        xmlDocSetRootElement(doc, root);
        for (size_t i = 0; i < n; i++) {
                r = encode_nic(root, &nics[i]);
                if (r < 0)
                        return r;
        }
        r = xml_dump(doc, root, &s);
        if (r < 0)
                return r;
        /* Never store what we could not read back (bad MAC, empty PCI, bad address, …). */
        {
                _cleanup_free_ struct meta_nic *check = NULL;
                size_t n_check = 0;

                r = metadata_decode(s, &check, &n_check);
                if (r < 0) {
                        free(s);
                        return r == -ENOMEM ? r : -EINVAL;
                }
        }
        *ret_xml = s;
        return 0;
}

/* A required (or optional, when !required) attribute copied into dst; false on missing/too long. */
static bool get_attr(xmlNodePtr n, const char *name, char *dst, size_t size, bool required) {
        _cleanup_xml_ xmlChar *v = xmlGetProp(n, BAD_CAST name);

        dst[0] = '\0';
        if (!v)
                return !required;
        return strcpy_bounded(dst, size, (const char *) v) == 0 && (*dst || !required);
}

static bool get_uint(xmlNodePtr n, const char *name, unsigned max, unsigned *ret, bool required) {
        char buf[16], *end;
        unsigned long v;

        if (!get_attr(n, name, buf, sizeof(buf), required))
                return false;
        if (!*buf) {
                *ret = 0;
                return true;
        }
        if (!isdigit((unsigned char) buf[0]))
                return false;
        errno = 0;
        v = strtoul(buf, &end, 10);
        if (errno || *end || v > max)
                return false;
        *ret = (unsigned) v;
        return true;
}

static int addr_family(const char *s) {
        struct inaddr a;

        return inaddr_parse(s, &a) == 0 ? a.family : 0;
}

static bool pci_valid(const char *s) {         /* "0000:00:03.0" */
        if (strlen(s) != 12 || s[4] != ':' || s[7] != ':' || s[10] != '.' || s[11] > '7')
                return false;
        for (int i = 0; i < 12; i++)
                if (i != 4 && i != 7 && i != 10 && !isxdigit((unsigned char) s[i]))
                        return false;
        return true;
}

static bool cidr_valid(const char *s) {          /* "default", "A" or "A/P" */
        struct inaddr a;
        int p;

        return strcasecmp(s, "default") == 0 || cidr_parse(s, &a, &p) == 0;
}

static int decode_nic(xmlNodePtr nic, struct meta_nic *m) {
        struct nic_identity *id = &m->id;
        char buf[32];

        memset(m, 0, sizeof(*m));
        if (!get_attr(nic, "pci", m->pci, sizeof(m->pci), true) || !pci_valid(m->pci))
                return -EBADMSG;
        if (!get_attr(nic, "mac", id->mac, sizeof(id->mac), true) || !mac_normalise(id->mac, id->mac))
                return -EBADMSG;
        if (!get_uint(nic, "mtu", 65535, &id->mtu, false))
                return -EBADMSG;
        if (!get_attr(nic, "applied", m->applied, sizeof(m->applied), false))
                m->applied[0] = '\0';          /* too long: not a kind this relinkd knows */
        if (!streq(m->applied, "flap") && !streq(m->applied, "reattach"))
                m->applied[0] = '\0';
        /* Knowledge about the guest, not its identity: what this version cannot read is not known. */
        if (!get_attr(nic, "client", buf, sizeof(buf), false) || client_from_string(buf, &m->client) < 0 ||
            !get_attr(nic, "client-src", buf, sizeof(buf), false) || client_src_from_string(buf, &m->client_src) < 0) {
                m->client = CLIENT_UNKNOWN;
                m->client_src = SRC_NONE;
        }
        if (!get_attr(nic, "worked", buf, sizeof(buf), false) || worked_from_string(buf, &m->worked) < 0)
                m->worked = WORKED_NONE;

        for (xmlNodePtr c = nic->children; c; c = c->next) {
                if (xml_is_elem(c, "ip")) {
                        struct record_ip *ip;

                        if (id->n_ips >= RECORD_MAX_IPS)
                                return -EBADMSG;
                        ip = &id->ips[id->n_ips++];
                        if (!get_attr(c, "address", ip->address, sizeof(ip->address), true) ||
                            !get_attr(c, "gateway", ip->gateway, sizeof(ip->gateway), false))
                                return -EBADMSG;
                        ip->family = addr_family(ip->address);
                        if (!ip->family || (*ip->gateway && addr_family(ip->gateway) != ip->family))
                                return -EBADMSG;
                        if (!get_uint(c, "prefix", ip->family == AF_INET ? 32 : 128, &ip->prefix, true))
                                return -EBADMSG;
                } else if (xml_is_elem(c, "route")) {
                        struct record_route *rt;

                        if (id->n_routes >= RECORD_MAX_ROUTES)
                                return -EBADMSG;
                        rt = &id->routes[id->n_routes++];
                        if (!get_attr(c, "dst", rt->dst, sizeof(rt->dst), true) || !cidr_valid(rt->dst) ||
                            !get_attr(c, "gw", rt->gw, sizeof(rt->gw), false) ||
                            (*rt->gw && !addr_family(rt->gw)))
                                return -EBADMSG;
                }
                /* other nodes (text, comments, future elements) are ignored */
        }
        return 0;
}

int metadata_decode(const char *xml, struct meta_nic **ret, size_t *ret_n) {
        _cleanup_doc_ xmlDocPtr doc = NULL;
        _cleanup_free_ struct meta_nic *nics = NULL;
        xmlNodePtr root;
        size_t n = 0, cap = 0;
        int r;

        r = xml_parse(xml, RELINK_META_MAX_BYTES, &doc);
        if (r < 0)
                return r;
        root = xmlDocGetRootElement(doc);
        /* virDomainGetMetadata returns <relink:nics xmlns:relink="…">: the local name is what counts. */
        if (!xml_is_elem(root, "nics"))
                return -EBADMSG;
        if (root->ns && root->ns->href && !xmlStrEqual(root->ns->href, BAD_CAST RELINK_META_URI))
                return -EBADMSG;

        for (xmlNodePtr c = root->children; c; c = c->next) {
                if (!xml_is_elem(c, "nic"))
                        continue;
                if (n >= RELINK_META_MAX_NICS)
                        return -EBADMSG;
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 2;
                        struct meta_nic *p = reallocarray(nics, ncap, sizeof(*nics));

                        if (!p)
                                return -ENOMEM;
                        nics = p;
                        cap = ncap;
                }
                r = decode_nic(c, &nics[n]);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i++)
                        if (strcasecmp(nics[i].pci, nics[n].pci) == 0)
                                return -EBADMSG;
                n++;
        }
        *ret = TAKE_PTR(nics);
        *ret_n = n;
        return 0;
}

const struct meta_nic *metadata_find(const struct meta_nic *nics, size_t n, const char *pci) {
        if (!pci || !*pci)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (strcasecmp(nics[i].pci, pci) == 0)
                        return &nics[i];
        return NULL;
}

struct meta_nic *metadata_append(struct meta_nic **nics, size_t *n) {
        struct meta_nic *p = reallocarray(*nics, *n + 1, sizeof(**nics));

        if (!p)
                return NULL;
        *nics = p;
        memset(&p[*n], 0, sizeof(p[*n]));
        return &p[(*n)++];
}
