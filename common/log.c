/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "common/log.h"
#include "common/utf8.h"
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
        return log_open_file(file, &log_fd);
}

int log_open_file(const char *file, int *ret_fd) {
        _cleanup_close_ int fd = -1;
        struct stat st;

        /* Type first: opening a device node already talks to its driver. Then the open itself never
         * follows a symlink (O_NOFOLLOW), never waits for a FIFO reader (O_NONBLOCK: ENXIO) and never
         * takes a terminal (O_NOCTTY); the fstat settles what was opened. */
        if (lstat(file, &st) == 0 && !S_ISREG(st.st_mode))
                return S_ISLNK(st.st_mode) ? -ELOOP : -EBADFD;
        fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK, 0600);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if (st.st_nlink != 1)           /* a second name for another file (or an unlinked one) */
                return -EMLINK;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Escaped s into dst, whole units only, at most budget bytes; *ret_all tells whether all of s fit. */
static size_t quote_into(char *dst, size_t budget, const unsigned char *p, bool *ret_all) {
        static const char hex[] = "0123456789abcdef";
        size_t n = 0, left = strlen((const char *)p);

        while (*p) {
                char esc[4];
                size_t k = 0, seq = 1;

                if (*p == '"' || *p == '\\') {
                        esc[k++] = '\\';
                        esc[k++] = (char)*p;
                } else if (*p == '\n' || *p == '\r' || *p == '\t') {
                        esc[k++] = '\\';
                        esc[k++] = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
                } else if (*p < 0x20 || *p == 0x7f || (*p >= 0x80 && utf8_seq_len(p, left) == 0)) {
                        esc[k++] = '\\';
                        esc[k++] = 'x';
                        esc[k++] = hex[*p >> 4];
                        esc[k++] = hex[*p & 15];
                } else {
                        seq = *p < 0x80 ? 1 : utf8_seq_len(p, left);
                        memcpy(esc, p, seq);
                        k = seq;
                }
                if (n + k > budget) {
                        *ret_all = false;
                        return n;
                }
                memcpy(dst + n, esc, k);
                n += k;
                p += seq;
                left -= seq;
        }
        *ret_all = true;
        return n;
}

const char *log_quote(char *buf, size_t size, const char *s) {
        const unsigned char *p = (const unsigned char *)(s ? s : "");
        bool all;
        size_t n;

        if (size < 6)
                return "";
        buf[0] = '"';
        n = 1 + quote_into(buf + 1, size - 3, p, &all);         /* room for '"' and NUL */
        if (!all) {
                n = 1 + quote_into(buf + 1, size - 6, p, &all); /* and for "..." */
                memcpy(buf + n, "...", 3);
                n += 3;
        }
        buf[n++] = '"';
        buf[n] = '\0';
        return buf;
}

/* The whole line, as a last line of defence for fields logged without log_quote(): no control
 * character (so no forged line) and nothing that is not UTF-8 reaches the file. */
static size_t escape_line(char *dst, size_t size, const char *src, size_t len) {
        static const char hex[] = "0123456789abcdef";
        const unsigned char *p = (const unsigned char *)src;
        size_t n = 0;

        for (size_t i = 0; i < len;) {
                size_t seq = p[i] < 0x80 ? 1 : utf8_seq_len(p + i, len - i);

                if (p[i] < 0x20 || p[i] == 0x7f || seq == 0) {
                        if (n + 4 > size)
                                break;
                        dst[n++] = '\\';
                        dst[n++] = 'x';
                        dst[n++] = hex[p[i] >> 4];
                        dst[n++] = hex[p[i] & 15];
                        i++;
                        continue;
                }
                if (n + seq > size)
                        break;
                memcpy(dst + n, p + i, seq);
                n += seq;
                i += seq;
        }
        return n;
}

bool log_to_file(void) {
        return log_fd >= 0;
}

void log_close(void) {
        if (log_fd >= 0)
                close(log_fd);
        log_fd = -1;
}

#define LOG_LINE_MAX 2048

/* line[0..n) holds the prefix: append the escaped message and a newline, write it in one call. */
static void write_line(int fd, char line[LOG_LINE_MAX], size_t n, const char *fmt, va_list ap) {
        if (n < LOG_LINE_MAX - 1) {
                char msg[LOG_LINE_MAX];
                int k = vsnprintf(msg, sizeof(msg), fmt, ap);

                if (k > 0)
                        n += escape_line(line + n, LOG_LINE_MAX - 1 - n, msg,
                                         (size_t)k < sizeof(msg) ? (size_t)k : sizeof(msg) - 1);
        }
        if (n > LOG_LINE_MAX - 1)
                n = LOG_LINE_MAX - 1;
        line[n++] = '\n';
        ssize_t w = write(fd, line, n);
        (void)w;
}

void log_stderr(const char *fmt, ...) {
        char line[LOG_LINE_MAX];
        va_list ap;
        int k;

        k = snprintf(line, sizeof(line), "%s: ", log_ident);
        va_start(ap, fmt);
        write_line(STDERR_FILENO, line, k > 0 ? (size_t)k : 0, fmt, ap);
        va_end(ap);
}

void log_msg(enum log_level level, const char *fmt, ...) {
        char line[LOG_LINE_MAX];
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
        va_start(ap, fmt);
        write_line(log_fd >= 0 ? log_fd : STDERR_FILENO, line, n, fmt, ap);
        va_end(ap);
}
