/* SPDX-License-Identifier: MIT */
/* Who is the guest's DHCP client, from its own DHCP packets (pure, table-tested), and what that means
 * for a migration with the MAC unchanged: a carrier flap renews only clients that react to carrier
 * (systemd-networkd); NetworkManager waits 6 s before it lets go (carrier-wait-timeout) and ISC dhclient
 * ignores carrier, so for them the flap is 4 s lost before the same-MAC re-plug that works
 * (/work/shared/notes/anchors.md, "Guest network stacks"; docs/relinkd.md, "Knowing the guest").
 *
 * Signatures come from real packets (tests/unit/test_fingerprint.c holds them): an exact parameter
 * request list (option 55, in its order) first, then traits — vendor class (60), the client identifier's
 * shape (61), options only one client asks for. */
#pragma once

#include <stdbool.h>

#include "trigger/dhcpwatch.h"

enum guest_client {
        CLIENT_UNKNOWN,
        CLIENT_NETWORKD,     /* systemd-networkd (sd-dhcp-client): renews on carrier regain */
        CLIENT_NM,           /* NetworkManager (internal or dhclient backend): ignores flaps < 6 s */
        CLIENT_DHCLIENT,     /* ISC dhclient (ifupdown): ignores carrier */
        CLIENT_UDHCPC,       /* busybox udhcpc with its own vendor class: behaviour set by its script */
        CLIENT_DHCPCD,       /* dhcpcd: renews on carrier regain */
        CLIENT_WINDOWS,      /* "MSFT 5.0" */
        _CLIENT_MAX,
};

/* Where the knowledge came from: the client's start (DISCOVER, or a REQUEST asking for an address)
 * or a renewal (a REQUEST without option 50). */
enum client_src { SRC_NONE, SRC_BOOT, SRC_RENEWAL, _SRC_MAX };

/* What made the guest take the pod's network the last time a flap was decided for it. */
enum worked { WORKED_NONE, WORKED_FLAP, WORKED_REPLUG, _WORKED_MAX };

/* The client that sent s (a client → server packet); CLIENT_UNKNOWN when nothing matches or s is not a
 * DISCOVER, REQUEST or INFORM (a RELEASE or DECLINE carries too little). *ret_src (may be NULL) is set
 * when the result is not unknown. */
enum guest_client fingerprint_classify(const struct dhcp_seen *s, enum client_src *ret_src);

/* Should a flap decided for this guest start at the same-MAC re-plug? What worked last time wins (a
 * re-plug that had to follow a futile flap: yes; a flap that worked: no); else the client: NM and
 * dhclient yes; networkd, dhcpcd, unknown and the rest no (a flap is the least disruptive when it
 * works, and today's ladder escalates when it does not). ret_why (may be NULL): "worked=replug",
 * "client=nm", … — what decided. */
bool fingerprint_skip_flap(enum guest_client client, enum worked worked, const char **ret_why);

const char *client_to_string(enum guest_client c);     /* "unknown", "networkd", "nm", "dhclient", … */
const char *client_src_to_string(enum client_src s);   /* "-", "boot", "renewal" */
const char *worked_to_string(enum worked w);           /* "-", "flap", "replug" */
/* 0, or -EINVAL for a name no version of relinkd writes. */
int client_from_string(const char *s, enum guest_client *ret);
int client_src_from_string(const char *s, enum client_src *ret);
int worked_from_string(const char *s, enum worked *ret);
