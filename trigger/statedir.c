/* SPDX-License-Identifier: MIT */
/* relinkd's claim on its state dir (see statedir.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/util.h"
#include "netconf/store.h"
#include "trigger/statedir.h"

static void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

/* The PID holding an flock on (dev, ino), from /proc/locks ("1: FLOCK  ADVISORY  WRITE 812 00:1a:2051 0 EOF";
 * lines with "->" are waiters). 0 when there is none or it is not visible in our PID namespace. */
static pid_t flock_holder(dev_t dev, ino_t ino) {
        _cleanup_(fclosep) FILE *f = fopen("/proc/locks", "re");
        char line[256];

        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f)) {
                unsigned maj, min;
                unsigned long long i;
                int pid;

                if (strstr(line, "->"))
                        continue;
                if (sscanf(line, "%*s FLOCK %*s %*s %d %x:%x:%llu", &pid, &maj, &min, &i) != 4)
                        continue;
                if (maj == major(dev) && min == minor(dev) && i == (unsigned long long)ino && pid > 0)
                        return (pid_t)pid;
        }
        return 0;
}

/* store_open's errors in words; EACCES from open() itself is told apart from the store's own
 * "group- or world-writable" refusal by trying the open first. */
static int open_checked(const char *dir, bool *ret_created, struct store **ret, char *err, size_t err_size) {
        _cleanup_close_ int fd = -1;
        int r;

        *ret_created = false;
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) {
                r = store_open(dir, true, ret);
                if (r < 0) {
                        snprintf(err, err_size, "state dir '%s' does not exist and cannot be created: %s", dir,
                                 store_strerror(r));
                        return r;
                }
                *ret_created = true;
                return 0;
        }
        if (fd < 0) {
                r = -errno;
                if (r == -ENOTDIR)
                        snprintf(err, err_size, "state dir '%s' is not a directory", dir);
                else
                        snprintf(err, err_size, "cannot open the state dir '%s' (as uid %ld): %s", dir,
                                 (long)geteuid(), strerror(-r));
                return r;
        }
        r = store_open(dir, false, ret);
        if (r < 0)
                snprintf(err, err_size, "state dir '%s' refused: %s (the records in it drive relinkd's actions)",
                         dir, store_strerror(r));
        return r;
}

int statedir_claim(const char *dir, bool *ret_created, pid_t *ret_holder, char *err, size_t err_size) {
        _cleanup_(store_closep) struct store *s = NULL;
        struct stat st;
        int r;

        *ret_holder = 0;
        r = open_checked(dir, ret_created, &s, err, err_size);
        if (r < 0)
                return r;
        r = store_claim_reader(s);
        if (r == -EWOULDBLOCK) {
                if (stat(dir, &st) == 0)
                        *ret_holder = flock_holder(st.st_dev, st.st_ino);
                if (*ret_holder > 0)
                        snprintf(err, err_size, "state dir '%s' is in use by another relinkd (pid %ld holds its lock)",
                                 dir, (long)*ret_holder);
                else
                        snprintf(err, err_size, "state dir '%s' is in use by another relinkd (its lock is held; "
                                 "the holder is not visible in /proc/locks)", dir);
        } else if (r < 0)
                snprintf(err, err_size, "cannot lock the state dir '%s': %s", dir, strerror(-r));
        return r;
}
