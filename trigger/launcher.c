/* SPDX-License-Identifier: MIT */
/* Launcher socket paths: kubelet layout, short /proc/self/fd aliases, session URIs. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "common/util.h"
#include "trigger/launcher.h"

const char *const launcher_socket_names[2] = { "virtqemud-sock", "libvirt-sock" };

int kubelet_pod_uid(const char *path, char *ret, size_t size) {
        static const char tail[] = "/" KUBELET_LIBVIRT_RUNTIME "/";
        const char *uid = NULL, *end = NULL;
        size_t n;

        /* The last "/pods/<uid>" directly followed by the runtime volume and one name. */
        for (const char *p = strstr(path, "/pods/"); p; p = strstr(p + 1, "/pods/")) {
                const char *u = p + strlen("/pods/");
                const char *e = strchr(u, '/');

                if (e && e > u && strncmp(e, tail, strlen(tail)) == 0) {
                        const char *name = e + strlen(tail);

                        if (*name && !strchr(name, '/')) {
                                uid = u;
                                end = e;
                        }
                }
        }
        if (!uid)
                return -ENOENT;
        n = (size_t) (end - uid);
        if (n >= size)
                return -ENAMETOOLONG;
        memcpy(ret, uid, n);
        ret[n] = '\0';
        return 0;
}

int path_split(const char *path, char *dir, size_t dir_size, char *name, size_t name_size) {
        const char *slash = strrchr(path, '/');
        size_t dlen;

        if (path[0] != '/' || !slash || slash[1] == '\0')
                return -EINVAL;
        if (streq(slash + 1, ".") || streq(slash + 1, ".."))
                return -EINVAL;
        dlen = slash == path ? 1 : (size_t) (slash - path);
        if (dlen >= dir_size || strlen(slash + 1) >= name_size)
                return -ENAMETOOLONG;
        memcpy(dir, path, dlen);
        dir[dlen] = '\0';
        memcpy(name, slash + 1, strlen(slash + 1) + 1);
        return 0;
}

int socket_alias(const char *dir, const char *name, char *ret, size_t size) {
        char buf[sizeof(((struct sockaddr_un *) NULL)->sun_path)];
        int n;

        if (dir[0] != '/' || !*name || strchr(name, '/') || streq(name, ".") || streq(name, ".."))
                return -EINVAL;
        n = snprintf(buf, sizeof(buf), "%s/%s", dir, name);
        if (n < 0 || (size_t) n >= sizeof(buf))
                return -ENAMETOOLONG;
        return strcpy_bounded(ret, size, buf);
}

int launcher_uri(const char *sock_path, char *ret, size_t size) {
        static const char prefix[] = "qemu+unix:///session?socket=";
        static const char hex[] = "0123456789ABCDEF";
        size_t o = strlen(prefix);

        if (size <= o)
                return -ENAMETOOLONG;
        memcpy(ret, prefix, o);
        for (const unsigned char *p = (const unsigned char *) sock_path; *p; p++) {
                bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                             strchr("/-._~", *p);

                if (o + (plain ? 1 : 3) >= size)
                        return -ENAMETOOLONG;
                if (plain)
                        ret[o++] = (char) *p;
                else {
                        ret[o++] = '%';
                        ret[o++] = hex[*p >> 4];
                        ret[o++] = hex[*p & 15];
                }
        }
        ret[o] = '\0';
        return 0;
}
