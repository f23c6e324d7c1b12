/* SPDX-License-Identifier: MIT */
/* /metrics over HTTP with libmicrohttpd in external-epoll mode, driven by the libvirt event loop. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <microhttpd.h>

#include "common/util.h"
#include "trigger/httpmetrics.h"
#include "trigger/metrics.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static struct MHD_Daemon *daemon_;
static int watch = -1, timer = -1;

int httpmetrics_parse_addr(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len) {
        char host[INET6_ADDRSTRLEN + 1];
        const char *colon, *h = s, *port;
        size_t hlen;
        unsigned long p;
        char *end;

        if (!s || !*s)
                return -EINVAL;
        if (*s == '[') {
                const char *close = strchr(s, ']');

                if (!close || close[1] != ':')
                        return -EINVAL;
                h = s + 1;
                hlen = (size_t) (close - h);
                port = close + 2;
        } else {
                colon = strrchr(s, ':');
                if (!colon || strchr(s, ':') != colon)
                        return -EINVAL;         /* a bare IPv6 address needs brackets */
                hlen = (size_t) (colon - s);
                port = colon + 1;
        }
        if (hlen == 0 || hlen >= sizeof(host) || !*port || *port == '-' || *port == '+')
                return -EINVAL;
        errno = 0;
        p = strtoul(port, &end, 10);
        if (errno || *end || p > 65535)
                return -EINVAL;
        memcpy(host, h, hlen);
        host[hlen] = '\0';

        memset(ret, 0, sizeof(*ret));
        if (*s != '[') {
                struct sockaddr_in *in = (struct sockaddr_in *) ret;

                if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
                        return -EINVAL;
                in->sin_family = AF_INET;
                in->sin_port = htons((uint16_t) p);
                *ret_len = sizeof(*in);
        } else {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ret;

                if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
                        return -EINVAL;
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t) p);
                *ret_len = sizeof(*in6);
        }
        return 0;
}

static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned status, char *text, size_t len,
                                    enum MHD_ResponseMemoryMode mode, const char *allow) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, mode);
        enum MHD_Result r;

        if (!resp) {
                if (mode == MHD_RESPMEM_MUST_FREE)
                        free(text);
                return MHD_NO;
        }
        if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                    status == MHD_HTTP_OK ? CONTENT_TYPE : "text/plain; charset=utf-8") != MHD_YES ||
            (allow && MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow) != MHD_YES)) {
                MHD_destroy_response(resp);
                return MHD_NO;
        }
        r = MHD_queue_response(c, status, resp);
        MHD_destroy_response(resp);
        return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        static char not_found[] = "not found: relinkd serves /metrics\n";
        static char not_allowed[] = "method not allowed\n";
        char *text = NULL;

        if (!streq(method, MHD_HTTP_METHOD_GET) && !streq(method, MHD_HTTP_METHOD_HEAD))
                return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, not_allowed, strlen(not_allowed),
                                    MHD_RESPMEM_PERSISTENT, "GET, HEAD");
        if (*upload_data_size)
                return MHD_NO;          /* a GET with a body: drop the connection */
        if (!streq(url, "/metrics"))
                return respond_text(c, MHD_HTTP_NOT_FOUND, not_found, strlen(not_found),
                                    MHD_RESPMEM_PERSISTENT, NULL);
        /* On the loop thread, like every change to relinkd_metrics. */
        if (metrics_render(&relinkd_metrics, &text) < 0)
                return MHD_NO;
        return respond_text(c, MHD_HTTP_OK, text, strlen(text), MHD_RESPMEM_MUST_FREE, NULL);
}

/* After every MHD_run: the next deadline MHD has (idle connections), or none. */
static void rearm(void) {
        MHD_UNSIGNED_LONG_LONG ms;

        if (timer < 0)
                return;
        if (MHD_get_timeout(daemon_, &ms) == MHD_YES)
                virEventUpdateTimeout(timer, ms > INT_MAX ? INT_MAX : (int) ms);
        else
                virEventUpdateTimeout(timer, -1);
}

static void on_epoll(int w, int fd, int events, void *opaque) {
        MHD_run(daemon_);
        rearm();
}

static void on_timer(int t, void *opaque) {
        MHD_run(daemon_);
        rearm();
}

int httpmetrics_start(const char *addr, unsigned *ret_port) {
        struct sockaddr_storage sa;
        socklen_t len;
        const union MHD_DaemonInfo *info;
        unsigned flags = MHD_USE_EPOLL;        /* no internal thread, no error log (library code) */
        int r;

        r = httpmetrics_parse_addr(addr, &sa, &len);
        if (r < 0)
                return r;
        if (sa.ss_family == AF_INET6)
                flags |= MHD_USE_IPv6;
        daemon_ = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL,
                                   MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sa,
                                   MHD_OPTION_CONNECTION_LIMIT, (unsigned) 16,
                                   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 10,
                                   MHD_OPTION_END);
        if (!daemon_)
                return errno ? -errno : -EADDRNOTAVAIL;
        info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info) {
                httpmetrics_stop();
                return -EOPNOTSUPP;
        }
        watch = virEventAddHandle(info->epoll_fd, VIR_EVENT_HANDLE_READABLE, on_epoll, NULL, NULL);
        timer = virEventAddTimeout(-1, on_timer, NULL, NULL);
        if (watch < 0 || timer < 0) {
                httpmetrics_stop();
                return -ENOMEM;
        }
        if (ret_port) {
                info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
                *ret_port = info ? info->port : 0;
        }
        return 0;
}

void httpmetrics_stop(void) {
        if (watch >= 0)
                virEventRemoveHandle(watch);
        if (timer >= 0)
                virEventRemoveTimeout(timer);
        watch = timer = -1;
        if (daemon_)
                MHD_stop_daemon(daemon_);
        daemon_ = NULL;
}
