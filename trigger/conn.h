/* SPDX-License-Identifier: MIT */
/* The set of libvirt connections relinkd follows (--connect URIs, --watch globs), each with its
 * pod netns; reconnects with exponential backoff; lifecycle and DEVICE_REMOVED events. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "trigger/options.h"

int conns_start(const struct opts *o);
/* Deregister every callback and close every connection. */
void conns_stop(void);
