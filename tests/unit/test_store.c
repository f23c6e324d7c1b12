/* SPDX-License-Identifier: MIT */
/* netconf/store: layout, modes, validation, atomic replace, corrupt files, concurrent writers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "common/fileio.h"
#include "common/util.h"
#include "netconf/store.h"

static char root[256];

static int setup(void **state) {
        snprintf(root, sizeof(root), "/tmp/relink-unit-store-XXXXXX");
        return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state) {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        return system(cmd) == 0 ? 0 : -1;
}

static void path(char *buf, size_t size, const char *rel) {
        snprintf(buf, size, "%s/%s", root, rel);
}

static struct record *mk(const char *net, const char *cid, const char *ifname, int ifindex) {
        struct record *r = calloc(1, sizeof(*r));

        assert_non_null(r);
        r->schema = RECORD_SCHEMA;
        strcpy(r->network, net);
        strcpy(r->container_id, cid);
        strcpy(r->ifname, ifname);
        r->ifindex = ifindex;
        strcpy(r->mac, "02:00:00:00:00:01");
        r->n_ips = 1;
        r->ips[0] = (struct record_ip){ AF_INET, "10.0.0.2", 24, "10.0.0.1" };
        strcpy(r->cni_version, "1.0.0");
        r->created = 1700000000;
        return r;
}

static int counter(const struct record *r, void *userdata) {
        (*(int *)userdata)++;
        return 0;
}
static int stopper(const struct record *r, void *userdata) { return 1; }
static int aborter(const struct record *r, void *userdata) { return -EIO; }
static int none(const struct record *r, void *userdata) { return 0; }

static void test_layout_and_modes(void **state) {
        _cleanup_(store_closep) struct store *s = NULL;
        _cleanup_free_ struct record *r = mk("net1", "c1", "eth0", 2), *back = NULL;
        char dir[300], p[400];
        struct stat st;

        path(dir, sizeof(dir), "a/b/state");
        assert_int_equal(store_open(dir, false, &s), -ENOENT);
        assert_int_equal(store_open(dir, true, &s), 0);
        assert_int_equal(stat(dir, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        assert_int_equal(store_put(s, r), 0);
        snprintf(p, sizeof(p), "%s/net1", dir);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        snprintf(p, sizeof(p), "%s/net1/c1@eth0.json", dir);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);

        assert_int_equal(store_get(s, "net1", "c1", "eth0", &back), 0);
        assert_memory_equal(r, back, sizeof(*r));
        free(TAKE_PTR(back));

        r->ifindex = 7;                                     /* replace */
        assert_int_equal(store_put(s, r), 0);
        assert_int_equal(store_get(s, "net1", "c1", "eth0", &back), 0);
        assert_int_equal(back->ifindex, 7);

        /* no temp files left behind */
        snprintf(p, sizeof(p), "%s/net1", dir);
        DIR *d = opendir(p);
        struct dirent *de;
        unsigned n = 0;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        n++, assert_true(streq(de->d_name, ".lock") || streq(de->d_name, "c1@eth0.json"));
        closedir(d);
        assert_true(n <= 2);

        assert_int_equal(store_remove(s, "net1", "c1", "eth0"), 0);
        assert_int_equal(store_remove(s, "net1", "c1", "eth0"), -ENOENT);
        assert_int_equal(store_remove(s, "nonet", "c1", "eth0"), -ENOENT);
        assert_int_equal(store_get(s, "net1", "c1", "eth0", &back), -ENOENT);
}

static void mode_is(const char *dir, const char *rel, mode_t want) {
        char p[512];
        struct stat st;

        snprintf(p, sizeof(p), "%s%s", dir, rel);
        assert_int_equal(stat(p, &st), 0);
        if ((st.st_mode & 07777) != want)
                fail_msg("%s: mode %o, want %o", p, st.st_mode & 07777, want);
}

/* issue 9 row 6: modes do not follow the umask; a state dir others can write is refused. */
static void test_umask_and_trust(void **state) {
        _cleanup_free_ struct record *r = mk("net1", "c1", "eth0", 2);
        struct store *s = NULL;
        char dir[300], net[400];
        const char *reason;

        path(dir, sizeof(dir), "u/v/state");
        for (unsigned i = 0; i < 2; i++) {
                mode_t old = umask(i == 0 ? 0777 : 0);   /* nothing at all, then everything */

                assert_int_equal(store_open(dir, true, &s), 0);
                assert_int_equal(store_put(s, r), 0);
                int fd = store_lock(s, "net1", false);
                assert_true(fd >= 0);
                close(fd);
                assert_int_equal(store_usable(s, &reason), 0);
                umask(old);
                mode_is(root, "/u", 0700);
                mode_is(dir, "", 0700);
                mode_is(dir, "/net1", 0700);
                mode_is(dir, "/net1/.lock", 0600);
                mode_is(dir, "/net1/c1@eth0.json", 0600);
                store_close(TAKE_PTR(s));
                char cmd[400];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s/u'", root);
                assert_int_equal(system(cmd), 0);
        }

        assert_int_equal(store_open(dir, true, &s), 0);
        assert_int_equal(store_put(s, r), 0);
        store_close(TAKE_PTR(s));
        for (unsigned i = 0; i < 3; i++) {
                static const mode_t bad[] = { 0777, 0770, 0702 };
                assert_int_equal(chmod(dir, bad[i]), 0);
                assert_int_equal(store_open(dir, false, &s), -EACCES);
                assert_int_equal(store_open(dir, true, &s), -EACCES);
                assert_null(s);
        }
        assert_string_equal(store_strerror(-EACCES), "group- or world-writable");
        assert_int_equal(chmod(dir, 0755), 0);                  /* readable by others is fine */
        assert_int_equal(chown(dir, 65534, 65534), 0);
        assert_int_equal(store_open(dir, false, &s), -EPERM);
        assert_string_equal(store_strerror(-EPERM), "not owned by root");
        assert_int_equal(chown(dir, 0, 0), 0);
        assert_int_equal(store_open(dir, false, &s), 0);
        /* the same rule for a network directory */
        snprintf(net, sizeof(net), "%s/net1", dir);
        assert_int_equal(chmod(net, 0777), 0);
        _cleanup_free_ struct record *back = NULL;
        assert_int_equal(store_get(s, "net1", "c1", "eth0", &back), -EACCES);
        assert_int_equal(store_lock(s, "net1", false), -EACCES);
        unsigned skipped = 0;
        int n = 0;
        assert_int_equal(store_foreach(s, "net1", counter, &n, &skipped), -EACCES);
        assert_int_equal(chmod(net, 0700), 0);
        assert_int_equal(store_get(s, "net1", "c1", "eth0", &back), 0);
        store_close(s);
}

/* issue 9 row 4: temp files of killed writers go once they are older than the age given. */
static void touch_at(const char *dir, const char *name, time_t age, bool is_dir) {
        char p[512];
        struct timespec ts[2] = { { time(NULL) - age, 0 }, { time(NULL) - age, 0 } };

        snprintf(p, sizeof(p), "%s/%s", dir, name);
        if (is_dir)
                assert_int_equal(mkdir(p, 0700), 0);
        else {
                int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                assert_true(fd >= 0);
                close(fd);
        }
        assert_int_equal(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static bool exists_at(const char *dir, const char *name) {
        char p[512];
        struct stat st;

        snprintf(p, sizeof(p), "%s/%s", dir, name);
        return lstat(p, &st) == 0;
}

static void test_sweep_temp(void **state) {
        _cleanup_free_ struct record *r = mk("net1", "c1", "eth0", 2);
        _cleanup_(store_closep) struct store *s = NULL;
        char dir[300], net[400];
        unsigned removed = 99;
        static const struct {
                const char *name;
                bool in_net, is_dir;
                time_t age;
                bool gone;
        } files[] = {
                { ".tmp-1234-0", true, false, 120, true },
                { ".tmp-99999-17", true, false, 61, true },
                { ".tmp-1234-1", true, false, 5, false },       /* a live writer's, maybe */
                { ".tmp-1234-", true, false, 120, false },      /* not our pattern */
                { ".tmp-x-1", true, false, 120, false },
                { ".tmp-1-1x", true, false, 120, false },
                { ".tmp-7-7", true, true, 120, false },         /* not a regular file */
                { "c9@eth0.json", true, false, 120, false },    /* records are GC's business */
                { ".probe-4321", false, false, 120, true },
                { ".probe-4322", false, false, 1, false },
                { ".probe-", false, false, 120, false },
                { ".tmp-55-0", false, false, 300, true },
        };

        path(dir, sizeof(dir), "sweep");
        snprintf(net, sizeof(net), "%s/net1", dir);
        assert_int_equal(store_open(dir, true, &s), 0);
        assert_int_equal(store_sweep_temp(s, "net1", STORE_TEMP_MAX_AGE, &removed), 0);   /* no dir yet */
        assert_int_equal(removed, 0);
        assert_int_equal(store_put(s, r), 0);
        for (size_t i = 0; i < ARRAY_SIZE(files); i++)
                touch_at(files[i].in_net ? net : dir, files[i].name, files[i].age, files[i].is_dir);
        assert_int_equal(store_sweep_temp(s, NULL, STORE_TEMP_MAX_AGE, &removed), 0);
        assert_int_equal(removed, 2);                           /* the store dir only */
        assert_true(exists_at(net, ".tmp-1234-0"));
        assert_int_equal(store_sweep_temp(s, "net1", STORE_TEMP_MAX_AGE, &removed), 0);
        assert_int_equal(removed, 2);
        for (size_t i = 0; i < ARRAY_SIZE(files); i++)
                if (exists_at(files[i].in_net ? net : dir, files[i].name) == files[i].gone)
                        fail_msg("%s: %s", files[i].name, files[i].gone ? "still there" : "removed");
        assert_true(exists_at(net, "c1@eth0.json"));
}

static const struct invalid_case {
        const char *net, *cid, *ifname;
} invalid_cases[] = {
        { "..", "c1", "eth0" },
        { "../x", "c1", "eth0" },
        { "n", "../../etc/passwd", "eth0" },
        { "n", "c1", "../x" },
        { "n", "c1", ".." },
        { "n", "c/1", "eth0" },
        { "n", "c@1", "eth0" },
        { "n", "", "eth0" },
        { "", "c1", "eth0" },
        { "n", "c1", "eth0/x" },
};

static void test_validation(void **state) {
        _cleanup_(store_closep) struct store *s = NULL;
        char dir[300];

        path(dir, sizeof(dir), "v");
        assert_int_equal(store_open(dir, true, &s), 0);
        assert_int_equal(store_open("relative/dir", true, &(struct store *){ NULL }), -EINVAL);
        for (size_t i = 0; i < ARRAY_SIZE(invalid_cases); i++) {
                const struct invalid_case *t = &invalid_cases[i];
                _cleanup_free_ struct record *r = calloc(1, sizeof(*r)), *back = NULL;

                snprintf(r->network, sizeof(r->network), "%s", t->net);
                snprintf(r->container_id, sizeof(r->container_id), "%s", t->cid);
                snprintf(r->ifname, sizeof(r->ifname), "%s", t->ifname);
                assert_int_equal(store_put(s, r), -EINVAL);
                assert_int_equal(store_get(s, t->net, t->cid, t->ifname, &back), -EINVAL);
                assert_int_equal(store_remove(s, t->net, t->cid, t->ifname), -EINVAL);
                if (!record_name_valid(t->net))
                        assert_int_equal(store_lock(s, t->net, false), -EINVAL);
        }
        /* "<containerID>@<ifname>.json" must fit in NAME_MAX (255): 245 + 10 does, 246 + 10 does not */
        char cid[300];
        memset(cid, 'a', 246);
        cid[246] = '\0';
        assert_false(store_attachment_valid(cid, "eth0"));
        cid[245] = '\0';
        assert_true(store_attachment_valid(cid, "eth0"));
        assert_false(store_attachment_valid("c1", "a/b"));
        assert_false(store_attachment_valid("-c1", "eth0"));
        /* nothing was created outside or inside */
        DIR *d = opendir(dir);
        struct dirent *de;
        while ((de = readdir(d)))
                assert_true(streq(de->d_name, ".") || streq(de->d_name, "..") || streq(de->d_name, "n"));
        closedir(d);
}

static void test_no_symlinks(void **state) {
        _cleanup_(store_closep) struct store *s = NULL;
        _cleanup_free_ struct record *r = mk("net1", "c1", "eth0", 2), *back = NULL;
        char dir[300], p[400], target[400];

        path(dir, sizeof(dir), "sym");
        path(target, sizeof(target), "elsewhere");
        assert_int_equal(mkdir(target, 0700), 0);
        assert_int_equal(store_open(dir, true, &s), 0);
        snprintf(p, sizeof(p), "%s/net1", dir);
        assert_int_equal(symlink(target, p), 0);
        assert_true(store_put(s, r) < 0);                   /* network dir is a symlink */
        unlink(p);
        _cleanup_free_ struct record *r2 = mk("net2", "c1", "eth0", 2);
        assert_int_equal(store_put(s, r2), 0);
        snprintf(p, sizeof(p), "%s/net2/c2@eth0.json", dir);
        snprintf(target, sizeof(target), "%s/net2/c1@eth0.json", dir);
        assert_int_equal(symlink(target, p), 0);
        assert_int_equal(store_get(s, "net2", "c2", "eth0", &back), -ELOOP);   /* record file is a symlink */
}

static void test_foreach_skips_corrupt(void **state) {
        _cleanup_(store_closep) struct store *s = NULL;
        char dir[300], p[400];
        unsigned skipped = 99;
        int count = 0;

        path(dir, sizeof(dir), "fe");
        assert_int_equal(store_open(dir, true, &s), 0);
        for (int i = 0; i < 5; i++) {
                char cid[16];
                snprintf(cid, sizeof(cid), "c%d", i);
                _cleanup_free_ struct record *r = mk(i < 3 ? "netA" : "netB", cid, "eth0", i + 1);
                assert_int_equal(store_put(s, r), 0);
        }
        snprintf(p, sizeof(p), "%s/netA/bad@eth0.json", dir);
        FILE *f = fopen(p, "w");
        fputs("{ not json", f);
        fclose(f);
        snprintf(p, sizeof(p), "%s/netA/liar@eth0.json", dir);   /* valid JSON naming another record */
        f = fopen(p, "w");
        fputs("{\"schema\":1,\"network\":\"netA\",\"containerID\":\"c0\",\"ifname\":\"eth0\"}", f);
        fclose(f);
        snprintf(p, sizeof(p), "%s/netA/.tmp-1-1", dir);
        f = fopen(p, "w");
        fclose(f);

        assert_int_equal(store_foreach(s, "netA", counter, &count, &skipped), 3);
        assert_int_equal(count, 3);
        assert_int_equal(skipped, 2);
        count = 0;
        assert_int_equal(store_foreach(s, NULL, counter, &count, &skipped), 5);
        assert_int_equal(count, 5);
        assert_int_equal(skipped, 2);
        assert_int_equal(store_foreach(s, "absent", counter, &count, NULL), 0);
        snprintf(p, sizeof(p), "%s/netA/bad@eth0.json", dir);
        assert_int_equal(access(p, F_OK), 0);               /* never deleted */

        assert_int_equal(store_foreach(s, "netA", stopper, NULL, NULL), 1);
        assert_int_equal(store_foreach(s, "netA", aborter, NULL, NULL), -EIO);
}

static void test_usable(void **state) {
        _cleanup_(store_closep) struct store *s = NULL;
        const char *reason = "x";
        char dir[300];

        path(dir, sizeof(dir), "u");
        assert_int_equal(store_open(dir, true, &s), 0);
        assert_int_equal(store_usable(s, &reason), 0);
        assert_null(reason);
        assert_int_equal(store_usable(NULL, &reason), -EBADF);
        assert_non_null(reason);
}

static void test_locks(void **state) {
        _cleanup_(store_closep) struct store *s = NULL, *ro = NULL;
        char dir[300];

        path(dir, sizeof(dir), "l");
        assert_int_equal(store_open(dir, true, &s), 0);
        int a = store_lock(s, "net1", false);
        int b = store_lock(s, "net1", false);               /* shared + shared */
        assert_true(a >= 0 && b >= 0);
        pid_t pid = fork();
        if (pid == 0) {
                char lp[400];
                snprintf(lp, sizeof(lp), "%s/net1/.lock", dir);
                int fd = open(lp, O_RDWR | O_CLOEXEC);
                /* the shared holders keep an exclusive locker out */
                _exit(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK &&
                      flock(fd, LOCK_SH | LOCK_NB) == 0 ? 0 : 1);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(a);
        close(b);
        int x = store_lock(s, "net1", true);
        assert_true(x >= 0);
        close(x);
        /* a store opened without create does not create network directories */
        assert_int_equal(store_open(dir, false, &ro), 0);
        assert_int_equal(store_lock(ro, "fresh", false), -ENOENT);
}

/* The reader's claim: one at a time per directory (flock is per open file, so even within one process),
 * independent of the per-network locks, released on close, and never a file in the store. */
static void test_claim_reader(void **state) {
        _cleanup_(store_closep) struct store *s = NULL, *t = NULL;
        char dir[300];
        DIR *d;
        struct dirent *de;
        int n = 0;

        path(dir, sizeof(dir), "c");
        assert_int_equal(store_open(dir, true, &s), 0);
        assert_int_equal(store_open(dir, false, &t), 0);
        int a = store_claim_reader(s);
        assert_true(a >= 0);
        assert_int_equal(store_claim_reader(t), -EWOULDBLOCK);
        assert_int_equal(store_claim_reader(s), -EWOULDBLOCK);
        int l = store_lock(s, "net1", true);                 /* the plugin's GC lock is another lock */
        assert_true(l >= 0);
        close(l);
        close(a);
        int b = store_claim_reader(t);
        assert_true(b >= 0);
        close(b);
        d = opendir(dir);
        assert_non_null(d);
        while ((de = readdir(d)))
                n += de->d_name[0] != '.' || (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."));
        closedir(d);
        assert_int_equal(n, 1);                             /* net1/ only */
}

/* Many processes writing and removing different records of two networks while GC-style walkers run. */
static void test_concurrent(void **state) {
        enum { WRITERS = 8, ROUNDS = 60 };
        char dir[300];
        pid_t pids[WRITERS + 1];

        path(dir, sizeof(dir), "conc");
        for (int w = 0; w <= WRITERS; w++) {
                pids[w] = fork();
                assert_true(pids[w] >= 0);
                if (pids[w] > 0)
                        continue;
                struct store *s = NULL;
                if (store_open(dir, true, &s) < 0)
                        _exit(2);
                for (int i = 0; i < ROUNDS; i++) {
                        if (w == WRITERS) {             /* walker with the exclusive lock */
                                int lk = store_lock(s, "netA", true);
                                if (lk < 0)
                                        _exit(3);
                                unsigned skipped = 0;
                                if (store_foreach(s, "netA", none, NULL, &skipped) < 0 || skipped)
                                        _exit(4);
                                close(lk);
                                continue;
                        }
                        char cid[32];
                        const char *net = w % 2 ? "netA" : "netB";
                        snprintf(cid, sizeof(cid), "w%d-%d", w, i % 4);
                        struct record *r = mk(net, cid, "eth0", i);
                        int lk = store_lock(s, net, false);
                        if (lk < 0 || store_put(s, r) < 0)
                                _exit(5);
                        if (i % 4 == 3) {
                                snprintf(cid, sizeof(cid), "w%d-%d", w, 0);
                                if (store_remove(s, net, cid, "eth0") < 0)
                                        _exit(6);
                        }
                        close(lk);
                        free(r);
                }
                _exit(0);
        }
        for (int w = 0; w <= WRITERS; w++) {
                int status;
                assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        fail_msg("child %d exited with %d", w, WEXITSTATUS(status));
        }
        /* every writer ends with w-1..w-3 present (w-0 removed last at i%4==3), all readable */
        _cleanup_(store_closep) struct store *s = NULL;
        unsigned skipped = 99;
        int count = 0;
        assert_int_equal(store_open(dir, false, &s), 0);
        assert_int_equal(store_foreach(s, NULL, counter, &count, &skipped), WRITERS * 3);
        assert_int_equal(skipped, 0);
        for (int w = 0; w < WRITERS; w++)
                for (int k = 1; k < 4; k++) {
                        _cleanup_free_ struct record *r = NULL;
                        char cid[32];
                        snprintf(cid, sizeof(cid), "w%d-%d", w, k);
                        assert_int_equal(store_get(s, w % 2 ? "netA" : "netB", cid, "eth0", &r), 0);
                }
}

static void test_fileio(void **state) {
        _cleanup_close_ int dfd = -1;
        _cleanup_free_ char *buf = NULL;
        char dir[300];
        size_t len;

        path(dir, sizeof(dir), "io");
        assert_int_equal(mkdir(dir, 0700), 0);
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        assert_int_equal(write_atomic_at(dfd, "f", "hello", 5, 0640, true), 0);
        assert_int_equal(read_full_at(dfd, "f", 5, &buf, &len), 0);
        assert_int_equal(len, 5);
        assert_string_equal(buf, "hello");
        free(TAKE_PTR(buf));
        assert_int_equal(read_full_at(dfd, "f", 4, &buf, &len), -EFBIG);
        assert_int_equal(read_full_at(dfd, "missing", 4, &buf, &len), -ENOENT);
        assert_int_equal(mkdirat(dfd, "d", 0700), 0);
        assert_int_equal(read_full_at(dfd, "d", 4, &buf, &len), -EBADFD);
        assert_true(write_atomic_at(dfd, "d", "x", 1, 0600, false) < 0);   /* rename over a dir fails... */
        DIR *d = fdopendir(dup(dfd));
        struct dirent *de;
        while ((de = readdir(d)))
                assert_true(strncmp(de->d_name, ".tmp", 4) != 0);           /* ...and leaves no temp file */
        closedir(d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_layout_and_modes),
                cmocka_unit_test(test_umask_and_trust),
                cmocka_unit_test(test_sweep_temp),
                cmocka_unit_test(test_validation),
                cmocka_unit_test(test_no_symlinks),
                cmocka_unit_test(test_foreach_skips_corrupt),
                cmocka_unit_test(test_usable),
                cmocka_unit_test(test_locks),
                cmocka_unit_test(test_claim_reader),
                cmocka_unit_test(test_concurrent),
                cmocka_unit_test(test_fileio),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
