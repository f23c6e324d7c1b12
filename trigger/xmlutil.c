/* SPDX-License-Identifier: MIT */
/* libxml2 helpers shared by the XML modules. */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "trigger/xmlutil.h"

bool xml_is_elem(xmlNodePtr n, const char *name) {
        return n && n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, BAD_CAST name);
}

int xml_parse(const char *xml, size_t max, xmlDocPtr *ret) {
        size_t n;
        xmlDocPtr doc;

        if (!xml)
                return -EINVAL;
        n = strlen(xml);
        if (n == 0 || n > max)
                return -EBADMSG;
        doc = xmlReadMemory(xml, (int) n, NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc || !xmlDocGetRootElement(doc)) {
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
bool mac_normalise(const char *s, char out[18]) {
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
