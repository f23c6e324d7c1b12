/* SPDX-License-Identifier: MIT */
/* The one place both binaries take their version from (the Makefile passes VERSION's contents). */
#include "common/version.h"

#ifndef RELINK_VERSION
#error "RELINK_VERSION must be defined (the Makefile reads it from the VERSION file)"
#endif

const char relink_version[] = RELINK_VERSION;
