/* SPDX-License-Identifier: MIT */
/* bin/relink: a chained CNI plugin that records every pod attachment for relinkd. Dispatch only. */
#include <stdio.h>

#include "common/fileio.h"
#include "common/log.h"
#include "common/utf8.h"
#include "common/util.h"
#include "common/version.h"
#include "netconf/conf.h"
#include "netconf/store.h"
#include "plugin/plugin.h"

enum {
        NEED_CONTAINERID = 1 << 0,
        NEED_NETNS = 1 << 1,
        NEED_IFNAME = 1 << 2,
};

static const struct verb {
        const char *name;
        int (*run)(const struct cni_call *call);
        unsigned needs;
        const char *min_version;           /* the oldest cniVersion that has this verb */
} verbs[] = {
        { "ADD",    verb_add,    NEED_CONTAINERID | NEED_NETNS | NEED_IFNAME, "0.3.0" },
        { "DEL",    verb_del,    NEED_CONTAINERID | NEED_IFNAME,              "0.3.0" },
        { "CHECK",  verb_check,  NEED_CONTAINERID | NEED_NETNS | NEED_IFNAME, "0.4.0" },
        { "STATUS", verb_status, 0,                                           "1.1.0" },
        { "GC",     verb_gc,     0,                                           "1.1.0" },
};

static int do_version(void) {
        _cleanup_free_ char *json = NULL;

        if (conf_version_json(&json) < 0)
                return cni_fail(CNI_ERR_IO, NULL, "out of memory");
        printf("%s\n", json);
        return 0;
}

/* Collect every missing/invalid environment variable into one message. */
static void env_problem(char *buf, size_t size, const char *var, const char *what, const char *value) {
        size_t n = strlen(buf);

        if (value && !utf8_valid_str(value))
                value = NULL;   /* the error document is JSON: never echo bytes that are not UTF-8 */

        snprintf(buf + n, size - n, "%s%s %s%s%.64s%s", n ? ", " : "", var, what, value ? " '" : "",
                 value ? value : "", value ? "'" : "");
}

static int check_env(const struct verb *v, struct cni_call *call) {
        char problems[1024] = "";

        if (v->needs & NEED_CONTAINERID) {
                if (!call->container_id || !call->container_id[0])
                        env_problem(problems, sizeof(problems), "CNI_CONTAINERID", "is missing", NULL);
                else if (!record_name_valid(call->container_id))
                        env_problem(problems, sizeof(problems), "CNI_CONTAINERID", "is invalid", call->container_id);
        }
        if ((v->needs & NEED_NETNS) && (!call->netns || !call->netns[0]))
                env_problem(problems, sizeof(problems), "CNI_NETNS", "is missing", NULL);
        if (v->needs & NEED_IFNAME) {
                if (!call->ifname || !call->ifname[0])
                        env_problem(problems, sizeof(problems), "CNI_IFNAME", "is missing", NULL);
                else if (!record_ifname_valid(call->ifname))
                        env_problem(problems, sizeof(problems), "CNI_IFNAME", "is invalid", call->ifname);
        }
        /* Each valid on its own, yet together too long to name a record file (the store's rule). */
        if (!problems[0] && (v->needs & NEED_CONTAINERID) && (v->needs & NEED_IFNAME) &&
            !store_attachment_valid(call->container_id, call->ifname))
                env_problem(problems, sizeof(problems), "CNI_CONTAINERID", "is too long", NULL);
        if (!problems[0])
                return 0;
        return cni_fail(CNI_ERR_INVALID_ENV, NULL, "missing or invalid environment variables: %s", problems);
}

static int parse_error(int r, const char *err) {
        switch (r) {
        case -EBADMSG:
                return cni_fail(CNI_ERR_DECODE, NULL, "%s", err);
        case -EPROTONOSUPPORT:
                return cni_fail(CNI_ERR_INCOMPATIBLE_VERSION, NULL, "%s", err);
        case -EINVAL:
                return cni_fail(CNI_ERR_INVALID_CONFIG, NULL, "%s", err);
        default:
                return cni_fail(CNI_ERR_IO, strerror(-r), "cannot parse the network configuration");
        }
}

/* version: the config's cniVersion once known, for the error document. */
static int run(const char *command, char *version, size_t version_size) {
        _cleanup_(conf_freep) struct netconf *conf = NULL;
        _cleanup_free_ char *input = NULL;
        struct cni_call call = {
                .command = command,
                .container_id = getenv("CNI_CONTAINERID"),
                .netns = getenv("CNI_NETNS"),
                .ifname = getenv("CNI_IFNAME"),
                .cni_args = getenv("CNI_ARGS"),
        };
        const struct verb *v = NULL;
        enum log_level level = LOG_LEVEL_INFO;
        char err[512];
        size_t len;
        int r, pr;

        if (!command || !command[0]) {
                /* Run by hand: say what this is (as the reference plugins do), then the CNI error. */
                fprintf(stderr, "CNI relink plugin %s\n", relink_version);
                return cni_fail(CNI_ERR_INVALID_ENV, NULL, "missing or invalid environment variables: CNI_COMMAND is missing");
        }
        if (streq(command, "VERSION"))
                return do_version();    /* never reads stdin */
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
                if (streq(command, verbs[i].name))
                        v = &verbs[i];
        if (!v)
                return cni_fail(CNI_ERR_INVALID_ENV, "CNI_COMMAND", "unknown CNI_COMMAND '%.32s'", command);

        r = read_full_fd(STDIN_FILENO, CONF_MAX_INPUT, &input, &len);
        if (r == -EFBIG)
                return cni_fail(CNI_ERR_DECODE, NULL, "network configuration exceeds %d bytes", CONF_MAX_INPUT);
        if (r < 0)
                return cni_fail(CNI_ERR_IO, strerror(-r), "cannot read the network configuration from stdin");
        pr = conf_parse(input, len, &conf, err, sizeof(err));
        if (conf)
                snprintf(version, version_size, "%s", conf->cni_version);
        else if (pr != -ENOMEM)
                conf_peek_version(input, len, version, version_size);

        /* Environment first (as libcni's skel does), all problems in one error. */
        if (check_env(v, &call) < 0)
                return -1;
        if (pr < 0)
                return parse_error(pr, err);
        if (conf_version_cmp(conf->cni_version, v->min_version) < 0)
                return cni_fail(CNI_ERR_INCOMPATIBLE_VERSION, NULL, "config version '%s' does not allow %s (needs %s)",
                                conf->cni_version, command, v->min_version);
        if (conf->log_level[0] && log_level_from_string(conf->log_level, &level) < 0)
                return cni_fail(CNI_ERR_INVALID_CONFIG, NULL, "invalid logLevel '%.32s' (error, warn, info, debug)",
                                conf->log_level);
        if (conf->log_file[0]) {
                r = log_open("relink", conf->log_file, level);
                if (r < 0)
                        log_warn("cannot open logFile %s: %s", LOG_Q(conf->log_file),
                                 r == -ELOOP ? "it is a symbolic link" :
                                 r == -EBADFD ? "not a regular file" :
                                 r == -EMLINK ? "the file has more than one name" : strerror(-r));
        }
        call.conf = conf;
        log_debug("relink %s: %s network=%s container=%s ifname=%s netns=%s", relink_version, command, conf->name,
                  call.container_id ? call.container_id : "", LOG_Q(call.ifname), LOG_Q(call.netns));
        return v->run(&call);
}

int main(void) {
        const char *command = getenv("CNI_COMMAND");
        char version[16] = "";

        if (run(command, version, sizeof(version)) < 0 || cni_failed()) {
                cni_emit_error(command, version[0] ? version : NULL);
                log_close();
                return 1;
        }
        log_close();
        return fflush(stdout) == 0 ? 0 : 1;
}
