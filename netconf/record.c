/* SPDX-License-Identifier: MIT */
/* JSON encoding of struct record (schema in docs/record-schema.md). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <time.h>

#include "common/inaddr.h"
#include "common/utf8.h"
#include "common/util.h"
#include "netconf/json.h"
#include "netconf/record.h"

bool record_name_valid(const char *s) {
        size_t n;

        if (!s || !isalnum((unsigned char)s[0]))
                return false;
        for (n = 0; s[n]; n++) {
                unsigned char c = (unsigned char)s[n];
                if (!isalnum(c) && c != '_' && c != '.' && c != '-')
                        return false;
                if (n >= RECORD_NAME_MAX)
                        return false;
        }
        return true;
}

bool record_ifname_valid(const char *s) {
        size_t n;

        if (!s || !s[0] || streq(s, ".") || streq(s, ".."))
                return false;
        for (n = 0; s[n]; n++) {
                unsigned char c = (unsigned char)s[n];
                if (c == '/' || c == ':' || isspace(c) || c < 0x20 || c == 0x7f)
                        return false;
                if (n >= IFNAMSIZ - 1)
                        return false;
        }
        return utf8_valid(s, n);       /* it names a file and a JSON string */
}

/* ---- encode ---- */





/* A JSON array of n strings laid out stride bytes apart (a char[n][stride] field). */
static cJSON *string_array(const char *first, size_t stride, size_t n) {
        cJSON *a = cJSON_CreateArray();

        for (size_t i = 0; a && i < n && i < RECORD_MAX_DNS; i++)
                if (json_append(a, cJSON_CreateString(first + i * stride)) < 0) {
                        cJSON_Delete(a);
                        return NULL;
                }
        return a;
}

/*
 * Unix seconds → "YYYY-MM-DDTHH:MM:SSZ" by arithmetic (days → civil date, H. Hinnant's algorithm):
 * glibc's gmtime_r reads /etc/localtime on first use, a file open+read on every ADD.
 * Years outside 0000..9999 print as the epoch.
 */
static void format_time(int64_t t, char buf[32]) {
        int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400), secs = t - days * 86400;
        int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
        int64_t doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
        int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);

        if (y < 0 || y > 9999)
                y = 1970, m = 1, d = 1, secs = 0;
        snprintf(buf, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, (int)m, (int)d, (int)(secs / 3600),
                 (int)(secs / 60 % 60), (int)(secs % 60));
}

int record_to_json(const struct record *r, char **ret_json) {
        _cleanup_cjson_ cJSON *o = cJSON_CreateObject();
        cJSON *netns, *ips, *routes, *dns, *pod, *policy;
        char created[32];
        int k = 0;

        if (!o)
                return -ENOMEM;
        k |= json_add_num(o, "schema", r->schema ? r->schema : RECORD_SCHEMA);
        k |= json_add_str(o, "network", r->network);
        k |= json_add_str(o, "containerID", r->container_id);
        k |= json_add_str(o, "ifname", r->ifname);
        k |= json_add_num(o, "ifindex", r->ifindex);
        k |= json_add_item(o, "netns", netns = cJSON_CreateObject());
        if (k < 0)
                return -ENOMEM;
        k |= json_add_str(netns, "path", r->netns_path);
        k |= json_add_num(netns, "dev", (double)r->netns_dev);
        k |= json_add_num(netns, "ino", (double)r->netns_ino);
        k |= json_add_str(o, "mac", r->mac);
        k |= json_add_num(o, "mtu", r->mtu);
        k |= json_add_item(o, "ips", ips = cJSON_CreateArray());
        if (k < 0)
                return -ENOMEM;
        for (size_t i = 0; i < r->n_ips && i < RECORD_MAX_IPS; i++) {
                cJSON *ip = cJSON_CreateObject();
                if (json_append(ips, ip) < 0)
                        return -ENOMEM;
                k |= json_add_num(ip, "family", r->ips[i].family == AF_INET6 ? 6 : 4);
                k |= json_add_str(ip, "address", r->ips[i].address);
                k |= json_add_num(ip, "prefix", r->ips[i].prefix);
                if (r->ips[i].gateway[0])
                        k |= json_add_str(ip, "gateway", r->ips[i].gateway);
        }
        k |= json_add_item(o, "routes", routes = cJSON_CreateArray());
        if (k < 0)
                return -ENOMEM;
        for (size_t i = 0; i < r->n_routes && i < RECORD_MAX_ROUTES; i++) {
                cJSON *rt = cJSON_CreateObject();
                if (json_append(routes, rt) < 0)
                        return -ENOMEM;
                k |= json_add_str(rt, "dst", r->routes[i].dst);
                if (r->routes[i].gw[0])
                        k |= json_add_str(rt, "gw", r->routes[i].gw);
        }
        k |= json_add_item(o, "dns", dns = cJSON_CreateObject());
        if (k < 0)
                return -ENOMEM;
        k |= json_add_item(dns, "nameservers", string_array(r->dns.nameservers[0], sizeof(r->dns.nameservers[0]),
                                                        r->dns.n_nameservers));
        k |= json_add_str(dns, "domain", r->dns.domain);
        k |= json_add_item(dns, "search", string_array(r->dns.search[0], sizeof(r->dns.search[0]), r->dns.n_search));
        k |= json_add_item(o, "pod", pod = cJSON_CreateObject());
        if (k < 0)
                return -ENOMEM;
        k |= json_add_str(pod, "namespace", r->pod_namespace);
        k |= json_add_str(pod, "name", r->pod_name);
        k |= json_add_str(pod, "uid", r->pod_uid);
        k |= json_add_str(pod, "infraContainerID", r->pod_infra_container_id);
        k |= json_add_str(o, "vm", r->vm);
        k |= json_add_item(o, "policy", policy = cJSON_CreateObject());
        if (k < 0)
                return -ENOMEM;
        k |= json_add_str(policy, "network", policy_to_string(r->policy.network));
        k |= json_add_str(policy, "vm", policy_to_string(r->policy.vm));
        k |= cJSON_AddBoolToObject(policy, "networkObserve", r->policy.network_observe) ? 0 : -ENOMEM;
        k |= cJSON_AddBoolToObject(policy, "vmObserve", r->policy.vm_observe) ? 0 : -ENOMEM;
        k |= json_add_str(o, "cniVersion", r->cni_version);
        format_time(r->created, created);
        k |= json_add_str(o, "created", created);
        if (k < 0)
                return -ENOMEM;

        char *s = cJSON_Print(o);
        if (!s)
                return -ENOMEM;
        *ret_json = s;
        return 0;
}

/* ---- decode ---- */

/* Optional string: absent leaves dst ""; wrong type or too long is -EBADMSG. */
static int get_str(const cJSON *o, const char *k, char *dst, size_t size, bool required) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

        if (!v)
                return required ? -EBADMSG : 0;
        if (!cJSON_IsString(v) || !v->valuestring)
                return -EBADMSG;
        return strcpy_bounded(dst, size, v->valuestring) < 0 ? -EBADMSG : 0;
}

static int get_uint(const cJSON *o, const char *k, double max, double *ret) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

        *ret = 0;
        if (!v)
                return 0;
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > max ||
            v->valuedouble != floor(v->valuedouble))
                return -EBADMSG;
        *ret = v->valuedouble;
        return 0;
}

static int get_array(const cJSON *o, const char *k, const cJSON **ret) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

        *ret = NULL;
        if (!v || cJSON_IsNull(v))
                return 0;
        if (!cJSON_IsArray(v))
                return -EBADMSG;
        *ret = v;
        return 0;
}

/* Optional policy name: absent is any; an unknown name or wrong type is -EBADMSG. */
static int get_policy(const cJSON *o, const char *k, enum relink_policy *ret) {
        char name[16] = "";

        *ret = POLICY_ANY;
        if (get_str(o, k, name, sizeof(name), false) < 0)
                return -EBADMSG;
        if (name[0] && policy_from_string(name, ret) < 0)
                return -EBADMSG;
        return 0;
}

static int get_bool(const cJSON *o, const char *k, bool *ret) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

        *ret = false;
        if (!v)
                return 0;
        if (!cJSON_IsBool(v))
                return -EBADMSG;
        *ret = cJSON_IsTrue(v);
        return 0;
}

static int parse_time(const char *s, int64_t *ret) {
        struct tm tm = {0};
        const char *end;

        if (!s[0]) {
                *ret = 0;
                return 0;
        }
        end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (!end || *end)
                return -EBADMSG;
        *ret = (int64_t)timegm(&tm);
        return 0;
}

int record_from_json(const char *buf, size_t len, struct record **ret) {
        _cleanup_cjson_ cJSON *o = NULL;
        _cleanup_free_ struct record *r = NULL;
        const cJSON *netns, *a, *it, *dns, *pod, *policy;
        char created[64] = "";
        double d;
        int k = 0;

        if (json_parse_strict(buf, len, &o, NULL, 0) < 0 || !cJSON_IsObject(o))
                return -EBADMSG;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;

        const cJSON *schema = cJSON_GetObjectItemCaseSensitive(o, "schema");
        if (!cJSON_IsNumber(schema))
                return -EBADMSG;
        if (schema->valuedouble != RECORD_SCHEMA)
                return -EPROTONOSUPPORT;
        r->schema = RECORD_SCHEMA;

        k |= get_str(o, "network", r->network, sizeof(r->network), true);
        k |= get_str(o, "containerID", r->container_id, sizeof(r->container_id), true);
        k |= get_str(o, "ifname", r->ifname, sizeof(r->ifname), true);
        k |= get_uint(o, "ifindex", INT32_MAX, &d);
        r->ifindex = (int)d;
        k |= get_str(o, "mac", r->mac, sizeof(r->mac), false);
        k |= get_uint(o, "mtu", UINT32_MAX, &d);
        r->mtu = (unsigned)d;
        k |= get_str(o, "vm", r->vm, sizeof(r->vm), false);
        k |= get_str(o, "cniVersion", r->cni_version, sizeof(r->cni_version), false);
        k |= get_str(o, "created", created, sizeof(created), false);
        if (k < 0)
                return -EBADMSG;
        if (!record_name_valid(r->network) || !record_name_valid(r->container_id) ||
            !record_ifname_valid(r->ifname))
                return -EBADMSG;
        if (parse_time(created, &r->created) < 0)
                return -EBADMSG;

        netns = cJSON_GetObjectItemCaseSensitive(o, "netns");
        if (netns) {
                if (!cJSON_IsObject(netns))
                        return -EBADMSG;
                k |= get_str(netns, "path", r->netns_path, sizeof(r->netns_path), false);
                k |= get_uint(netns, "dev", 9007199254740992.0, &d);
                r->netns_dev = (uint64_t)d;
                k |= get_uint(netns, "ino", 9007199254740992.0, &d);
                r->netns_ino = (uint64_t)d;
        }

        k |= get_array(o, "ips", &a);
        if (k < 0)
                return -EBADMSG;
        cJSON_ArrayForEach(it, a) {
                struct record_ip *ip;
                struct inaddr bin;

                if (r->n_ips >= RECORD_MAX_IPS || !cJSON_IsObject(it))
                        return -EBADMSG;
                ip = &r->ips[r->n_ips++];
                k |= get_uint(it, "family", 6, &d);
                ip->family = d == 6 ? AF_INET6 : AF_INET;
                k |= get_str(it, "address", ip->address, sizeof(ip->address), true);
                k |= get_uint(it, "prefix", ip->family == AF_INET6 ? 128 : 32, &d);
                ip->prefix = (unsigned)d;
                k |= get_str(it, "gateway", ip->gateway, sizeof(ip->gateway), false);
                if (k < 0 || inaddr_parse(ip->address, &bin) < 0 || bin.family != ip->family)
                        return -EBADMSG;
        }

        k |= get_array(o, "routes", &a);
        if (k < 0)
                return -EBADMSG;
        cJSON_ArrayForEach(it, a) {
                struct record_route *rt;

                if (r->n_routes >= RECORD_MAX_ROUTES || !cJSON_IsObject(it))
                        return -EBADMSG;
                rt = &r->routes[r->n_routes++];
                k |= get_str(it, "dst", rt->dst, sizeof(rt->dst), true);
                k |= get_str(it, "gw", rt->gw, sizeof(rt->gw), false);
        }

        dns = cJSON_GetObjectItemCaseSensitive(o, "dns");
        if (dns) {
                if (!cJSON_IsObject(dns))
                        return -EBADMSG;
                k |= get_str(dns, "domain", r->dns.domain, sizeof(r->dns.domain), false);
                k |= get_array(dns, "nameservers", &a);
                if (k < 0)
                        return -EBADMSG;
                cJSON_ArrayForEach(it, a) {
                        if (r->dns.n_nameservers >= RECORD_MAX_DNS || !cJSON_IsString(it) ||
                            strcpy_bounded(r->dns.nameservers[r->dns.n_nameservers++], RECORD_ADDR_MAX,
                                           it->valuestring) < 0)
                                return -EBADMSG;
                }
                k |= get_array(dns, "search", &a);
                if (k < 0)
                        return -EBADMSG;
                cJSON_ArrayForEach(it, a) {
                        if (r->dns.n_search >= RECORD_MAX_DNS || !cJSON_IsString(it) ||
                            strcpy_bounded(r->dns.search[r->dns.n_search++], sizeof(r->dns.search[0]), it->valuestring) < 0)
                                return -EBADMSG;
                }
        }

        pod = cJSON_GetObjectItemCaseSensitive(o, "pod");
        if (pod) {
                if (!cJSON_IsObject(pod))
                        return -EBADMSG;
                k |= get_str(pod, "namespace", r->pod_namespace, sizeof(r->pod_namespace), false);
                k |= get_str(pod, "name", r->pod_name, sizeof(r->pod_name), false);
                k |= get_str(pod, "uid", r->pod_uid, sizeof(r->pod_uid), false);
                k |= get_str(pod, "infraContainerID", r->pod_infra_container_id,
                             sizeof(r->pod_infra_container_id), false);
        }
        /* Records written before policies existed have none: any, acting. */
        policy = cJSON_GetObjectItemCaseSensitive(o, "policy");
        if (policy) {
                if (!cJSON_IsObject(policy))
                        return -EBADMSG;
                k |= get_policy(policy, "network", &r->policy.network);
                k |= get_policy(policy, "vm", &r->policy.vm);
                k |= get_bool(policy, "networkObserve", &r->policy.network_observe);
                k |= get_bool(policy, "vmObserve", &r->policy.vm_observe);
        }
        if (k < 0)
                return -EBADMSG;

        *ret = TAKE_PTR(r);
        return 0;
}
