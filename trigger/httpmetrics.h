/* SPDX-License-Identifier: MIT */
/*
 * --metrics-listen: the metrics of trigger/metrics.c served at http://ADDR:PORT/metrics by libmicrohttpd.
 * The HTTP daemon has no thread of its own: its epoll fd is watched by relinkd's libvirt event loop,
 * so every request is answered on the loop thread, the one that changes the metrics (no locking, and
 * a scrape sees exactly what the textfile would hold at that moment).
 */
#pragma once

#include <sys/socket.h>

/* "127.0.0.1:9595", "[::1]:9595", "0.0.0.0:9595", "[::]:9595": numeric host, port 0..65535
 * (0: any free port). 0, or -EINVAL. */
int httpmetrics_parse_addr(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len);

/* Start serving on addr (after virEventRegisterDefaultImpl). 0 or -errno; ret_port (may be NULL)
 * gets the bound port. */
int httpmetrics_start(const char *addr, unsigned *ret_port);
/* Stop serving (no-op when not started). */
void httpmetrics_stop(void);
