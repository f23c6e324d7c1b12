/* SPDX-License-Identifier: MIT */
/* relink's release version: the VERSION file at the top of the tree, compiled into common/version.c. */
#pragma once

extern const char relink_version[];
