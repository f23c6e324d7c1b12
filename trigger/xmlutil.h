/* SPDX-License-Identifier: MIT */
/* libxml2 helpers shared by the XML modules (domxml, metadata, pending): parse with a size cap,
 * serialise one element, cleanup attributes, the MAC attribute format. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <libxml/parser.h>
#include <libxml/tree.h>


#include "common/util.h"

static inline void xml_doc_freep(xmlDocPtr *d) {
        if (*d)
                xmlFreeDoc(*d);
}
static inline void xml_freep(xmlChar **p) {
        if (*p)
                xmlFree(*p);
}
#define _cleanup_doc_ _cleanup_(xml_doc_freep)
#define _cleanup_xml_ _cleanup_(xml_freep)

/* An element node called name (n may be NULL). */
bool xml_is_elem(xmlNodePtr n, const char *name);
/* Parse without network access, error output, entity substitution or DTD loading. -EINVAL when xml is
 * NULL; -EBADMSG when it is empty, longer than max bytes, unparsable, has a <!DOCTYPE> (internal subset
 * or not: none of our documents has one, and its entities could expand a small input a thousandfold)
 * or has no root element. */
int xml_parse(const char *xml, size_t max, xmlDocPtr *ret);
/* Serialise one element standalone (no XML declaration); caller frees. 0 or -ENOMEM. */
int xml_dump(xmlDocPtr doc, xmlNodePtr node, char **ret);
