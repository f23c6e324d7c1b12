/* SPDX-License-Identifier: MIT */
/*
 * The attachment record: what relink (the CNI plugin) learnt about one pod interface,
 * and what relinkd compares a migrated guest against. Schema documented in docs/record-schema.md.
 * Plain C structs; the JSON encoding lives in netconf/record.c (the only cJSON user besides netconf/).
 */
#pragma once

#include <arpa/inet.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netconf/policy.h"

#define RECORD_SCHEMA      1
#define RECORD_NAME_MAX    253     /* network names, container IDs (CNI: [a-zA-Z0-9][a-zA-Z0-9_.-]*) */
#define RECORD_MAX_IPS     16
#define RECORD_MAX_ROUTES  64
#define RECORD_MAX_DNS     8
#define RECORD_MAX_BYTES   (256 * 1024)  /* cap when reading a record file */
#define RECORD_ADDR_MAX    INET6_ADDRSTRLEN
#define RECORD_CIDR_MAX    (INET6_ADDRSTRLEN + 4)

struct record_ip {
        int family;                       /* AF_INET or AF_INET6 */
        char address[RECORD_ADDR_MAX];    /* "10.244.1.5" (no prefix) */
        unsigned prefix;                  /* 24 */
        char gateway[RECORD_ADDR_MAX];    /* "" when none */
};

struct record_route {
        char dst[RECORD_CIDR_MAX];        /* "0.0.0.0/0" */
        char gw[RECORD_ADDR_MAX];         /* "" when none (on-link) */
};

struct record_dns {
        char nameservers[RECORD_MAX_DNS][RECORD_ADDR_MAX];
        size_t n_nameservers;
        char domain[254];
        char search[RECORD_MAX_DNS][254];
        size_t n_search;
};

struct record {
        unsigned schema;                          /* RECORD_SCHEMA */
        char network[RECORD_NAME_MAX + 1];        /* CNI network name */
        char container_id[RECORD_NAME_MAX + 1];   /* CNI_CONTAINERID */
        char ifname[IFNAMSIZ];                    /* CNI_IFNAME, as at ADD time */
        int ifindex;                              /* in the pod netns; survives renames */
        char netns_path[4096];                    /* CNI_NETNS */
        uint64_t netns_dev, netns_ino;            /* identity of the netns (stat of its file) */
        char mac[18];                             /* "0a:58:0a:f4:01:05", lower case */
        unsigned mtu;
        struct record_ip ips[RECORD_MAX_IPS];
        size_t n_ips;
        struct record_route routes[RECORD_MAX_ROUTES];
        size_t n_routes;
        struct record_dns dns;                    /* prevResult's dns */
        char pod_namespace[254];                  /* from CNI_ARGS K8S_POD_NAMESPACE, "" if absent */
        char pod_name[254];                       /* K8S_POD_NAME */
        char pod_uid[64];                         /* K8S_POD_UID */
        char pod_infra_container_id[RECORD_NAME_MAX + 1]; /* K8S_POD_INFRA_CONTAINER_ID */
        char vm[512];                             /* libvirt domain name "<ns>_<vmi>", "" if none */
        struct attach_policy policy;              /* what relinkd may do (absent in old records: any) */
        char cni_version[16];                     /* the config's cniVersion */
        int64_t created;                          /* unix seconds (JSON: RFC 3339 UTC string) */
};

/* Encode as a JSON document (NUL-terminated, caller frees). 0 or -errno. */
int record_to_json(const struct record *r, char **ret_json);
/* Decode; -EBADMSG for malformed JSON or wrong types, -EPROTONOSUPPORT for an unknown schema. */
int record_from_json(const char *buf, size_t len, struct record **ret);

/* True when s is a valid CNI name (network name, container ID): [a-zA-Z0-9][a-zA-Z0-9_.-]*, <= RECORD_NAME_MAX. */
bool record_name_valid(const char *s);
/* True when s is a valid Linux interface name (1..15 bytes, no '/', ':', whitespace, not "." or ".."). */
bool record_ifname_valid(const char *s);
