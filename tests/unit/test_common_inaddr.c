/* SPDX-License-Identifier: MIT */
/* The one address/CIDR parser (common/inaddr.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/inaddr.h"

static void test_addresses(void **state) {
        struct inaddr a, b;
        char buf[64];

        (void) state;
        assert_int_equal(inaddr_parse("10.1.2.3", &a), 0);
        assert_int_equal(a.family, AF_INET);
        assert_int_equal(inaddr_format(&a, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "10.1.2.3");
        assert_int_equal(inaddr_parse("FD00:0::1", &b), 0);
        assert_int_equal(b.family, AF_INET6);
        assert_int_equal(inaddr_format(&b, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "fd00::1");            /* canonical */
        assert_false(inaddr_equal(&a, &b));
        assert_int_equal(inaddr_parse("fd00::0:1", &a), 0);
        assert_true(inaddr_equal(&a, &b));
        assert_int_equal(inaddr_format(&a, buf, 4), -ENOSPC);
        for (const char *bad[] = { "", "10.1.2", "10.1.2.256", " 10.1.2.3", "10.1.2.3 ", "fd00:::1", "x", NULL },
             **p = bad; *p; p++)
                assert_int_equal(inaddr_parse(*p, &a), -EINVAL);
        assert_int_equal(inaddr_parse(NULL, &a), -EINVAL);
}

static void test_cidrs(void **state) {
        struct inaddr a;
        int p;

        (void) state;
        assert_int_equal(cidr_parse("10.244.2.0/24", &a, &p), 0);
        assert_int_equal(a.family, AF_INET);
        assert_int_equal(p, 24);
        assert_int_equal(cidr_parse("10.244.2.7", &a, &p), 0);
        assert_int_equal(p, -1);                        /* no prefix: the caller decides */
        assert_int_equal(cidr_parse("fd00::/128", &a, &p), 0);
        assert_int_equal(p, 128);
        assert_int_equal(cidr_parse("0.0.0.0/0", &a, &p), 0);
        assert_int_equal(p, 0);
        for (const char *bad[] = { "10.0.0.0/33", "fd00::/129", "10.0.0.0/", "10.0.0.0/+8", "10.0.0.0/ 8",
                                   "10.0.0.0/8x", "/8", "default", "10.0.0.0/99999999999999999999",
                                   "1234567890123456789012345678901234567890123456789/8", NULL },
             **q = bad; *q; q++)
                assert_int_equal(cidr_parse(*q, &a, &p), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_addresses),
                cmocka_unit_test(test_cidrs),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
