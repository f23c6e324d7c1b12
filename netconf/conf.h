/* SPDX-License-Identifier: MIT */
/*
 * The CNI side of the plugin: network configuration on stdin (with prevResult), CNI_ARGS,
 * re-encoding prevResult in the config's cniVersion, and the CNI error document.
 * Plain structs out; the cJSON tree never leaves netconf/.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include "netconf/policy.h"
#include "netconf/record.h"

#define CONF_MAX_INPUT        (1024 * 1024)   /* stdin cap */
#define CONF_DEFAULT_STATE_DIR "/run/cni/relink"
#define CONF_VM_KEY           "vm"              /* args.cni.vm; alias args.cni["relink.dev/vm"] */
#define CONF_VM_KEY_ALIAS     "relink.dev/vm"
#define RESULT_MAX_IFACES     32

extern const char *const conf_supported_versions[];   /* NULL-terminated, oldest first */
#define CONF_LATEST_VERSION "1.1.0"

/* Compare two "x.y.z" versions: <0, 0, >0; -2 when either is malformed. */
int conf_version_cmp(const char *a, const char *b);
bool conf_version_supported(const char *v);

struct result_iface {
        char name[IFNAMSIZ];
        char mac[18];           /* lower case, "" when absent */
        bool sandbox;           /* "sandbox" set and non-empty */
};

struct result_ip {
        struct record_ip ip;
        int iface;              /* index into interfaces[], -1 when the field is absent */
};

struct prev_result {
        struct result_iface ifaces[RESULT_MAX_IFACES];
        size_t n_ifaces;
        struct result_ip ips[RECORD_MAX_IPS * 4];
        size_t n_ips;
        struct record_route routes[RECORD_MAX_ROUTES];
        size_t n_routes;
        struct record_dns dns;
};

struct attachment {
        char container_id[RECORD_NAME_MAX + 1];
        char ifname[IFNAMSIZ];
};

struct netconf_tree;    /* the parsed prevResult, kept for re-encoding */

struct netconf {
        char cni_version[16];
        char name[RECORD_NAME_MAX + 1];
        char type[64];
        char state_dir[PATH_MAX];
        char log_file[PATH_MAX];
        char log_level[16];
        char vm[512];                     /* args.cni.vm, "" when absent */
        struct attach_policy policy;      /* relinkPolicy/relinkObserve: conf (network) and args.cni (VM) */
        char policy_error[256];           /* why those are invalid, "" when valid: ADD and CHECK refuse
                                           * (code 7), DEL/GC/STATUS never fail on a relinkd knob */
        bool has_prev_result;
        struct prev_result prev;
        bool has_valid_attachments;       /* cni.dev/valid-attachments (GC) */
        struct attachment *valid;
        size_t n_valid;
        struct netconf_tree *tree;
};

/*
 * Parse the stdin document. Returns 0, or:
 *   -EBADMSG          not JSON / not UTF-8 / not an object (CNI code 6)
 *   -EPROTONOSUPPORT  cniVersion missing from conf_supported_versions (code 1)
 *   -EINVAL           a field has the wrong type or value, "\u0000" in a string, or duplicate keys
 *                     (see json_parse_strict) anywhere in the document (code 7)
 * with a human-readable reason in err.
 */
int conf_parse(const char *buf, size_t len, struct netconf **ret, char *err, size_t err_size);
void conf_free(struct netconf *c);
/* The document's cniVersion when it is a supported version, else "" (for errors about a config
 * conf_parse refused: the error document then speaks the config's version). */
void conf_peek_version(const char *buf, size_t len, char *ret, size_t size);
static inline void conf_freep(struct netconf **c) { conf_free(*c); }

/* prevResult re-encoded in c->cni_version (ips[].version kept/derived for < 1.0.0, dropped from 1.0.0).
 * Rewrites the kept prevResult tree in place; repeated calls give the same output. */
int conf_prev_result_json(const struct netconf *c, char **ret_json);

/* Index of the pod interface in prevResult (sandbox set, name == ifname), -ENOENT if absent. */
int prev_result_pod_iface(const struct prev_result *p, const char *ifname);
/* Copy the IPs that belong to iface (or have no interface field) into r->ips. */
void prev_result_ips_for(const struct prev_result *p, int iface, struct record *r);

struct cni_args {
        char pod_namespace[254];
        char pod_name[254];
        char pod_uid[64];
        char pod_infra_container_id[RECORD_NAME_MAX + 1];
};

/* "K=V;K=V"; unknown keys ignored. -EINVAL (reason in err) for a pair without '=', an oversize value or
 * a known key's value that is not valid UTF-8. */
int cni_args_parse(const char *s, struct cni_args *ret, char *err, size_t err_size);

/* KubeVirt: pod "virt-launcher-<vmi>-<5 lower-case alnum>" in namespace ns → "<ns>_<vmi>"; else "". */
void vm_from_pod(const char *ns, const char *pod, char *ret, size_t size);

/* {"cniVersion","code","msg","details"} (details omitted when NULL/empty). */
int conf_error_json(const char *cni_version, unsigned code, const char *msg, const char *details, char **ret_json);
/* {"cniVersion":"1.1.0","supportedVersions":[...]} */
int conf_version_json(char **ret_json);
