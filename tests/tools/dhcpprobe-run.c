/* SPDX-License-Identifier: MIT */
/* Test driver for trigger/dhcpprobe (tests only, never installed): run the probe on libvirt's default
 * event loop, as relinkd does, and print its result.
 *
 *   dhcpprobe-run [-t TIMEOUT_MS] [-n RUNS] NETNS_PATH TAP MAC [MAC]
 *
 * Per run: one line per candidate "mac=<mac> answered=yes|no offer=<ip|-> ms=<n>", then
 * "elapsed_ms=<n> foreign=<n>"; an impossible probe prints "impossible errno=<n>: <text>" and exits 3.
 * Waits for the background veth deletes before exiting. Exit 0 when every run completed, 2 on usage or setup errors. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "common/netns.h"
#include "trigger/dhcpprobe.h"

static int finished;

static void on_done(const struct probe_result *res, void *opaque) {
        for (size_t i = 0; i < res->n; i++)
                printf("mac=%s answered=%s offer=%s ms=%u\n", res->cand[i].mac, res->cand[i].answered ? "yes" : "no",
                       *res->cand[i].offer ? res->cand[i].offer : "-", res->cand[i].ms);
        printf("elapsed_ms=%u foreign=%u ready_ms=%u\n", res->elapsed_ms, res->foreign, res->ready_ms);
        fflush(stdout);
        finished = 1;
}

int main(int argc, char **argv) {
        unsigned timeout = PROBE_TIMEOUT_MS, runs = 1;
        struct dhcpprobe *p;
        int opt, fd, r;

        while ((opt = getopt(argc, argv, "t:n:")) != -1)
                switch (opt) {
                case 't':
                        timeout = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'n':
                        runs = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                default:
                        return 2;
                }
        if (argc - optind < 3 || argc - optind > 4) {
                fprintf(stderr, "usage: dhcpprobe-run [-t TIMEOUT_MS] [-n RUNS] NETNS_PATH TAP MAC [MAC]\n");
                return 2;
        }
        if (virEventRegisterDefaultImpl() < 0)
                return 2;
        r = netns_open(argv[optind], &fd);
        if (r < 0) {
                fprintf(stderr, "netns '%s': %s\n", argv[optind], strerror(-r));
                return 2;
        }
        for (unsigned i = 0; i < runs; i++) {
                finished = 0;
                r = dhcpprobe_start(fd, argv[optind + 1], (const char *const *) &argv[optind + 2],
                                    (size_t) (argc - optind - 2), timeout, on_done, NULL, &p);
                if (r < 0) {
                        printf("impossible errno=%d: %s\n", -r, dhcpprobe_strerror(r));
                        return 3;
                }
                while (!finished)
                        if (virEventRunDefaultImpl() < 0)
                                return 2;
        }
        close(fd);
        if (dhcpprobe_drain(5000) > 0) {
                fprintf(stderr, "probe veth deletes still running after 5 s\n");
                return 2;
        }
        return 0;
}
