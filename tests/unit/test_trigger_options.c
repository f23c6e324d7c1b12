/* SPDX-License-Identifier: MIT */
/* relinkd's command line and URI → socket path, as tables. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/util.h"
#include "trigger/dhcpprobe.h"
#include "trigger/options.h"

#define MAX_ARGS 32

static int parse(const char *const *args, struct opts *o, char *err, size_t err_size) {
        char *argv[MAX_ARGS + 2] = { (char *) "relinkd" };
        int argc = 1;

        for (; args[argc - 1]; argc++)
                argv[argc] = (char *) args[argc - 1];
        argv[argc] = NULL;
        return opts_parse(argc, argv, o, err, err_size);
}

static void test_defaults(void **state) {
        static const char *const args[] = { "--watch", "/run/p/*/sock", NULL };
        struct opts o;
        char err[256];

        assert_int_equal(parse(args, &o, err, sizeof(err)), 0);
        assert_string_equal(o.state_dir, OPTS_DEFAULT_STATE_DIR);
        assert_int_equal(o.hold_ms, 1000);
        assert_int_equal(o.verify_flap_ms, OPTS_DEFAULT_VERIFY_FLAP_MS);
        assert_int_equal(o.verify_reattach_ms, OPTS_DEFAULT_VERIFY_REATTACH_MS);
        assert_int_equal(o.detach_timeout_ms, OPTS_DEFAULT_DETACH_TIMEOUT_MS);
        assert_int_equal(o.probe_timeout_ms, PROBE_TIMEOUT_MS);
        assert_int_equal(o.log_level, LOG_LEVEL_INFO);
        assert_int_equal(o.n_watch, 1);
        assert_int_equal(o.n_connect, 0);
        assert_null(o.metrics_file);
        assert_false(o.dry_run);
        assert_false(o.no_escalate);
        assert_false(o.kubevirt);
        assert_string_equal(o.kubelet_root, "/var/lib/kubelet");
}

/* The DaemonSet's command line: --kubevirt alone is enough to follow something. */
static void test_kubevirt(void **state) {
        static const char *const alone[] = { "--kubevirt", NULL };
        static const char *const rooted[] = {
                "--kubevirt", "--kubelet-root", "/run/x/n1/kubelet", "--state-dir", "/s",
                "--watch", "/run/p/*/sock", NULL,
        };
        struct opts o;
        char err[256];

        assert_int_equal(parse(alone, &o, err, sizeof(err)), 0);
        assert_true(o.kubevirt);
        assert_string_equal(o.kubelet_root, OPTS_DEFAULT_KUBELET_ROOT);
        assert_int_equal(o.n_watch, 0);
        assert_int_equal(o.n_connect, 0);

        assert_int_equal(parse(rooted, &o, err, sizeof(err)), 0);
        assert_true(o.kubevirt);
        assert_string_equal(o.kubelet_root, "/run/x/n1/kubelet");
        assert_string_equal(o.state_dir, "/s");
        assert_int_equal(o.n_watch, 1);
        assert_string_equal(o.watch[0], "/run/p/*/sock");
}

static void test_full(void **state) {
        static const char *const args[] = {
                "--state-dir", "/s", "--connect", "qemu:///system", "--netns", "/run/netns/a",
                "--connect", "qemu+unix:///system?socket=/x", "--hold-ms", "1500", "--verify-ms=3000",
                "--reattach-verify-ms", "9000", "--probe-timeout-ms", "150", "--log-level", "debug", "--metrics-file", "/m.prom",
                "--dry-run", NULL,
        };
        struct opts o;
        char err[256];

        assert_int_equal(parse(args, &o, err, sizeof(err)), 0);
        assert_string_equal(o.state_dir, "/s");
        assert_int_equal(o.n_connect, 2);
        assert_string_equal(o.connect[0].uri, "qemu:///system");
        assert_string_equal(o.connect[0].netns, "/run/netns/a");
        assert_null(o.connect[1].netns);
        assert_int_equal(o.hold_ms, 1500);
        assert_int_equal(o.verify_flap_ms, 3000);
        assert_int_equal(o.verify_reattach_ms, 9000);
        assert_int_equal(o.probe_timeout_ms, 150);
        assert_int_equal(o.log_level, LOG_LEVEL_DEBUG);
        assert_string_equal(o.metrics_file, "/m.prom");
        assert_true(o.dry_run);
}

static void test_observe(void **state) {
        static const char *const args[] = { "--watch", "/p/*/s", "--observe", NULL };
        struct opts o;
        char err[256];

        assert_int_equal(parse(args, &o, err, sizeof(err)), 0);
        assert_true(o.dry_run);
}

static const struct bad {
        const char *args[6];
        const char *err;           /* substring of the message */
} bad[] = {
        { { NULL }, "nothing to follow: give --kubevirt, --connect URI or --watch GLOB" },
        { { "--netns", "/run/netns/a", NULL }, "must follow the --connect" },
        { { "--connect", "qemu:///system", "--netns", "rel", NULL }, "absolute path" },
        { { "--connect", "u", "--netns", "/a", "--netns", "/b" }, "given twice" },
        { { "--watch", "x", "--hold-ms", "0", NULL }, "--hold-ms: expected milliseconds" },
        { { "--watch", "x", "--hold-ms", "-5", NULL }, "--hold-ms" },
        { { "--watch", "x", "--hold-ms", "1s", NULL }, "--hold-ms" },
        { { "--watch", "x", "--verify-ms", "99999999999", NULL }, "--verify-ms" },
        { { "--watch", "x", "--probe-timeout-ms", "10", NULL }, "--probe-timeout-ms: expected milliseconds in 20..10000" },
        { { "--watch", "x", "--log-level", "loud", NULL }, "--log-level" },
        { { "--watch", "x", "--bogus", NULL }, "unknown option '--bogus'" },
        { { "--watch", "x", "extra", NULL }, "unexpected argument 'extra'" },
        { { "--watch", NULL }, "needs an argument" },
        { { "--watch", "", NULL }, "empty pattern" },
        { { "--kubelet-root", "/var/lib/kubelet", NULL }, "only used with --kubevirt" },
        { { "--watch", "x", "--kubelet-root", "/k", NULL }, "only used with --kubevirt" },
        { { "--kubevirt", "--kubelet-root", "var/lib/kubelet", NULL }, "--kubelet-root 'var/lib/kubelet': expected an absolute path" },
        { { "--kubevirt", "--kubelet-root", "", NULL }, "expected an absolute path" },
        { { "--kubevirt", "--kubelet-root", NULL }, "needs an argument" },
        { { "--kubevirt=yes", NULL }, "unknown option" },
        { { "--watch", "x", "--state-dir", "run/cni/relink", NULL }, "--state-dir 'run/cni/relink': expected an absolute path" },
        { { "--watch", "x", "--state-dir", "", NULL }, "--state-dir '': expected an absolute path" },
};

static void test_bad(void **state) {
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                struct opts o;
                char err[256];

                assert_int_equal(parse(bad[i].args, &o, err, sizeof(err)), -EINVAL);
                if (!strstr(err, bad[i].err))
                        fail_msg("row %zu: '%s' does not contain '%s'", i, err, bad[i].err);
        }
}

static void test_help_alone(void **state) {
        static const char *const args[] = { "--help", NULL };
        struct opts o;
        char err[256];

        assert_int_equal(parse(args, &o, err, sizeof(err)), 0);
        assert_true(o.help);
}

static void test_version_alone(void **state) {
        static const char *const args[] = { "--version", NULL };
        struct opts o;
        char err[256];

        assert_int_equal(parse(args, &o, err, sizeof(err)), 0);
        assert_true(o.version);
        assert_false(o.help);
}

static void test_usage_documents_every_option(void **state) {
        static const char *const names[] = {
                "--state-dir", "--connect", "--netns", "--watch", "--hold-ms", "--verify-ms",
                "--reattach-verify-ms", "--detach-timeout-ms", "--probe-timeout-ms", "--rescan-ms", "--backoff-max-ms",
                "--metrics-file", "--log-level", "--no-escalate", "--dry-run", "--help", "--version", "link-watch",
                "NetworkManager", "--kubevirt", "--kubelet-root", "/var/lib/kubelet", "virtqemud-sock",
                "libvirt-sock", "volumes/kubernetes.io~empty-dir/libvirt-runtime", "qemu+unix:///session",
                "hostPID", "backlog",
        };
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);

        assert_non_null(f);
        opts_usage(f);
        fclose(f);
        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                if (!strstr(text, names[i]))
                        fail_msg("usage lacks '%s'", names[i]);
        free(text);
}

static const struct uri_row {
        const char *uri;
        int ret;
        const char *path;
} uris[] = {
        { "qemu+unix:///system?socket=/run/relink/pods/p1/run/libvirt-sock", 0, "/run/relink/pods/p1/run/libvirt-sock" },
        { "qemu:///system?socket=/a/b", 0, "/a/b" },
        { "qemu+unix:///system?mode=legacy&socket=/a%20b/s", 0, "/a b/s" },
        { "qemu:///system", 0, "/run/libvirt/libvirt-sock" },
        { "qemu+unix:///system", 0, "/run/libvirt/libvirt-sock" },
        { "qemu:///session", -EOPNOTSUPP, NULL },
        { "qemu+tcp://host/system", -EREMOTE, NULL },
        { "qemu+ssh://root@host/system", -EREMOTE, NULL },
        { "qemu://host/system", -EREMOTE, NULL },
        { "qemu+unix:///system?socket=relative", -EINVAL, NULL },
        { "not a uri", -EINVAL, NULL },
};

static void test_uri_socket_path(void **state) {
        for (size_t i = 0; i < ARRAY_SIZE(uris); i++) {
                char path[256] = "";
                int r = uri_socket_path(uris[i].uri, path, sizeof(path));

                if (r != uris[i].ret)
                        fail_msg("'%s': got %d, want %d", uris[i].uri, r, uris[i].ret);
                if (uris[i].path)
                        assert_string_equal(path, uris[i].path);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_observe),
                cmocka_unit_test(test_full),
                cmocka_unit_test(test_kubevirt),
                cmocka_unit_test(test_bad),
                cmocka_unit_test(test_help_alone),
                cmocka_unit_test(test_version_alone),
                cmocka_unit_test(test_usage_documents_every_option),
                cmocka_unit_test(test_uri_socket_path),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
