/* SPDX-License-Identifier: MIT */
/* --metrics-listen ADDR:PORT parsing (trigger/httpmetrics.c); serving is tested by t-metrics-http.sh. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/util.h"
#include "trigger/httpmetrics.h"
#include "trigger/options.h"

static const struct row {
        const char *in;
        int family;              /* 0: -EINVAL expected */
        const char *addr;
        unsigned port;
} rows[] = {
        { "127.0.0.1:9595",        AF_INET,  "127.0.0.1",   9595 },
        { "0.0.0.0:1",             AF_INET,  "0.0.0.0",     1 },
        { "10.1.2.3:65535",        AF_INET,  "10.1.2.3",    65535 },
        { "127.0.0.1:0",           AF_INET,  "127.0.0.1",   0 },
        { "[::1]:9595",            AF_INET6, "::1",         9595 },
        { "[::]:80",               AF_INET6, "::",          80 },
        { "[fd00:10:244::1]:9595", AF_INET6, "fd00:10:244::1", 9595 },
        { "127.0.0.1:65536",       0, NULL, 0 },
        { "127.0.0.1:",            0, NULL, 0 },
        { "127.0.0.1",             0, NULL, 0 },
        { ":9595",                 0, NULL, 0 },
        { "localhost:9595",        0, NULL, 0 },   /* numeric only: no resolver in a node daemon's start */
        { "::1:9595",              0, NULL, 0 },   /* IPv6 needs brackets */
        { "[::1]9595",             0, NULL, 0 },
        { "[::1:9595",             0, NULL, 0 },
        { "[127.0.0.1]:9595",      0, NULL, 0 },
        { "127.0.0.1:-1",          0, NULL, 0 },
        { "127.0.0.1:+80",         0, NULL, 0 },
        { "127.0.0.1:80x",         0, NULL, 0 },
        { "256.0.0.1:80",          0, NULL, 0 },
        { "",                      0, NULL, 0 },
};

static void test_parse_addr(void **state) {
        for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
                struct sockaddr_storage sa;
                socklen_t len = 0;
                char buf[INET6_ADDRSTRLEN];
                int r = httpmetrics_parse_addr(rows[i].in, &sa, &len);

                if (!rows[i].family) {
                        if (r != -EINVAL)
                                fail_msg("'%s': want -EINVAL, got %d", rows[i].in, r);
                        continue;
                }
                if (r != 0)
                        fail_msg("'%s': want 0, got %d", rows[i].in, r);
                assert_int_equal(sa.ss_family, rows[i].family);
                if (rows[i].family == AF_INET) {
                        const struct sockaddr_in *in = (const struct sockaddr_in *) &sa;

                        assert_int_equal(len, sizeof(*in));
                        assert_int_equal(ntohs(in->sin_port), rows[i].port);
                        assert_non_null(inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf)));
                } else {
                        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) &sa;

                        assert_int_equal(len, sizeof(*in6));
                        assert_int_equal(ntohs(in6->sin6_port), rows[i].port);
                        assert_non_null(inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf)));
                }
                assert_string_equal(buf, rows[i].addr);
        }
}

/* The option validates its address at parse time (a usage error, exit 2), and keeps the text. */
static void test_option(void **state) {
        char a0[] = "relinkd", a1[] = "--kubevirt", a2[] = "--metrics-listen", a3[] = "[::1]:9595",
             b3[] = "localhost:9595";
        char *good[] = { a0, a1, a2, a3, NULL };
        char *bad[] = { a0, a1, a2, b3, NULL };
        struct opts o;
        char err[256];

        assert_int_equal(opts_parse(4, good, &o, err, sizeof(err)), 0);
        assert_string_equal(o.metrics_listen, "[::1]:9595");
        assert_int_equal(opts_parse(4, bad, &o, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "--metrics-listen: expected ADDR:PORT"));
        assert_non_null(strstr(err, "'localhost:9595'"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_addr),
                cmocka_unit_test(test_option),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
