/* SPDX-License-Identifier: MIT */
/* The one place that turns an error into CNI output: JSON on stdout, a human line on stderr. */
#include <stdarg.h>
#include <stdio.h>

#include "common/log.h"
#include "common/util.h"
#include "plugin/plugin.h"

static struct {
        unsigned code;
        char msg[1024];
        char details[1024];
} first_error;

int cni_fail(unsigned code, const char *details, const char *fmt, ...) {
        va_list ap;

        if (first_error.code)
                return -1;
        first_error.code = code ? code : 999;
        va_start(ap, fmt);
        vsnprintf(first_error.msg, sizeof(first_error.msg), fmt, ap);
        va_end(ap);
        snprintf(first_error.details, sizeof(first_error.details), "%s", details ? details : "");
        return -1;
}

bool cni_failed(void) {
        return first_error.code != 0;
}

unsigned cni_error_code(void) {
        return first_error.code;
}

void cni_error_reset(void) {
        memset(&first_error, 0, sizeof(first_error));
}

void cni_emit_error(const char *command, const char *cni_version) {
        _cleanup_free_ char *json = NULL;

        if (!first_error.code)
                cni_fail(999, NULL, "internal error: failure without a reason");
        if (conf_error_json(cni_version, first_error.code, first_error.msg, first_error.details, &json) < 0)
                printf("{\"code\":%u,\"msg\":\"out of memory\"}\n", first_error.code);
        else
                printf("%s\n", json);
        fflush(stdout);
        /* stderr reaches the runtime's log too: the same escaping as the log file (one line, UTF-8) */
        log_stderr("%s failed (code %u): %s%s%s", command ? command : "CNI call", first_error.code,
                   first_error.msg, first_error.details[0] ? ": " : "", first_error.details);
        if (log_to_file())
                log_error("%s failed: code=%u msg=%s details=%s", command ? command : "?", first_error.code,
                          LOG_Q(first_error.msg), LOG_Q(first_error.details));
}
