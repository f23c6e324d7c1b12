/* SPDX-License-Identifier: MIT */
/* The pure decision function: no I/O, no libvirt, no logging. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/inaddr.h"
#include "common/mac.h"
#include "common/util.h"
#include "trigger/decide.h"

void nic_identity_from_record(const struct record *r, struct nic_identity *ret) {
        size_t n_ips = r->n_ips < RECORD_MAX_IPS ? r->n_ips : RECORD_MAX_IPS;
        size_t n_routes = r->n_routes < RECORD_MAX_ROUTES ? r->n_routes : RECORD_MAX_ROUTES;

        memset(ret, 0, sizeof(*ret));
        snprintf(ret->mac, sizeof(ret->mac), "%s", r->mac);
        for (char *p = ret->mac; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        *p = (char) (*p - 'A' + 'a');
        ret->mtu = r->mtu;
        memcpy(ret->ips, r->ips, n_ips * sizeof(r->ips[0]));
        ret->n_ips = n_ips;
        memcpy(ret->routes, r->routes, n_routes * sizeof(r->routes[0]));
        ret->n_routes = n_routes;
}

/* A parsed address; family 0 = none, -1 = unparsable (then compared as text). */
static void addr_parse(const char *s, struct inaddr *ret) {
        memset(ret, 0, sizeof(*ret));
        if (s && *s && inaddr_parse(s, ret) < 0)
                ret->family = -1;
}

/* Same address: binary equal when both parse, else the same text (case-insensitive). */
static bool addr_eq(const char *a, const char *b) {
        struct inaddr x, y;

        addr_parse(a, &x);
        addr_parse(b, &y);
        if (x.family > 0 && y.family > 0)
                return inaddr_equal(&x, &y);
        if (x.family == 0 || y.family == 0)
                return x.family == y.family;
        return strcasecmp(a, b) == 0;
}

static bool ip_eq(const struct record_ip *a, const struct record_ip *b) {
        return addr_eq(a->address, b->address) && a->prefix == b->prefix && addr_eq(a->gateway, b->gateway);
}

/* "default", "10.0.0.0/8", "10.1.2.3" (host) → canonical (family, masked bytes, prefix). */
struct cidr {
        struct inaddr a;
        unsigned prefix;
        bool valid;
};

static void route_dst(const char *s, const char *gw, struct cidr *ret) {
        int p;

        memset(ret, 0, sizeof(*ret));
        if (strcasecmp(s, "default") == 0) {
                struct inaddr g;

                addr_parse(gw, &g);
                ret->a.family = g.family == AF_INET6 ? AF_INET6 : AF_INET;
                ret->valid = true;
                return;
        }
        if (cidr_parse(s, &ret->a, &p) < 0)
                return;
        ret->prefix = p >= 0 ? (unsigned) p : ret->a.family == AF_INET ? 32 : 128;
        for (unsigned i = 0; i < 16; i++) {
                unsigned bit = i * 8;
                if (bit >= ret->prefix)
                        ret->a.b[i] = 0;
                else if (ret->prefix - bit < 8)
                        ret->a.b[i] &= (unsigned char) (0xff << (8 - (ret->prefix - bit)));
        }
        ret->valid = true;
}

static bool route_eq(const struct record_route *a, const struct record_route *b) {
        struct cidr x, y;

        if (!addr_eq(a->gw, b->gw))
                return false;
        route_dst(a->dst, a->gw, &x);
        route_dst(b->dst, b->gw, &y);
        if (x.valid && y.valid)
                return x.a.family == y.a.family && x.prefix == y.prefix && memcmp(x.a.b, y.a.b, 16) == 0;
        if (x.valid != y.valid)
                return false;
        return strcasecmp(a->dst, b->dst) == 0;
}

/* Index of the first element of a[] missing from b[], or n_a when all are present. */
#define FIRST_MISSING(a, n_a, b, n_b, eq) ({                    \
        size_t _i;                                              \
        for (_i = 0; _i < (n_a); _i++) {                        \
                bool _found = false;                            \
                for (size_t _j = 0; _j < (n_b) && !_found; _j++) \
                        _found = eq(&(a)[_i], &(b)[_j]);        \
                if (!_found)                                    \
                        break;                                  \
        }                                                       \
        _i; })

static void fmt_ip(char *buf, size_t size, const struct record_ip *ip, bool with_gw) {
        if (!ip)
                snprintf(buf, size, "none");
        else if (with_gw)
                snprintf(buf, size, "%s/%u gw %s", ip->address, ip->prefix, *ip->gateway ? ip->gateway : "none");
        else
                snprintf(buf, size, "%s/%u", ip->address, ip->prefix);
}

static void fmt_route(char *buf, size_t size, const struct record_route *rt) {
        if (!rt)
                snprintf(buf, size, "none");
        else if (*rt->gw)
                snprintf(buf, size, "%s via %s", rt->dst, rt->gw);
        else
                snprintf(buf, size, "%s", rt->dst);
}

/* Compare; on a difference write the reason (if any) and return false. */
static bool identity_compare(const struct nic_identity *had, const struct nic_identity *now,
                             char *reason, size_t reason_size) {
        char x[128], y[128];
        size_t i, j;

        i = FIRST_MISSING(had->ips, had->n_ips, now->ips, now->n_ips, ip_eq);
        j = FIRST_MISSING(now->ips, now->n_ips, had->ips, had->n_ips, ip_eq);
        if (i < had->n_ips || j < now->n_ips) {
                const struct record_ip *a = i < had->n_ips ? &had->ips[i] : NULL;
                const struct record_ip *b = j < now->n_ips ? &now->ips[j] : NULL;
                /* Same address and prefix: only the gateway changed, so show it. */
                bool gw = a && b && addr_eq(a->address, b->address) && a->prefix == b->prefix;

                if (reason) {
                        fmt_ip(x, sizeof(x), a, gw);
                        fmt_ip(y, sizeof(y), b, gw);
                        snprintf(reason, reason_size, "ip %s → %s", x, y);
                }
                return false;
        }

        i = FIRST_MISSING(had->routes, had->n_routes, now->routes, now->n_routes, route_eq);
        j = FIRST_MISSING(now->routes, now->n_routes, had->routes, had->n_routes, route_eq);
        if (i < had->n_routes || j < now->n_routes) {
                if (reason) {
                        fmt_route(x, sizeof(x), i < had->n_routes ? &had->routes[i] : NULL);
                        fmt_route(y, sizeof(y), j < now->n_routes ? &now->routes[j] : NULL);
                        snprintf(reason, reason_size, "route %s → %s", x, y);
                }
                return false;
        }

        if (had->mtu && now->mtu && had->mtu != now->mtu) {
                if (reason)
                        snprintf(reason, reason_size, "mtu %u → %u", had->mtu, now->mtu);
                return false;
        }
        return true;
}

bool nic_identity_equal(const struct nic_identity *a, const struct nic_identity *b) {
        if (strcasecmp(a->mac, b->mac) != 0)
                return false;
        return identity_compare(a, b, NULL, 0);
}

enum action decide(const struct nic_identity *had, const char *live_mac, const struct record *now,
                   char *reason, size_t reason_size) {
        struct nic_identity cur;

        if (reason_size == 0)
                reason = NULL;
        if (live_mac && *live_mac && *now->mac && strcasecmp(live_mac, now->mac) != 0) {
                if (reason)
                        snprintf(reason, reason_size, "mac %s → %s", live_mac, now->mac);
                return ACTION_REATTACH;
        }
        if (!had) {
                if (reason)
                        snprintf(reason, reason_size, "no metadata: assume changed");
                return ACTION_FLAP;
        }
        nic_identity_from_record(now, &cur);
        if (!identity_compare(had, &cur, reason, reason_size))
                return ACTION_FLAP;
        if (reason)
                snprintf(reason, reason_size, "unchanged");
        return ACTION_NONE;
}

static void mac_lower(char out[18], const char *mac) {
        if (!mac_normalise(mac, out))
                out[0] = '\0';
}

bool served_probe_needed(const char *nic_mac, const char *rec_mac) {
        return nic_mac && *nic_mac && rec_mac && *rec_mac && strcasecmp(nic_mac, rec_mac) != 0;
}

static const char *answer_str(enum probe_answer a) {
        switch (a) {
        case PROBE_NOT_RUN:
                return "not-run";
        case PROBE_IMPOSSIBLE:
                return "impossible";
        case PROBE_UNANSWERED:
                return "unanswered";
        case PROBE_ANSWERED:
                return "answered";
        }
        return "?";
}

const char *served_to_string(enum served s) {
        switch (s) {
        case SERVED_NOT_PROBED:
                return "-";
        case SERVED_NIC:
                return "nic";
        case SERVED_RECORD:
                return "record";
        case SERVED_BOTH:
                return "both";
        case SERVED_NONE:
                return "none";
        case SERVED_UNKNOWN:
                return "unknown";
        case _SERVED_MAX:
                break;
        }
        return "?";
}

void decide_served(const struct served_in *in, struct served_decision *ret) {
        const char *base_reason = in->base_reason ? in->base_reason : "";
        char ms[32] = "";
        bool nic, rec;

        memset(ret, 0, sizeof(*ret));
        if (in->probe_ms >= 0)
                snprintf(ms, sizeof(ms), " probe_ms=%d", in->probe_ms);

        if (!served_probe_needed(in->nic_mac, in->rec_mac)) {
                const char *why = !in->rec_mac || !*in->rec_mac ? "the record has no mac"
                                  : !in->nic_mac || !*in->nic_mac ? "the nic's mac is unknown"
                                  : "record mac = nic mac";

                ret->kind = in->base;
                ret->served = SERVED_NOT_PROBED;
                mac_lower(ret->mac_new, in->nic_mac && *in->nic_mac ? in->nic_mac : in->rec_mac);
                snprintf(ret->reason, sizeof(ret->reason), "%s", base_reason);
                snprintf(ret->evidence, sizeof(ret->evidence), "served=- probe=\"not needed: %s\"", why);
                return;
        }

        nic = in->nic == PROBE_ANSWERED;
        rec = in->rec == PROBE_ANSWERED;
        if (rec && !nic) {
                /* The server answers the record's MAC only: the guest must get it. */
                ret->kind = ACTION_REATTACH;
                ret->served = SERVED_RECORD;
                mac_lower(ret->mac_new, in->rec_mac);
                mac_lower(ret->mac_alt, in->nic_mac);
                snprintf(ret->reason, sizeof(ret->reason), "mac %s → %s", ret->mac_alt, ret->mac_new);
                snprintf(ret->evidence, sizeof(ret->evidence), "served=record probe=nic:%s,record:%s%s",
                         answer_str(in->nic), answer_str(in->rec), ms);
                return;
        }

        /* Keep the MAC: served, or the fallback. */
        ret->kind = in->base;
        mac_lower(ret->mac_new, in->nic_mac);
        snprintf(ret->reason, sizeof(ret->reason), "%s", base_reason);
        if (nic) {
                /* Both answered: the record's MAC would work too, so it stays the alternative. */
                if (rec)
                        mac_lower(ret->mac_alt, in->rec_mac);
                ret->served = rec ? SERVED_BOTH : SERVED_NIC;
                snprintf(ret->evidence, sizeof(ret->evidence), "served=%s probe=nic:%s,record:%s%s",
                         served_to_string(ret->served), answer_str(in->nic), answer_str(in->rec), ms);
                return;
        }
        mac_lower(ret->mac_alt, in->rec_mac);
        ret->served = in->nic == PROBE_UNANSWERED && in->rec == PROBE_UNANSWERED ? SERVED_NONE : SERVED_UNKNOWN;
        if (ret->served == SERVED_UNKNOWN)
                snprintf(ret->evidence, sizeof(ret->evidence),
                         "served=unknown probe=\"%s: %s\"%s fallback=keep-mac", in->nic == PROBE_NOT_RUN ||
                         in->rec == PROBE_NOT_RUN ? "not run" : "impossible",
                         in->probe_error && *in->probe_error ? in->probe_error : "no reason given", ms);
        else
                snprintf(ret->evidence, sizeof(ret->evidence),
                         "served=none probe=nic:%s,record:%s%s fallback=keep-mac", answer_str(in->nic),
                         answer_str(in->rec), ms);
}

const char *action_to_string(enum action a) {
        switch (a) {
        case ACTION_NONE:
                return "none";
        case ACTION_FLAP:
                return "flap";
        case ACTION_REATTACH:
                return "reattach";
        }
        return "unknown";
}
