/* SPDX-License-Identifier: MIT */
/*
 * The state store: one JSON record per attachment, shared by relink (writes) and relinkd (reads).
 *
 *   <dir>/                          0700, owned by root, never group/world-writable (else refused)
 *   <dir>/<network>/                0700, one directory per CNI network (same rule)
 *   <dir>/<network>/.lock           flock: ADD/DEL shared, GC exclusive
 *   <dir>/<network>/<containerID>@<ifname>.json   0600, atomically replaced
 *   <dir> itself                    flock: held exclusively by the one relinkd reading the store (a lock
 *                                   on the directory, not a file in it: relinkd may see it read-only)
 *
 * '@' cannot appear in a container ID, so the file name is unambiguous. Every name is validated
 * before it becomes a path component; files are opened relative to directory fds with O_NOFOLLOW.
 * All functions return 0 (or a positive count) on success, -errno on failure.
 */
#pragma once

#include <stdbool.h>
#include <time.h>
#include "netconf/record.h"

struct store;

/* Open (and with create, make: mode 0700 whatever the umask, parents included) the store directory.
 * -EPERM when it is not owned by root (the effective user), -EACCES when group- or world-writable:
 * its records drive relinkd, so nobody else may write them. Modes of everything made are explicit. */
int store_open(const char *dir, bool create, struct store **ret);
/* A message for store_* errors: the two refusals above in words, strerror otherwise. */
const char *store_strerror(int r);
void store_close(struct store *s);                 /* accepts NULL */
static inline void store_closep(struct store **s) { store_close(*s); }

/* Writable and consistent (STATUS): 0 or -errno with a reason in ret_reason (static string). */
int store_usable(struct store *s, const char **ret_reason);

/* A writer killed between creating and renaming its temp file leaves ".tmp-<pid>-<n>" (or STATUS's
 * ".probe-<pid>"). Remove such regular files older than max_age seconds from the store directory and,
 * when network is given, from that network's directory (call with its lock held exclusively).
 * A live writer's file is never that old. */
#define STORE_TEMP_MAX_AGE 60
int store_sweep_temp(struct store *s, const char *network, time_t max_age, unsigned *ret_removed);

/* Lock one network: shared for ADD/DEL, exclusive for GC. Returns an fd to close, or -errno. */
int store_lock(struct store *s, const char *network, bool exclusive);

/* Claim the store for its one reader daemon (relinkd): an exclusive flock on the store directory
 * itself, never waited for; needs no write access. Returns the fd to keep open for as long as the
 * claim lasts, -EWOULDBLOCK when another open file holds it, or another -errno. */
int store_claim_reader(struct store *s);

/* True when the attachment can name a record file: valid container ID and ifname, and
 * "<containerID>@<ifname>.json" fits in NAME_MAX. */
bool store_attachment_valid(const char *container_id, const char *ifname);

int store_put(struct store *s, const struct record *r);
/* -ENOENT when absent. */
int store_get(struct store *s, const char *network, const char *container_id, const char *ifname,
              struct record **ret);
/* 0 when removed, -ENOENT when there was nothing to remove. */
int store_remove(struct store *s, const char *network, const char *container_id, const char *ifname);

/*
 * Call fn for every readable record, of one network or of all (network == NULL).
 * Unreadable/corrupt files are skipped (counted in *ret_skipped when non-NULL), never deleted; with
 * network == NULL, so is a network directory others can write (counted once).
 * fn returns 0 to go on, > 0 to stop early, < 0 to abort with that error.
 */
int store_foreach(struct store *s, const char *network,
                  int (*fn)(const struct record *r, void *userdata), void *userdata,
                  unsigned *ret_skipped);
/* Tell why each record file store_foreach skips: fn(network, file name, reason) for every skipped file
 * (reason: "unreadable: <errno text>", "not a valid record: <detail>", "names network 'x'", or "names
 * another record (expected 'f')"). NULL turns it off. The store never logs; the caller decides. */
typedef void (*store_skip_fn)(const char *network, const char *file, const char *reason, void *userdata);
void store_set_skip_report(struct store *s, store_skip_fn fn, void *userdata);
