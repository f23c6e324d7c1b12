/* SPDX-License-Identifier: MIT */
/* CNI network configuration, prevResult and CNI_ARGS (see conf.h). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>

#include "common/inaddr.h"
#include "common/utf8.h"
#include "common/util.h"
#include "netconf/conf.h"
#include "netconf/json.h"

const char *const conf_supported_versions[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0", NULL };

struct netconf_tree {
        cJSON *prev;
};

static int parse_version(const char *s, unsigned v[3]) {
        int n = 0;

        if (!s || sscanf(s, "%u.%u.%u%n", &v[0], &v[1], &v[2], &n) != 3 || s[n] != '\0')
                return -EINVAL;
        return 0;
}

int conf_version_cmp(const char *a, const char *b) {
        unsigned va[3], vb[3];

        if (parse_version(a, va) < 0 || parse_version(b, vb) < 0)
                return -2;
        for (int i = 0; i < 3; i++)
                if (va[i] != vb[i])
                        return va[i] < vb[i] ? -1 : 1;
        return 0;
}

bool conf_version_supported(const char *v) {
        for (size_t i = 0; v && conf_supported_versions[i]; i++)
                if (streq(v, conf_supported_versions[i]))
                        return true;
        return false;
}

/* Optional string field: absent → leave dst; wrong type / too long → -EINVAL. */
static int opt_str(const cJSON *o, const char *key, char *dst, size_t size, const char *what, char *err,
                   size_t err_size) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

        if (!v || cJSON_IsNull(v))
                return 0;
        if (!cJSON_IsString(v))
                return netconf_fail(err, err_size, -EINVAL, "%s%s must be a string", what, key);
        if (strcpy_bounded(dst, size, v->valuestring) < 0)
                return netconf_fail(err, err_size, -EINVAL, "%s%s is too long", what, key);
        return 1;
}

/* Like opt_str, but a value too long for dst becomes "" instead of an error. */
static int opt_str_or_empty(const cJSON *o, const char *key, char *dst, size_t size, const char *what, char *err,
                            size_t err_size) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

        if (v && cJSON_IsString(v) && strlen(v->valuestring) >= size) {
                dst[0] = '\0';
                return 0;
        }
        return opt_str(o, key, dst, size, what, err, err_size);
}

/* Optional array/object field: absent or null → *ret NULL; another type → -EINVAL. */
static int opt_typed(const cJSON *o, const char *key, bool array, const cJSON **ret, const char *what, char *err,
                     size_t err_size) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

        *ret = NULL;
        if (!v || cJSON_IsNull(v))
                return 0;
        if (array ? !cJSON_IsArray(v) : !cJSON_IsObject(v))
                return netconf_fail(err, err_size, -EINVAL, "%s%s must be an %s", what, key, array ? "array" : "object");
        *ret = v;
        return 0;
}

static int opt_array(const cJSON *o, const char *key, const cJSON **ret, const char *what, char *err, size_t es) {
        return opt_typed(o, key, true, ret, what, err, es);
}

static int opt_object(const cJSON *o, const char *key, const cJSON **ret, const char *what, char *err, size_t es) {
        return opt_typed(o, key, false, ret, what, err, es);
}

/* "10.1.2.3" → canonical text; family detected. */
static int parse_addr(const char *s, int *ret_family, char *ret, size_t size) {
        struct inaddr a;

        if (inaddr_parse(s, &a) < 0 || inaddr_format(&a, ret, size) < 0)
                return -EINVAL;
        *ret_family = a.family;
        return 0;
}

/* "10.1.2.3/24" (prefix required) → canonical address text + prefix. */
static int parse_cidr(const char *s, int *ret_family, char *ret_addr, size_t size, unsigned *ret_prefix) {
        struct inaddr a;
        int prefix;

        if (cidr_parse(s, &a, &prefix) < 0 || prefix < 0 || inaddr_format(&a, ret_addr, size) < 0)
                return -EINVAL;
        *ret_family = a.family;
        *ret_prefix = (unsigned)prefix;
        return 0;
}

static void lower(char *s) {
        for (; *s; s++)
                *s = (char)tolower((unsigned char)*s);
}

static int parse_prev_result(const cJSON *pr, struct prev_result *p, char *err, size_t es) {
        const cJSON *a, *it, *dns;
        char version[16];       /* checked for type and length only: the output uses the config's */
        size_t i;
        int r;

        r = opt_str(pr, "cniVersion", version, sizeof(version), "prevResult.", err, es);
        if (r < 0)
                return r;
        if (cJSON_GetObjectItemCaseSensitive(pr, "ip4") || cJSON_GetObjectItemCaseSensitive(pr, "ip6"))
                return netconf_fail(err, es, -EINVAL, "prevResult uses the 0.2.0 format, which is not supported");

        r = opt_array(pr, "interfaces", &a, "prevResult.", err, es);
        if (r < 0)
                return r;
        i = 0;
        cJSON_ArrayForEach(it, a) {
                struct result_iface *f;
                char sandbox[4096] = "";

                if (!cJSON_IsObject(it))
                        return netconf_fail(err, es, -EINVAL, "prevResult.interfaces[%zu] must be an object", i);
                if (p->n_ifaces >= RESULT_MAX_IFACES)
                        break;          /* indexes past the cap simply never match */
                f = &p->ifaces[p->n_ifaces++];
                /* Entries that cannot be a Linux pod interface (long names, 20-byte IPoIB or other link
                 * addresses) keep their index but never match: tolerated, not an error. */
                if (opt_str_or_empty(it, "name", f->name, sizeof(f->name), "prevResult.interfaces[].", err, es) < 0 ||
                    opt_str_or_empty(it, "mac", f->mac, sizeof(f->mac), "prevResult.interfaces[].", err, es) < 0 ||
                    opt_str_or_empty(it, "sandbox", sandbox, sizeof(sandbox), "prevResult.interfaces[].", err, es) < 0)
                        return -EINVAL;
                lower(f->mac);
                f->sandbox = sandbox[0] != '\0';
                i++;
        }

        r = opt_array(pr, "ips", &a, "prevResult.", err, es);
        if (r < 0)
                return r;
        i = 0;
        cJSON_ArrayForEach(it, a) {
                struct result_ip ip = { .iface = -1 };
                char addr[RECORD_CIDR_MAX + 8] = "", gw[RECORD_ADDR_MAX + 8] = "";
                const cJSON *idx;

                if (!cJSON_IsObject(it))
                        return netconf_fail(err, es, -EINVAL, "prevResult.ips[%zu] must be an object", i);
                if (opt_str(it, "address", addr, sizeof(addr), "prevResult.ips[].", err, es) < 0 ||
                    opt_str(it, "gateway", gw, sizeof(gw), "prevResult.ips[].", err, es) < 0)
                        return -EINVAL;
                if (parse_cidr(addr, &ip.ip.family, ip.ip.address, sizeof(ip.ip.address), &ip.ip.prefix) < 0)
                        return netconf_fail(err, es, -EINVAL, "prevResult.ips[%zu].address '%s' is not an address/prefix",
                                    i, addr);
                if (gw[0]) {
                        int fam;
                        if (parse_addr(gw, &fam, ip.ip.gateway, sizeof(ip.ip.gateway)) < 0 || fam != ip.ip.family)
                                return netconf_fail(err, es, -EINVAL, "prevResult.ips[%zu].gateway '%s' is invalid", i, gw);
                }
                idx = cJSON_GetObjectItemCaseSensitive(it, "interface");
                if (idx && !cJSON_IsNull(idx)) {
                        if (!cJSON_IsNumber(idx) || idx->valuedouble < 0 || idx->valuedouble > 1e6 ||
                            idx->valuedouble != floor(idx->valuedouble))
                                return netconf_fail(err, es, -EINVAL, "prevResult.ips[%zu].interface must be an index", i);
                        ip.iface = (int)idx->valuedouble;
                }
                if (p->n_ips < ARRAY_SIZE(p->ips))
                        p->ips[p->n_ips++] = ip;
                i++;
        }

        r = opt_array(pr, "routes", &a, "prevResult.", err, es);
        if (r < 0)
                return r;
        i = 0;
        cJSON_ArrayForEach(it, a) {
                struct record_route rt = {0};
                char dst[RECORD_CIDR_MAX + 8] = "", gw[RECORD_ADDR_MAX + 8] = "", addr[RECORD_ADDR_MAX];
                unsigned prefix;
                int fam, fam2;

                if (!cJSON_IsObject(it))
                        return netconf_fail(err, es, -EINVAL, "prevResult.routes[%zu] must be an object", i);
                if (opt_str(it, "dst", dst, sizeof(dst), "prevResult.routes[].", err, es) < 0 ||
                    opt_str(it, "gw", gw, sizeof(gw), "prevResult.routes[].", err, es) < 0)
                        return -EINVAL;
                if (parse_cidr(dst, &fam, addr, sizeof(addr), &prefix) < 0)
                        return netconf_fail(err, es, -EINVAL, "prevResult.routes[%zu].dst '%s' is invalid", i, dst);
                snprintf(rt.dst, sizeof(rt.dst), "%s/%u", addr, prefix);
                if (gw[0] && (parse_addr(gw, &fam2, rt.gw, sizeof(rt.gw)) < 0 || fam2 != fam))
                        return netconf_fail(err, es, -EINVAL, "prevResult.routes[%zu].gw '%s' is invalid", i, gw);
                if (p->n_routes < ARRAY_SIZE(p->routes))
                        p->routes[p->n_routes++] = rt;
                i++;
        }

        r = opt_object(pr, "dns", &dns, "prevResult.", err, es);
        if (r < 0)
                return r;
        if (dns) {
                if (opt_str_or_empty(dns, "domain", p->dns.domain, sizeof(p->dns.domain), "prevResult.dns.", err, es) < 0)
                        return -EINVAL;
                if (opt_array(dns, "nameservers", &a, "prevResult.dns.", err, es) < 0)
                        return -EINVAL;
                cJSON_ArrayForEach(it, a) {
                        int fam;
                        if (!cJSON_IsString(it))
                                return netconf_fail(err, es, -EINVAL, "prevResult.dns.nameservers[] must be strings");
                        if (p->dns.n_nameservers >= RECORD_MAX_DNS)
                                break;
                        /* DNS is informational for relink: skip what is not an address */
                        if (parse_addr(it->valuestring, &fam, p->dns.nameservers[p->dns.n_nameservers],
                                       RECORD_ADDR_MAX) == 0)
                                p->dns.n_nameservers++;
                }
                if (opt_array(dns, "search", &a, "prevResult.dns.", err, es) < 0)
                        return -EINVAL;
                cJSON_ArrayForEach(it, a) {
                        if (!cJSON_IsString(it))
                                return netconf_fail(err, es, -EINVAL, "prevResult.dns.search[] must be strings");
                        if (p->dns.n_search >= RECORD_MAX_DNS)
                                break;
                        if (strcpy_bounded(p->dns.search[p->dns.n_search], sizeof(p->dns.search[0]),
                                           it->valuestring) == 0)
                                p->dns.n_search++;
                }
        }
        return 0;
}

/* relinkPolicy / relinkObserve in o (the conf's top level or args.cni); what: "" or "args.cni.".
 * Invalid values leave a reason in c->policy_error (the first one) instead of failing the parse. */
static void parse_policy(const cJSON *o, const char *what, enum relink_policy *ret_policy, bool *ret_observe,
                         struct netconf *c) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, POLICY_KEY);
        char *e = c->policy_error;
        size_t es = sizeof(c->policy_error);

        if (v && !cJSON_IsNull(v)) {
                if (!cJSON_IsString(v)) {
                        if (!e[0])
                                snprintf(e, es, "%s" POLICY_KEY " must be a string: any, flap, replug or none", what);
                } else if (policy_from_string(v->valuestring, ret_policy) < 0) {
                        if (!e[0])
                                snprintf(e, es, "%s" POLICY_KEY " '%.64s' is not one of any, flap, replug, none", what,
                                         v->valuestring);
                }
        }
        v = cJSON_GetObjectItemCaseSensitive(o, POLICY_OBSERVE_KEY);
        if (v && !cJSON_IsNull(v)) {
                if (!cJSON_IsBool(v)) {
                        if (!e[0])
                                snprintf(e, es, "%s" POLICY_OBSERVE_KEY " must be true or false", what);
                } else
                        *ret_observe = cJSON_IsTrue(v);
        }
}

static int parse_valid_attachments(const cJSON *a, struct netconf *c, char *err, size_t es) {
        const cJSON *it;
        size_t n = (size_t)cJSON_GetArraySize(a);

        c->valid = calloc(n ? n : 1, sizeof(*c->valid));
        if (!c->valid)
                return -ENOMEM;
        cJSON_ArrayForEach(it, a) {
                struct attachment at = {0};
                const char *w = "cni.dev/valid-attachments[].";
                char cid[1024] = "", ifname[1024] = "";

                if (!cJSON_IsObject(it))
                        return netconf_fail(err, es, -EINVAL, "cni.dev/valid-attachments entries must be objects");
                if (opt_str(it, "containerID", cid, sizeof(cid), w, err, es) < 0 ||
                    opt_str(it, "ifname", ifname, sizeof(ifname), w, err, es) < 0)
                        return -EINVAL;
                if (strcpy_bounded(at.container_id, sizeof(at.container_id), cid) < 0 ||
                    strcpy_bounded(at.ifname, sizeof(at.ifname), ifname) < 0)
                        continue;       /* too long to name any record we keep */
                c->valid[c->n_valid++] = at;
        }
        c->has_valid_attachments = true;
        return 0;
}

int conf_parse(const char *buf, size_t len, struct netconf **ret, char *err, size_t es) {
        _cleanup_cjson_ cJSON *root = NULL;
        struct netconf *c = NULL;
        const cJSON *v, *args;
        char jerr[128];
        int r;

        if (err && es)
                err[0] = '\0';
        r = json_parse_strict(buf, len, &root, jerr, sizeof(jerr));
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return netconf_fail(err, es, r, "network configuration refused: %s", jerr);
        if (!cJSON_IsObject(root))
                return netconf_fail(err, es, -EBADMSG, "network configuration is not a JSON object");

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        strcpy(c->state_dir, CONF_DEFAULT_STATE_DIR);

        v = cJSON_GetObjectItemCaseSensitive(root, "cniVersion");
        if (!v || !cJSON_IsString(v) || strcpy_bounded(c->cni_version, sizeof(c->cni_version), v->valuestring) < 0) {
                r = netconf_fail(err, es, -EPROTONOSUPPORT, "cniVersion is missing or not a version string");
                goto out;
        }
        if (!conf_version_supported(c->cni_version)) {
                r = netconf_fail(err, es, -EPROTONOSUPPORT, "incompatible CNI versions: config is '%s', plugin supports "
                         "0.3.0 0.3.1 0.4.0 1.0.0 1.1.0", c->cni_version);
                goto out;
        }
        v = cJSON_GetObjectItemCaseSensitive(root, "name");
        if (!cJSON_IsString(v) || !v->valuestring[0]) {
                r = netconf_fail(err, es, -EINVAL, "network name is missing");
                goto out;
        }
        if (!record_name_valid(v->valuestring)) {
                r = netconf_fail(err, es, -EINVAL, "invalid network name '%.64s': must match [a-zA-Z0-9][a-zA-Z0-9_.-]*",
                         v->valuestring);
                goto out;
        }
        strcpy(c->name, v->valuestring);
        if ((r = opt_str(root, "type", c->type, sizeof(c->type), "", err, es)) < 0 ||
            (r = opt_str(root, "stateDir", c->state_dir, sizeof(c->state_dir), "", err, es)) < 0 ||
            (r = opt_str(root, "logFile", c->log_file, sizeof(c->log_file), "", err, es)) < 0 ||
            (r = opt_str(root, "logLevel", c->log_level, sizeof(c->log_level), "", err, es)) < 0)
                goto out;
        if (c->state_dir[0] != '/') {
                r = netconf_fail(err, es, -EINVAL, "stateDir '%s' must be an absolute path", c->state_dir);
                goto out;
        }
        if (c->log_file[0] && c->log_file[0] != '/') {
                r = netconf_fail(err, es, -EINVAL, "logFile '%s' must be an absolute path", c->log_file);
                goto out;
        }

        parse_policy(root, "", &c->policy.network, &c->policy.network_observe, c);
        args = cJSON_GetObjectItemCaseSensitive(root, "args");
        if (args && cJSON_IsObject(args)) {
                const cJSON *cni = cJSON_GetObjectItemCaseSensitive(args, "cni");
                if (cni && cJSON_IsObject(cni)) {
                        parse_policy(cni, "args.cni.", &c->policy.vm, &c->policy.vm_observe, c);
                        r = opt_str(cni, CONF_VM_KEY, c->vm, sizeof(c->vm), "args.cni.", err, es);
                        if (r == 0)
                                r = opt_str(cni, CONF_VM_KEY_ALIAS, c->vm, sizeof(c->vm), "args.cni.", err, es);
                        if (r < 0)
                                goto out;
                }
        }

        r = opt_array(root, "cni.dev/valid-attachments", &v, "", err, es);
        if (r == 0 && v)
                r = parse_valid_attachments(v, c, err, es);
        if (r < 0)
                goto out;

        r = opt_object(root, "prevResult", &v, "", err, es);
        if (r < 0)
                goto out;
        if (v) {
                r = parse_prev_result(v, &c->prev, err, es);
                if (r < 0)
                        goto out;
                c->tree = calloc(1, sizeof(*c->tree));
                if (!c->tree) {
                        r = -ENOMEM;
                        goto out;
                }
                c->tree->prev = cJSON_DetachItemFromObjectCaseSensitive(root, "prevResult");
                c->has_prev_result = true;
        }
        *ret = TAKE_PTR(c);
        r = 0;
out:
        conf_free(c);
        return r;
}

void conf_peek_version(const char *buf, size_t len, char *ret, size_t size) {
        _cleanup_cjson_ cJSON *root = NULL;
        const cJSON *v;

        if (size)
                ret[0] = '\0';
        if (json_parse_strict(buf, len, &root, NULL, 0) < 0)
                return;
        v = cJSON_GetObjectItemCaseSensitive(root, "cniVersion");
        if (cJSON_IsString(v) && conf_version_supported(v->valuestring))
                snprintf(ret, size, "%s", v->valuestring);
}

void conf_free(struct netconf *c) {
        if (!c)
                return;
        if (c->tree)
                cJSON_Delete(c->tree->prev);
        free(c->tree);
        free(c->valid);
        free(c);
}

/* Rewrites the kept tree in place (no deep copy on ADD's path); idempotent, so calling twice is harmless. */
int conf_prev_result_json(const struct netconf *c, char **ret_json) {
        cJSON *t, *ips, *it;
        bool old = conf_version_cmp(c->cni_version, "1.0.0") < 0;

        if (!c->tree || !c->tree->prev)
                return -ENOENT;
        t = c->tree->prev;
        cJSON *ver = cJSON_CreateString(c->cni_version);
        if (!ver)
                return -ENOMEM;
        if (cJSON_GetObjectItemCaseSensitive(t, "cniVersion")) {
                if (!cJSON_ReplaceItemInObjectCaseSensitive(t, "cniVersion", ver)) {
                        cJSON_Delete(ver);
                        return -ENOMEM;
                }
        } else if (!cJSON_AddItemToObject(t, "cniVersion", ver)) {
                cJSON_Delete(ver);
                return -ENOMEM;
        }
        ips = cJSON_GetObjectItemCaseSensitive(t, "ips");
        if (!cJSON_IsArray(ips))
                ips = NULL;
        cJSON_ArrayForEach(it, ips) {
                const cJSON *addr = cJSON_GetObjectItemCaseSensitive(it, "address");
                if (!old) {
                        cJSON_DeleteItemFromObjectCaseSensitive(it, "version");
                        continue;
                }
                if (cJSON_GetObjectItemCaseSensitive(it, "version") || !cJSON_IsString(addr))
                        continue;
                /* 0.3.x/0.4.0 require ips[].version: derived from the address, not invented. */
                if (!cJSON_AddStringToObject(it, "version", strchr(addr->valuestring, ':') ? "6" : "4"))
                        return -ENOMEM;
        }
        char *s = cJSON_PrintUnformatted(t);
        if (!s)
                return -ENOMEM;
        *ret_json = s;
        return 0;
}

int prev_result_pod_iface(const struct prev_result *p, const char *ifname) {
        for (size_t i = 0; i < p->n_ifaces; i++)
                if (p->ifaces[i].sandbox && streq(p->ifaces[i].name, ifname))
                        return (int)i;
        return -ENOENT;
}

void prev_result_ips_for(const struct prev_result *p, int iface, struct record *r) {
        r->n_ips = 0;
        for (size_t i = 0; i < p->n_ips && r->n_ips < RECORD_MAX_IPS; i++)
                if (p->ips[i].iface < 0 || p->ips[i].iface == iface)
                        r->ips[r->n_ips++] = p->ips[i].ip;
}

int cni_args_parse(const char *s, struct cni_args *ret, char *err, size_t es) {
        static const struct {
                const char *key;
                size_t off, size;
        } keys[] = {
                { "K8S_POD_NAMESPACE", offsetof(struct cni_args, pod_namespace), sizeof(ret->pod_namespace) },
                { "K8S_POD_NAME", offsetof(struct cni_args, pod_name), sizeof(ret->pod_name) },
                { "K8S_POD_UID", offsetof(struct cni_args, pod_uid), sizeof(ret->pod_uid) },
                { "K8S_POD_INFRA_CONTAINER_ID", offsetof(struct cni_args, pod_infra_container_id),
                  sizeof(ret->pod_infra_container_id) },
        };
        struct cni_args a = {0};

        while (s && *s) {
                const char *end = strchrnul(s, ';');
                const char *eq = memchr(s, '=', (size_t)(end - s));
                size_t klen;

                if (end == s) {         /* tolerate ";;" */
                        s = end + 1;
                        continue;
                }
                if (!eq || eq == s)
                        return netconf_fail(err, es, -EINVAL, "CNI_ARGS: invalid pair '%.*s'", (int)(end - s), s);
                klen = (size_t)(eq - s);
                for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
                        size_t vlen = (size_t)(end - eq - 1);
                        if (strlen(keys[i].key) != klen || memcmp(keys[i].key, s, klen) != 0)
                                continue;
                        if (vlen >= keys[i].size)
                                return netconf_fail(err, es, -EINVAL, "CNI_ARGS: %s is too long", keys[i].key);
                        if (!utf8_valid(eq + 1, vlen))  /* recorded as a JSON string */
                                return netconf_fail(err, es, -EINVAL, "CNI_ARGS: %s is not valid UTF-8", keys[i].key);
                        memcpy((char *)&a + keys[i].off, eq + 1, vlen);
                        ((char *)&a + keys[i].off)[vlen] = '\0';
                }
                s = *end ? end + 1 : end;
        }
        *ret = a;
        return 0;
}

void vm_from_pod(const char *ns, const char *pod, char *ret, size_t size) {
        static const char prefix[] = "virt-launcher-";
        const size_t plen = sizeof(prefix) - 1;
        size_t n;

        if (size)
                ret[0] = '\0';
        if (!ns || !pod || !ns[0] || strncmp(pod, prefix, plen) != 0)
                return;
        n = strlen(pod);
        if (n < plen + 1 + 6 || pod[n - 6] != '-')      /* "<vmi>-xxxxx", vmi non-empty */
                return;
        for (size_t i = n - 5; i < n; i++)
                if (!islower((unsigned char)pod[i]) && !isdigit((unsigned char)pod[i]))
                        return;
        int k = snprintf(ret, size, "%s_%.*s", ns, (int)(n - 6 - plen), pod + plen);
        if (k < 0 || (size_t)k >= size)
                ret[0] = '\0';
}

int conf_error_json(const char *cni_version, unsigned code, const char *msg, const char *details, char **ret_json) {
        _cleanup_cjson_ cJSON *o = cJSON_CreateObject();

        if (!o || !cJSON_AddStringToObject(o, "cniVersion", cni_version ? cni_version : CONF_LATEST_VERSION) ||
            !cJSON_AddNumberToObject(o, "code", code) || !cJSON_AddStringToObject(o, "msg", msg ? msg : ""))
                return -ENOMEM;
        if (details && details[0] && !cJSON_AddStringToObject(o, "details", details))
                return -ENOMEM;
        char *s = cJSON_PrintUnformatted(o);
        if (!s)
                return -ENOMEM;
        *ret_json = s;
        return 0;
}

int conf_version_json(char **ret_json) {
        _cleanup_cjson_ cJSON *o = cJSON_CreateObject();
        cJSON *a;

        if (!o || !cJSON_AddStringToObject(o, "cniVersion", CONF_LATEST_VERSION) ||
            !(a = cJSON_AddArrayToObject(o, "supportedVersions")))
                return -ENOMEM;
        for (size_t i = 0; conf_supported_versions[i]; i++) {
                cJSON *s = cJSON_CreateString(conf_supported_versions[i]);
                if (!s || !cJSON_AddItemToArray(a, s)) {
                        cJSON_Delete(s);
                        return -ENOMEM;
                }
        }
        char *s = cJSON_PrintUnformatted(o);
        if (!s)
                return -ENOMEM;
        *ret_json = s;
        return 0;
}
