/* SPDX-License-Identifier: MIT */
/* Classify the guest's DHCP client from its own packets (pure). */
#include <errno.h>
#include <string.h>

#include "common/util.h"
#include "trigger/fingerprint.h"

/* Parameter request lists exactly as the real clients send them (captured from the real-guest tier's
 * Debian 12 images, guest/debian/: DISCOVER and REQUEST carry the same list). */
static const uint8_t prl_networkd_252[] = { 1, 3, 6, 12, 15, 33, 42, 120, 121 };
static const uint8_t prl_nm_1_42[] = { 1, 2, 6, 12, 15, 26, 28, 121, 3, 33, 40, 41, 42, 119, 249, 252, 17 };
static const uint8_t prl_dhclient_4_4[] = { 1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42 };

static const struct prl_sig {
        const uint8_t *prl;
        size_t n;
        enum guest_client client;
} prl_sigs[] = {
        { prl_networkd_252, sizeof(prl_networkd_252), CLIENT_NETWORKD },
        { prl_nm_1_42, sizeof(prl_nm_1_42), CLIENT_NM },
        { prl_dhclient_4_4, sizeof(prl_dhclient_4_4), CLIENT_DHCLIENT },
};

/* Vendor classes (option 60) that name the client; matched as a prefix. */
static const struct vendor_sig {
        const char *prefix;
        enum guest_client client;
} vendor_sigs[] = {
        { "udhcp ", CLIENT_UDHCPC },      /* busybox's default, "udhcp <version>" */
        { "dhcpcd", CLIENT_DHCPCD },      /* "dhcpcd-<version>:<os>:<machine>" */
        { "MSFT ", CLIENT_WINDOWS },
};

static bool prl_has(const struct dhcp_seen *s, uint8_t code) {
        return memchr(s->prl, code, s->n_prl) != NULL;
}

/* Position of option code in the packet's option order; -1 when absent. */
static int opt_pos(const struct dhcp_seen *s, uint8_t code) {
        const uint8_t *p = memchr(s->opts, code, s->n_opts);

        return p ? (int) (p - s->opts) : -1;
}

static enum guest_client by_traits(const struct dhcp_seen *s) {
        int pos_61 = opt_pos(s, 61), pos_55 = opt_pos(s, 55);

        /* NetworkManager asks for MS classless routes and WPAD, whichever backend it runs. */
        if (prl_has(s, 249) && prl_has(s, 252))
                return CLIENT_NM;
        /* Debian's and Ubuntu's dhclient.conf request the NetBIOS name servers and scope. */
        if (prl_has(s, 44) && prl_has(s, 47))
                return CLIENT_DHCLIENT;
        /* sd-dhcp-client asks for SIP servers (option 120) and sends an RFC 4361 client identifier
         * (type 255, IAID + DUID) ahead of its request list (dhclient's type 255 comes after it). */
        if (prl_has(s, 120))
                return CLIENT_NETWORKD;
        if (s->client_id_type == 255 && pos_61 >= 0 && pos_55 >= 0 && pos_61 < pos_55)
                return CLIENT_NETWORKD;
        return CLIENT_UNKNOWN;
}

enum guest_client fingerprint_classify(const struct dhcp_seen *s, enum client_src *ret_src) {
        enum guest_client c = CLIENT_UNKNOWN;

        if (!s || s->op != 1 || (s->msgtype != DHCP_DISCOVER && s->msgtype != DHCP_REQUEST))
                return CLIENT_UNKNOWN;
        for (size_t i = 0; i < ARRAY_SIZE(prl_sigs) && c == CLIENT_UNKNOWN; i++)
                if (s->has_prl && s->n_prl == prl_sigs[i].n && memcmp(s->prl, prl_sigs[i].prl, s->n_prl) == 0)
                        c = prl_sigs[i].client;
        for (size_t i = 0; i < ARRAY_SIZE(vendor_sigs) && c == CLIENT_UNKNOWN; i++)
                if (s->has_vendor && strncmp(s->vendor, vendor_sigs[i].prefix, strlen(vendor_sigs[i].prefix)) == 0)
                        c = vendor_sigs[i].client;
        if (c == CLIENT_UNKNOWN && !s->has_vendor)
                c = by_traits(s);
        if (c != CLIENT_UNKNOWN && ret_src)
                *ret_src = s->msgtype == DHCP_DISCOVER || *s->requested ? SRC_BOOT : SRC_RENEWAL;
        return c;
}

static const char *const client_whys[_CLIENT_MAX] = {
        [CLIENT_UNKNOWN] = "client=unknown", [CLIENT_NETWORKD] = "client=networkd", [CLIENT_NM] = "client=nm",
        [CLIENT_DHCLIENT] = "client=dhclient", [CLIENT_UDHCPC] = "client=udhcpc", [CLIENT_DHCPCD] = "client=dhcpcd",
        [CLIENT_WINDOWS] = "client=windows",
};

static bool client_ignores_flap(enum guest_client c) {
        switch (c) {
        case CLIENT_NM:          /* carrier-wait-timeout 6 s: a 1 s flap changes nothing */
        case CLIENT_DHCLIENT:    /* no carrier monitoring at all */
                return true;
        case CLIENT_NETWORKD:    /* IgnoreCarrierLoss=0: renews on carrier regain */
        case CLIENT_DHCPCD:
        case CLIENT_UDHCPC:      /* depends on what runs it: unknown */
        case CLIENT_WINDOWS:
        case CLIENT_UNKNOWN:
        case _CLIENT_MAX:
                return false;
        }
        return false;
}

bool fingerprint_skip_flap(enum guest_client client, enum worked worked, const char **ret_why) {
        bool skip = client_ignores_flap(client);
        const char *why = client < _CLIENT_MAX ? client_whys[client] : client_whys[CLIENT_UNKNOWN];

        switch (worked) {
        case WORKED_REPLUG:
                skip = true;
                why = "worked=replug";
                break;
        case WORKED_FLAP:
                skip = false;
                why = "worked=flap";
                break;
        case WORKED_NONE:        /* the client decides */
        case _WORKED_MAX:
                break;
        }
        if (ret_why)
                *ret_why = why;
        return skip;
}

static const char *const client_names[_CLIENT_MAX] = {
        [CLIENT_UNKNOWN] = "unknown", [CLIENT_NETWORKD] = "networkd", [CLIENT_NM] = "nm",
        [CLIENT_DHCLIENT] = "dhclient", [CLIENT_UDHCPC] = "udhcpc", [CLIENT_DHCPCD] = "dhcpcd",
        [CLIENT_WINDOWS] = "windows",
};
static const char *const src_names[_SRC_MAX] = { [SRC_NONE] = "-", [SRC_BOOT] = "boot", [SRC_RENEWAL] = "renewal" };
static const char *const worked_names[_WORKED_MAX] = {
        [WORKED_NONE] = "-", [WORKED_FLAP] = "flap", [WORKED_REPLUG] = "replug",
};

const char *client_to_string(enum guest_client c) {
        return c < _CLIENT_MAX ? client_names[c] : "?";
}

const char *client_src_to_string(enum client_src s) {
        return s < _SRC_MAX ? src_names[s] : "?";
}

const char *worked_to_string(enum worked w) {
        return w < _WORKED_MAX ? worked_names[w] : "?";
}

static int lookup(const char *const *names, unsigned n, const char *s, unsigned *ret) {
        if (!s)
                return -EINVAL;
        for (unsigned i = 0; i < n; i++)
                if (streq(names[i], s)) {
                        *ret = i;
                        return 0;
                }
        return -EINVAL;
}

int client_from_string(const char *s, enum guest_client *ret) {
        unsigned v;
        int r = lookup(client_names, _CLIENT_MAX, s, &v);

        if (r == 0)
                *ret = (enum guest_client) v;
        return r;
}

int client_src_from_string(const char *s, enum client_src *ret) {
        unsigned v;
        int r = lookup(src_names, _SRC_MAX, s, &v);

        if (r == 0)
                *ret = (enum client_src) v;
        return r;
}

int worked_from_string(const char *s, enum worked *ret) {
        unsigned v;
        int r = lookup(worked_names, _WORKED_MAX, s, &v);

        if (r == 0)
                *ret = (enum worked) v;
        return r;
}
