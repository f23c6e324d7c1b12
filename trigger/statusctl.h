/* SPDX-License-Identifier: MIT */
/* `relinkd status [--json] [--socket PATH]`: the client of trigger/status.h, run by main() when the
 * first argument is "status". Exit status: 0, 1 (relinkd not reachable, refused, bad answer), 2 (usage). */
#pragma once

int statusctl_main(int argc, char **argv);
