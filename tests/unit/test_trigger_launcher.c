/* SPDX-License-Identifier: MIT */
/* Launcher socket paths: kubelet layout → pod UID, path split, /proc/self/fd aliases, session URIs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <cmocka.h>

#include "common/util.h"
#include "trigger/launcher.h"

#define UID "0f3c2a9e-6b1d-4c1e-9a7e-2f5d8c4b1a23"
#define RT "/volumes/kubernetes.io~empty-dir/libvirt-runtime/"

static const struct uid_row {
        const char *path;
        int ret;
        const char *uid;
} uid_rows[] = {
        { "/var/lib/kubelet/pods/" UID RT "virtqemud-sock", 0, UID },
        { "/var/lib/kubelet/pods/" UID RT "libvirt-sock", 0, UID },
        /* a kubelet root that itself contains /pods/: the last match counts */
        { "/run/pods/x/n1/kubelet/pods/" UID RT "virtqemud-sock", 0, UID },
        { "/var/lib/kubelet/pods/" UID "/volumes/kubernetes.io~empty-dir/sockets/launcher-sock", -ENOENT, NULL },
        { "/var/lib/kubelet/pods/" UID RT, -ENOENT, NULL },                  /* no name */
        { "/var/lib/kubelet/pods/" UID RT "sub/virtqemud-sock", -ENOENT, NULL },
        { "/var/lib/kubelet/pods/" RT "virtqemud-sock", -ENOENT, NULL },     /* empty uid */
        { "/run/relink/pods/p1/run/libvirt-sock", -ENOENT, NULL },
        { "", -ENOENT, NULL },
};

static void test_pod_uid(void **state) {
        for (size_t i = 0; i < ARRAY_SIZE(uid_rows); i++) {
                char uid[64] = "";
                int r = kubelet_pod_uid(uid_rows[i].path, uid, sizeof(uid));

                if (r != uid_rows[i].ret)
                        fail_msg("'%s': got %d, want %d", uid_rows[i].path, r, uid_rows[i].ret);
                if (uid_rows[i].uid)
                        assert_string_equal(uid, uid_rows[i].uid);
        }
}

static void test_pod_uid_small_buffer(void **state) {
        char uid[8] = "keep";

        assert_int_equal(kubelet_pod_uid("/k/pods/" UID RT "virtqemud-sock", uid, sizeof(uid)), -ENAMETOOLONG);
        assert_int_equal(kubelet_pod_uid("/k/pods/abcdefgh" RT "virtqemud-sock", uid, sizeof(uid)), -ENAMETOOLONG);
        assert_int_equal(kubelet_pod_uid("/k/pods/abcdef" RT "virtqemud-sock", uid, sizeof(uid)), 0);
        assert_string_equal(uid, "abcdef");
}

static const struct split_row {
        const char *path;
        int ret;
        const char *dir, *name;
} split_rows[] = {
        { "/var/lib/kubelet/pods/" UID RT "virtqemud-sock", 0,
          "/var/lib/kubelet/pods/" UID "/volumes/kubernetes.io~empty-dir/libvirt-runtime", "virtqemud-sock" },
        { "/sock", 0, "/", "sock" },
        { "/a/b", 0, "/a", "b" },
        { "relative/sock", -EINVAL, NULL, NULL },
        { "/a/", -EINVAL, NULL, NULL },
        { "/a/..", -EINVAL, NULL, NULL },
        { "", -EINVAL, NULL, NULL },
};

static void test_path_split(void **state) {
        for (size_t i = 0; i < ARRAY_SIZE(split_rows); i++) {
                char dir[256], name[64];
                int r = path_split(split_rows[i].path, dir, sizeof(dir), name, sizeof(name));

                if (r != split_rows[i].ret)
                        fail_msg("'%s': got %d, want %d", split_rows[i].path, r, split_rows[i].ret);
                if (!split_rows[i].dir)
                        continue;
                assert_string_equal(dir, split_rows[i].dir);
                assert_string_equal(name, split_rows[i].name);
        }
}

static void test_path_split_small(void **state) {
        char dir[4], name[4];

        assert_int_equal(path_split("/abcd/x", dir, sizeof(dir), name, sizeof(name)), -ENAMETOOLONG);
        assert_int_equal(path_split("/a/long", dir, sizeof(dir), name, sizeof(name)), -ENAMETOOLONG);
        assert_int_equal(path_split("/ab/xyz", dir, sizeof(dir), name, sizeof(name)), 0);
        assert_string_equal(dir, "/ab");
        assert_string_equal(name, "xyz");
}

static void test_socket_alias(void **state) {
        char buf[sizeof(((struct sockaddr_un *) NULL)->sun_path)];
        char longname[120];

        assert_int_equal(socket_alias("/run/relinkd.Ab12Cd/17", "virtqemud-sock", buf, sizeof(buf)), 0);
        assert_string_equal(buf, "/run/relinkd.Ab12Cd/17/virtqemud-sock");
        assert_int_equal(socket_alias("/proc/self/fd/1023", "libvirt-sock", buf, sizeof(buf)), 0);
        assert_string_equal(buf, "/proc/self/fd/1023/libvirt-sock");
        assert_int_equal(socket_alias("relative", "x", buf, sizeof(buf)), -EINVAL);
        assert_int_equal(socket_alias("/d", "", buf, sizeof(buf)), -EINVAL);
        assert_int_equal(socket_alias("/d", "a/b", buf, sizeof(buf)), -EINVAL);
        assert_int_equal(socket_alias("/d", "..", buf, sizeof(buf)), -EINVAL);
        /* "/proc/self/fd/3/" is 16 bytes: a 91-byte name is the longest that still fits 108 with its NUL */
        memset(longname, 'n', 91);
        longname[91] = '\0';
        assert_int_equal(socket_alias("/proc/self/fd/3", longname, buf, sizeof(buf)), 0);
        assert_int_equal(strlen(buf), 107);
        longname[91] = 'n';
        longname[92] = '\0';
        assert_int_equal(socket_alias("/proc/self/fd/3", longname, buf, sizeof(buf)), -ENAMETOOLONG);
        /* the kubelet path itself never fits */
        assert_int_equal(socket_alias("/var/lib/kubelet/pods/" UID "/volumes/kubernetes.io~empty-dir/libvirt-runtime",
                                      "virtqemud-sock", buf, sizeof(buf)), -ENAMETOOLONG);
        /* a caller buffer smaller than the alias */
        assert_int_equal(socket_alias("/proc/self/fd/3", "virtqemud-sock", buf, 10), -ENAMETOOLONG);
}

static void test_launcher_uri(void **state) {
        char buf[128];

        assert_int_equal(launcher_uri("/proc/self/fd/7/virtqemud-sock", buf, sizeof(buf)), 0);
        assert_string_equal(buf, "qemu+unix:///session?socket=/proc/self/fd/7/virtqemud-sock");
        assert_int_equal(launcher_uri("/run/a b&c=d/s~_.", buf, sizeof(buf)), 0);
        assert_string_equal(buf, "qemu+unix:///session?socket=/run/a%20b%26c%3Dd/s~_.");
        assert_int_equal(launcher_uri("/x", buf, 29), -ENAMETOOLONG);     /* prefix alone is 28 */
        assert_int_equal(launcher_uri("/x", buf, 31), 0);
        assert_int_equal(launcher_uri("/ %", buf, 32), -ENAMETOOLONG);
}

static void test_names(void **state) {
        assert_string_equal(launcher_socket_names[0], "virtqemud-sock");
        assert_string_equal(launcher_socket_names[1], "libvirt-sock");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pod_uid),
                cmocka_unit_test(test_pod_uid_small_buffer),
                cmocka_unit_test(test_path_split),
                cmocka_unit_test(test_path_split_small),
                cmocka_unit_test(test_socket_alias),
                cmocka_unit_test(test_launcher_uri),
                cmocka_unit_test(test_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
