/* SPDX-License-Identifier: MIT */
/* Where KubeVirt launchers' libvirt daemons live on a node, and how to reach a socket whose path is
 * longer than a UNIX socket address can hold. Pure string functions (unit-tested). */
#pragma once

#include <stddef.h>

/* <kubelet-root>/pods/<pod-uid>/ + this + /<socket name> is the launcher's /var/run/libvirt. */
#define KUBELET_LIBVIRT_RUNTIME "volumes/kubernetes.io~empty-dir/libvirt-runtime"

/* The names a launcher's daemon listens on, in order of preference: virtqemud (KubeVirt), libvirtd. */
extern const char *const launcher_socket_names[2];

/* The pod UID of a socket under a kubelet layout ".../pods/<uid>/volumes/kubernetes.io~empty-dir/
 * libvirt-runtime/<name>"; -ENOENT when path is not one, -ENAMETOOLONG when ret is too small. */
int kubelet_pod_uid(const char *path, char *ret, size_t size);

/* Split an absolute socket path into its directory and last component (both copied into caller
 * buffers). -EINVAL for a relative path, a trailing '/' or no name; -ENAMETOOLONG when a part does not fit. */
int path_split(const char *path, char *dir, size_t dir_size, char *name, size_t name_size);

/* "<dir>/<name>" for a short dir that leads to the socket's directory (a symlink to it, or
 * "/proc/self/fd/<n>" of it opened): a path that fits a sockaddr_un however long the real one is.
 * -ENAMETOOLONG when it does not fit (or ret is smaller), -EINVAL for a bad name or a relative dir. */
int socket_alias(const char *dir, const char *name, char *ret, size_t size);

/* The libvirt URI for a launcher socket: qemu+unix:///session?socket=<path, percent-encoded>. Session
 * and system daemons both accept /session (a privileged daemon treats it as /system); a session daemon
 * rejects /system. -ENAMETOOLONG when it does not fit. */
int launcher_uri(const char *sock_path, char *ret, size_t size);
