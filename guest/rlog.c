/* rlog.c — format and emit one contract line; also the `rlog EVENT k=v…` command for the init scripts. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rlog.h"

uint64_t uptime_ms(void) {
        struct timespec ts;

        /* CLOCK_BOOTTIME is the clock behind /proc/uptime, at ms resolution instead of 10 ms. */
        clock_gettime(CLOCK_BOOTTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static int console_fd = -1;

static int emit(const char *line, size_t len) {
        if (console_fd < 0) {
                console_fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
                if (console_fd < 0)
                        console_fd = STDOUT_FILENO;
        }
        for (;;) {
                ssize_t n = write(console_fd, line, len);
                if (n >= 0)
                        return 0;       /* a tty write of < 4 KiB is never split by other writers */
                if (errno != EINTR)
                        return -errno;
        }
}

int rlog(const char *fmt, ...) {
        char line[1024];
        va_list ap;
        int n = snprintf(line, sizeof(line), "RELINK %llu ", (unsigned long long) uptime_ms());

        va_start(ap, fmt);
        n += vsnprintf(line + n, sizeof(line) - (size_t) n - 1, fmt, ap);
        va_end(ap);
        if ((size_t) n > sizeof(line) - 2)
                n = sizeof(line) - 2;
        line[n++] = '\n';
        return emit(line, (size_t) n);
}

int rlog_main(int argc, char **argv) {
        char buf[900];
        size_t off = 0;

        if (argc < 2) {
                fprintf(stderr, "usage: rlog EVENT [key=value]...\n");
                return 2;
        }
        for (int i = 1; i < argc && off < sizeof(buf) - 1; i++) {
                int n = snprintf(buf + off, sizeof(buf) - off, "%s%s", i > 1 ? " " : "", argv[i]);
                if (n < 0)
                        break;
                off += (size_t) n;
        }
        return rlog("%s", buf) < 0 ? 1 : 0;
}
