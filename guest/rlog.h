/* rlog.h — the guest's console contract: "RELINK <uptime_ms> <event> key=value …", one write() per line. */
#pragma once
#include <stdint.h>

uint64_t uptime_ms(void);
/* Writes "RELINK <ms> <fmt…>\n" to /dev/console with a single write(). Returns 0 or -errno. */
int rlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int rlog_main(int argc, char **argv);
int linkwatch_main(int argc, char **argv);
int pinger_main(int argc, char **argv);
