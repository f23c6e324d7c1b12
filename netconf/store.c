/* SPDX-License-Identifier: MIT */
/* The state store (layout and rules in store.h). */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "common/fileio.h"
#include "common/util.h"
#include "netconf/store.h"

#define LOCK_FILE        ".lock"
#define LOCK_TIMEOUT_MS  10000

static void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

struct store {
        int dir_fd;
        bool create;
        store_skip_fn skip_fn;
        void *skip_userdata;
};

void store_set_skip_report(struct store *s, store_skip_fn fn, void *userdata) {
        s->skip_fn = fn;
        s->skip_userdata = userdata;
}

/* mkdir, then the mode set explicitly on what was made: the umask neither widens nor narrows it. */
static int mkdir_mode(int at, const char *name, mode_t mode) {
        _cleanup_close_ int fd = -1;

        if (mkdirat(at, name, mode) < 0)
                return errno == EEXIST ? 0 : -errno;
        fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        return fchmod(fd, mode) < 0 ? -errno : 0;
}

static int mkdir_p(const char *dir) {
        char path[PATH_MAX];

        if (strcpy_bounded(path, sizeof(path), dir) < 0)
                return -ENAMETOOLONG;
        for (char *p = path + 1;; p++) {
                if (*p != '/' && *p != '\0')
                        continue;
                char c = *p;
                *p = '\0';
                int r = mkdir_mode(AT_FDCWD, path, 0700);
                if (r < 0)
                        return r;
                *p = c;
                if (c == '\0')
                        return 0;
        }
}

/* Records drive relinkd's actions on VMs: only a directory nobody else can write is trusted. */
static int dir_trusted(int fd) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        if (st.st_uid != 0 && st.st_uid != geteuid())
                return -EPERM;
        if (st.st_mode & (S_IWGRP | S_IWOTH))
                return -EACCES;
        return 0;
}

const char *store_strerror(int r) {
        switch (r) {
        case -EPERM:
                return "not owned by root";
        case -EACCES:
                return "group- or world-writable";
        default:
                return strerror(-r);
        }
}

int store_open(const char *dir, bool create, struct store **ret) {
        _cleanup_close_ int fd = -1;
        struct store *s;

        if (!dir || dir[0] != '/')
                return -EINVAL;
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && create) {
                /* First use only: every later ADD finds the directory in one open(). */
                int r = mkdir_p(dir);
                if (r < 0)
                        return r;
                fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        }
        if (fd < 0)
                return -errno;
        int r = dir_trusted(fd);
        if (r < 0)
                return r;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->dir_fd = TAKE_FD(fd);
        s->create = create;
        *ret = s;
        return 0;
}

void store_close(struct store *s) {
        if (!s)
                return;
        if (s->dir_fd >= 0)
                close(s->dir_fd);
        free(s);
}

/* Open (and, when the store was opened for writing, create) one network's directory. */
static int network_dir(struct store *s, const char *network, bool create, int *ret_fd) {
        int fd;

        if (!record_name_valid(network))
                return -EINVAL;
        fd = openat(s->dir_fd, network, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 && errno == ENOENT && create) {
                int r = mkdir_mode(s->dir_fd, network, 0700);
                if (r < 0)
                        return r;
                fd = openat(s->dir_fd, network, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        }
        if (fd < 0)
                return errno == ENOTDIR ? -ELOOP : -errno;
        int r = dir_trusted(fd);
        if (r < 0) {
                close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

static int record_file_name(const char *container_id, const char *ifname, char *buf, size_t size) {
        if (!record_name_valid(container_id) || !record_ifname_valid(ifname))
                return -EINVAL;
        int n = snprintf(buf, size, "%s@%s.json", container_id, ifname);
        if (n < 0 || (size_t)n >= size || n > NAME_MAX)
                return -ENAMETOOLONG;
        return 0;
}

bool store_attachment_valid(const char *container_id, const char *ifname) {
        char name[NAME_MAX + 1];

        return record_file_name(container_id, ifname, name, sizeof(name)) == 0;
}

/* The directory and file name of one attachment's record: name validated first, then the directory opened. */
static int record_at(struct store *s, const char *network, const char *container_id, const char *ifname,
                     bool create, int *ret_dfd, char name[static NAME_MAX + 1]) {
        int k = record_file_name(container_id, ifname, name, NAME_MAX + 1);
        if (k < 0)
                return k;
        return network_dir(s, network, create, ret_dfd);
}

int store_usable(struct store *s, const char **ret_reason) {
        static const char probe_data[] = "{}\n";
        char probe[64];
        struct stat st;
        int r;

        *ret_reason = NULL;
        if (!s) {
                *ret_reason = "state directory is not open";
                return -EBADF;
        }
        if (fstat(s->dir_fd, &st) < 0) {
                *ret_reason = "cannot stat the state directory";
                return -errno;
        }
        if (!S_ISDIR(st.st_mode)) {
                *ret_reason = "state directory is not a directory";
                return -ENOTDIR;
        }
        snprintf(probe, sizeof(probe), ".probe-%ld", (long)getpid());
        r = write_atomic_at(s->dir_fd, probe, probe_data, sizeof(probe_data) - 1, 0600, false);
        if (r < 0) {
                *ret_reason = "state directory is not writable";
                return r;
        }
        if (unlinkat(s->dir_fd, probe, 0) < 0) {
                *ret_reason = "cannot remove files in the state directory";
                return -errno;
        }
        return 0;
}

/* ".tmp-<pid>-<n>" (write_atomic_at) or ".probe-<pid>" (store_usable). */
static bool temp_name(const char *n) {
        const char *p;

        if (strncmp(n, ".tmp-", 5) == 0) {
                p = n + 5;
                if (!isdigit((unsigned char)*p))
                        return false;
                while (isdigit((unsigned char)*p))
                        p++;
                if (*p++ != '-' || !isdigit((unsigned char)*p))
                        return false;
        } else if (strncmp(n, ".probe-", 7) == 0) {
                p = n + 7;
                if (!isdigit((unsigned char)*p))
                        return false;
        } else
                return false;
        while (isdigit((unsigned char)*p))
                p++;
        return *p == '\0';
}

static int sweep_dir(int dfd, time_t max_age, unsigned *removed) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        time_t now = time(NULL);
        int fd;

        fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                int r = -errno;
                close(fd);
                return r;
        }
        while ((errno = 0, de = readdir(d))) {
                struct stat st;

                if (!temp_name(de->d_name))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                        continue;
                if (st.st_mtime > now - max_age)
                        continue;       /* possibly a live writer's */
                if (unlinkat(dirfd(d), de->d_name, 0) == 0)
                        (*removed)++;
                else if (errno != ENOENT)
                        return -errno;
        }
        return errno > 0 ? -errno : 0;
}

int store_sweep_temp(struct store *s, const char *network, time_t max_age, unsigned *ret_removed) {
        _cleanup_close_ int dfd = -1;
        unsigned removed = 0;
        int r;

        r = sweep_dir(s->dir_fd, max_age, &removed);
        if (r >= 0 && network) {
                r = network_dir(s, network, false, &dfd);
                if (r == -ENOENT)
                        r = 0;
                else if (r >= 0)
                        r = sweep_dir(dfd, max_age, &removed);
        }
        if (ret_removed)
                *ret_removed = removed;
        return r;
}

int store_lock(struct store *s, const char *network, bool exclusive) {
        _cleanup_close_ int dfd = -1, fd = -1;
        struct timespec pause = { 0, 2 * 1000 * 1000 };
        int r;

        r = network_dir(s, network, s->create, &dfd);
        if (r < 0)
                return r;
        fd = openat(dfd, LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0600);
        if (fd < 0)
                return -errno;
        if (fchmod(fd, 0600) < 0)       /* whatever the umask was when it was created */
                return -errno;
        for (unsigned waited = 0;; waited += 2) {
                if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
                        break;
                if (errno != EWOULDBLOCK && errno != EINTR)
                        return -errno;
                if (waited >= LOCK_TIMEOUT_MS)
                        return -EAGAIN;
                nanosleep(&pause, NULL);
        }
        return TAKE_FD(fd);
}

int store_claim_reader(struct store *s) {
        /* A new open file of its own: the store's dir_fd is closed with the store. */
        _cleanup_close_ int fd = openat(s->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                return -errno;
        return TAKE_FD(fd);
}

int store_put(struct store *s, const struct record *r) {
        _cleanup_close_ int dfd = -1;
        _cleanup_free_ char *json = NULL;
        char name[NAME_MAX + 1];
        int k;

        k = record_at(s, r->network, r->container_id, r->ifname, true, &dfd, name);
        if (k < 0)
                return k;
        k = record_to_json(r, &json);
        if (k < 0)
                return k;
        /* /run is tmpfs: records describe live pods only, fsync buys nothing there. */
        return write_atomic_at(dfd, name, json, strlen(json), 0600, false);
}

static int load_at(int dfd, const char *name, struct record **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r;

        r = read_full_at(dfd, name, RECORD_MAX_BYTES, &buf, &len);
        if (r < 0)
                return r;
        return record_from_json(buf, len, ret);
}

int store_get(struct store *s, const char *network, const char *container_id, const char *ifname,
              struct record **ret) {
        _cleanup_close_ int dfd = -1;
        _cleanup_free_ struct record *r = NULL;
        char name[NAME_MAX + 1];
        int k;

        k = record_at(s, network, container_id, ifname, false, &dfd, name);
        if (k < 0)
                return k;
        k = load_at(dfd, name, &r);
        if (k < 0)
                return k;
        if (!streq(r->network, network) || !streq(r->container_id, container_id) || !streq(r->ifname, ifname))
                return -EBADMSG;
        *ret = TAKE_PTR(r);
        return 0;
}

int store_remove(struct store *s, const char *network, const char *container_id, const char *ifname) {
        _cleanup_close_ int dfd = -1;
        char name[NAME_MAX + 1];
        int k;

        k = record_at(s, network, container_id, ifname, false, &dfd, name);
        if (k < 0)
                return k;
        if (unlinkat(dfd, name, 0) < 0)
                return -errno;
        return 0;
}

/* Records of one network directory; returns the number of records visited or fn's non-zero value. */
static int foreach_in(struct store *s, const char *network, int (*fn)(const struct record *r, void *userdata),
                      void *userdata, unsigned *skipped, unsigned *visited) {
        _cleanup_(closedirp) DIR *d = NULL;
        int dfd, k;
        struct dirent *de;

        k = network_dir(s, network, false, &dfd);
        if (k < 0)
                return k;
        d = fdopendir(dfd);
        if (!d) {
                k = -errno;
                close(dfd);
                return k;
        }
        while ((errno = 0, de = readdir(d))) {
                _cleanup_free_ struct record *r = NULL;
                char expect[NAME_MAX + 1] = "";
                size_t n = strlen(de->d_name);

                if (de->d_name[0] == '.' || n <= 5 || !streq(de->d_name + n - 5, ".json"))
                        continue;
                int l = load_at(dirfd(d), de->d_name, &r);
                char why[NAME_MAX + 64] = "";

                if (l == -EBADMSG || l == -EINVAL)
                        snprintf(why, sizeof(why), "not a valid record: %s", strerror(-l));
                else if (l < 0)
                        snprintf(why, sizeof(why), "unreadable: %s", strerror(-l));
                else if (!streq(r->network, network))
                        snprintf(why, sizeof(why), "names network '%.64s'", r->network);
                else if (record_file_name(r->container_id, r->ifname, expect, sizeof(expect)) < 0 ||
                         !streq(expect, de->d_name))
                        snprintf(why, sizeof(why), "names another record (expected '%.200s')", expect);
                if (*why) {
                        (*skipped)++;
                        if (s->skip_fn)
                                s->skip_fn(network, de->d_name, why, s->skip_userdata);
                        continue;
                }
                (*visited)++;
                k = fn(r, userdata);
                if (k != 0)
                        return k;
        }
        return errno > 0 ? -errno : 0;
}

int store_foreach(struct store *s, const char *network,
                  int (*fn)(const struct record *r, void *userdata), void *userdata,
                  unsigned *ret_skipped) {
        unsigned skipped = 0, visited = 0;
        int k = 0;

        if (network) {
                k = foreach_in(s, network, fn, userdata, &skipped, &visited);
                if (k == -ENOENT)
                        k = 0;
        } else {
                _cleanup_(closedirp) DIR *d = NULL;
                struct dirent *de;
                int fd = openat(s->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

                if (fd < 0)
                        return -errno;
                d = fdopendir(fd);
                if (!d) {
                        k = -errno;
                        close(fd);
                        return k;
                }
                while ((errno = 0, de = readdir(d))) {
                        if (!record_name_valid(de->d_name))
                                continue;
                        k = foreach_in(s, de->d_name, fn, userdata, &skipped, &visited);
                        if (k == -ENOENT || k == -ENOTDIR || k == -ELOOP) {
                                k = 0;
                                continue;
                        }
                        if (k == -EPERM || k == -EACCES) {     /* an untrusted network directory */
                                skipped++;
                                k = 0;
                                continue;
                        }
                        if (k != 0)
                                break;
                }
                if (k == 0 && errno > 0)
                        k = -errno;
        }
        if (ret_skipped)
                *ret_skipped = skipped;
        if (k < 0)
                return k;
        return k > 0 ? k : (int)visited;
}
