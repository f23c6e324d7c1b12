/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"

static const char *log_ident = "relink";
static enum log_level log_max = LOG_LEVEL_WARN;
static int log_fd = -1;   /* -1: stderr */

static const char *const level_names[] = {
        [LOG_LEVEL_ERROR] = "error",
        [LOG_LEVEL_WARN] = "warn",
        [LOG_LEVEL_INFO] = "info",
        [LOG_LEVEL_DEBUG] = "debug",
};

int log_level_from_string(const char *s, enum log_level *ret) {
        for (size_t i = 0; i < ARRAY_SIZE(level_names); i++)
                if (s && streq(s, level_names[i])) {
                        *ret = (enum log_level)i;
                        return 0;
                }
        if (s && streq(s, "warning")) {
                *ret = LOG_LEVEL_WARN;
                return 0;
        }
        return -EINVAL;
}

const char *log_level_to_string(enum log_level l) {
        switch (l) {
        case LOG_LEVEL_ERROR:
        case LOG_LEVEL_WARN:
        case LOG_LEVEL_INFO:
        case LOG_LEVEL_DEBUG:
                return level_names[l];
        }
        return "?";
}

int log_open(const char *ident, const char *file, enum log_level level) {
        log_close();
        if (ident)
                log_ident = ident;
        log_max = level;
        if (!file || !file[0])
                return 0;
        log_fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
        return log_fd < 0 ? -errno : 0;
}

bool log_to_file(void) {
        return log_fd >= 0;
}

void log_close(void) {
        if (log_fd >= 0)
                close(log_fd);
        log_fd = -1;
}

void log_msg(enum log_level level, const char *fmt, ...) {
        char line[2048];
        size_t n = 0;
        va_list ap;
        int k;

        if (level > log_max)
                return;
        if (log_fd >= 0) {
                struct timespec ts;
                struct tm tm;
                clock_gettime(CLOCK_REALTIME, &ts);
                gmtime_r(&ts.tv_sec, &tm);
                k = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld]: ", tm.tm_year + 1900,
                             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
                             log_ident, (long)getpid());
        } else
                k = snprintf(line, sizeof(line), "%s: ", log_ident);
        if (k > 0)
                n += (size_t)k;
        k = snprintf(line + n, sizeof(line) - n, "%s ", log_level_to_string(level));
        if (k > 0)
                n += (size_t)k;
        if (n < sizeof(line)) {
                va_start(ap, fmt);
                k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
                va_end(ap);
                if (k > 0)
                        n += (size_t)k;
        }
        if (n >= sizeof(line) - 1)
                n = sizeof(line) - 2;
        line[n++] = '\n';
        ssize_t w = write(log_fd >= 0 ? log_fd : STDERR_FILENO, line, n);
        (void)w;
}
