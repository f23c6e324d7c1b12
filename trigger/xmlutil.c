/* SPDX-License-Identifier: MIT */
/* libxml2 helpers shared by the XML modules. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "trigger/xmlutil.h"

bool xml_is_elem(xmlNodePtr n, const char *name) {
        return n && n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, BAD_CAST name);
}

/* SAX internalSubset: the document has a <!DOCTYPE>. Stop before its internal subset is read, so
 * no entity is ever declared (let alone expanded: 56 KB of entities make 100 MB of text). */
static void refuse_doctype(void *ctx, const xmlChar *name, const xmlChar *external_id, const xmlChar *system_id) {
        xmlParserCtxtPtr ctxt = ctx;

        ctxt->_private = ctxt;
        xmlStopParser(ctxt);
}

int xml_parse(const char *xml, size_t max, xmlDocPtr *ret) {
        xmlParserCtxtPtr ctxt;
        xmlDocPtr doc;
        bool doctype;
        size_t n;

        if (!xml)
                return -EINVAL;
        n = strlen(xml);
        if (n == 0 || n > max || n > INT_MAX)
                return -EBADMSG;
        ctxt = xmlNewParserCtxt();
        if (!ctxt)
                return -ENOMEM;
        ctxt->sax->internalSubset = refuse_doctype;
        ctxt->_private = NULL;
        /* No XML_PARSE_NOENT (entity substitution) nor XML_PARSE_DTDLOAD/DTDATTR/DTDVALID: nothing
         * of a DTD is read; any DOCTYPE is refused above. */
        doc = xmlCtxtReadMemory(ctxt, xml, (int) n, NULL, NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        doctype = ctxt->_private != NULL;
        xmlFreeParserCtxt(ctxt);
        if (!doc || doctype || doc->intSubset || doc->extSubset || !xmlDocGetRootElement(doc)) {
                if (doc)
                        xmlFreeDoc(doc);
                return -EBADMSG;
        }
        *ret = doc;
        return 0;
}

int xml_dump(xmlDocPtr doc, xmlNodePtr node, char **ret) {
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
