/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdio.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/nsfs.h>
#include <linux/magic.h>

#include "common/netns.h"
#include "common/util.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

int netns_open(const char *path, int *ret_fd) {
        _cleanup_close_ int pfd = -1, fd = -1;
        struct statfs sfs;
        char self[64];

        if (!path || path[0] == '\0')
                return -EINVAL;
        /* O_PATH opens nothing: no driver's open() for a device node, no wait for a FIFO's writer.
         * Only a namespace file (nsfs) is then opened for real, through the same fd. */
        pfd = open(path, O_PATH | O_CLOEXEC);
        if (pfd < 0)
                return -errno;
        if (fstatfs(pfd, &sfs) < 0)
                return -errno;
        if ((unsigned long)sfs.f_type != NSFS_MAGIC)
                return -EINVAL;
        snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
        fd = open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        int type = ioctl(fd, NS_GET_NSTYPE);
        if (type < 0 && errno != ENOTTY)        /* ENOTTY: kernel before 4.11, setns() checks later */
                return -errno;
        if (type >= 0 && type != CLONE_NEWNET)
                return -EINVAL;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int netns_identity(int fd, uint64_t *ret_dev, uint64_t *ret_ino) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return -errno;
        *ret_dev = (uint64_t)st.st_dev;
        *ret_ino = (uint64_t)st.st_ino;
        return 0;
}

int netns_enter(int fd, int *ret_saved) {
        _cleanup_close_ int saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

        if (saved < 0)
                return -errno;
        if (setns(fd, CLONE_NEWNET) < 0)
                return -errno;
        *ret_saved = TAKE_FD(saved);
        return 0;
}

void netns_leave(int saved) {
        /* Going back to a netns we hold an fd of cannot fail short of a kernel or caller bug; a
         * thread left in a pod's netns would silently act on the wrong network, so stop here. */
        if (saved < 0 || setns(saved, CLONE_NEWNET) < 0) {
                fprintf(stderr, "netns: cannot return to the original network namespace: %s\n",
                        saved < 0 ? "no saved fd" : strerror(errno));
                abort();
        }
        close(saved);
}
