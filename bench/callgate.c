/* SPDX-License-Identifier: MIT */
/* What the call gate (trigger/callgate.c: every libvirt RPC on a detached thread of its own, the loop
 * waiting with a deadline) costs per call. The same libvirt call is made N times per round on the
 * calling thread and through the gate, against a libvirt connection (by default the in-process test
 * driver, test:///default, so the call itself is a few µs and the gate's cost stands out):
 *
 *   direct    virDomainGetState / virConnectListAllDomains on the calling thread
 *   gate      the same call through gate_call() (thread start, run, condition-variable handshake)
 *   virtdom   relinkd's wrapper (trigger/virtdom.c: copy in, reference, gate, copy out, free)
 *   gate-nop  gate_call() of a function that does nothing: the gate alone
 *
 * Modes are interleaved within each round (rotated order) so that load changes hit all of them.
 * Every call is timed on its own (CLOCK_MONOTONIC); medians, p99 and means in µs.
 *
 *   build/bench/callgate [-n CALLS] [-r ROUNDS] [-c URI] [-t TSV]
 *
 * -t appends one line per (call, mode) to TSV (bench/results/relinkd-callgate.tsv), with the date,
 * REV (environment, default "-") and the load average. Exit 1 when a call fails. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "trigger/callgate.h"
#include "trigger/virtdom.h"

enum call { CALL_STATE, CALL_LIST, _CALL_MAX };
enum mode { MODE_DIRECT, MODE_GATE, MODE_VIRTDOM, MODE_GATE_NOP, _MODE_MAX };

static const char *const call_names[_CALL_MAX] = { "virDomainGetState", "virConnectListAllDomains" };
static const char *const mode_names[_MODE_MAX] = { "direct", "gate", "virtdom", "gate-nop" };

static virConnectPtr vc;
static virDomainPtr dom;

struct job {
        enum call call;
        int r;
};

static int call_once(enum call call) {
        virDomainPtr *doms = NULL;
        int state, reason, r;

        switch (call) {
        case CALL_STATE:
                return virDomainGetState(dom, &state, &reason, 0) < 0 ? -EIO : 0;
        case CALL_LIST:
                r = virConnectListAllDomains(vc, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
                if (r < 0)
                        return -EIO;
                for (int i = 0; i < r; i++)
                        virDomainFree(doms[i]);
                free(doms);
                return r > 0 ? 0 : -ENOENT;
        case _CALL_MAX:
                break;
        }
        return -EINVAL;
}

static void job_run(void *arg) {
        struct job *j = arg;

        j->r = call_once(j->call);
}

static void job_nop(void *arg) {
        (void) arg;
}

static void job_free(void *arg) {
        free(arg);
}

static int call_virtdom(enum call call) {
        virDomainPtr *doms = NULL;
        size_t n = 0;
        int state, reason, r;

        switch (call) {
        case CALL_STATE:
                return virtdom_state(dom, &state, &reason);
        case CALL_LIST:
                r = virtdom_list_active(vc, &doms, &n);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i++)
                        virDomainFree(doms[i]);
                free(doms);
                return n > 0 ? 0 : -ENOENT;
        case _CALL_MAX:
                break;
        }
        return -EINVAL;
}

/* Through the gate: the job is the worker's if the call is abandoned (gate_call's contract). */
static int run_gated(enum call call, gate_fn fn) {
        struct job *j = malloc(sizeof(*j));
        int r;

        if (!j)
                return -ENOMEM;
        *j = (struct job) { .call = call, .r = 0 };
        r = gate_call(vc, fn, j, job_free);
        if (r == -ETIMEDOUT)
                return r;
        if (r == 0)
                r = j->r;
        free(j);
        return r;
}

static int run_one(enum call call, enum mode mode) {
        switch (mode) {
        case MODE_DIRECT:
                return call_once(call);
        case MODE_GATE:
                return run_gated(call, job_run);
        case MODE_VIRTDOM:
                return call_virtdom(call);
        case MODE_GATE_NOP:
                return run_gated(call, job_nop);
        case _MODE_MAX:
                break;
        }
        return -EINVAL;
}

static double now_us(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return (x > y) - (x < y);
}

struct stats {
        double median, p99, mean;
};

static struct stats stats_of(double *v, size_t n) {
        struct stats s = { 0 };
        double sum = 0;

        if (n == 0)
                return s;
        qsort(v, n, sizeof(*v), cmp_double);
        for (size_t i = 0; i < n; i++)
                sum += v[i];
        s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
        s.p99 = v[(size_t) ((double) (n - 1) * 0.99 + 0.5)];
        s.mean = sum / (double) n;
        return s;
}

static void usage(FILE *f, const char *argv0) {
        fprintf(f, "usage: %s [-n CALLS] [-r ROUNDS] [-c URI] [-t TSV]\n"
                   "  -n  calls per mode and round (default 2000)\n"
                   "  -r  rounds (default 5)\n"
                   "  -c  libvirt URI (default test:///default; it must have an active domain)\n"
                   "  -t  append the results to this TSV file\n",
                argv0);
}

int main(int argc, char **argv) {
        const char *uri = "test:///default", *tsv = NULL;
        unsigned long calls = 2000, rounds = 5;
        double *samples[_CALL_MAX][_MODE_MAX], *scratch, load[3] = { 0 };
        size_t n_samples = 0;
        char *end;
        int c;

        while ((c = getopt(argc, argv, "n:r:c:t:h")) != -1) {
                switch (c) {
                case 'n':
                        errno = 0;
                        calls = strtoul(optarg, &end, 10);
                        if (errno || *end || calls == 0 || calls > 1000000) {
                                fprintf(stderr, "callgate: -n '%s': want 1..1000000\n", optarg);
                                return 2;
                        }
                        break;
                case 'r':
                        errno = 0;
                        rounds = strtoul(optarg, &end, 10);
                        if (errno || *end || rounds == 0 || rounds > 1000) {
                                fprintf(stderr, "callgate: -r '%s': want 1..1000\n", optarg);
                                return 2;
                        }
                        break;
                case 'c':
                        uri = optarg;
                        break;
                case 't':
                        tsv = optarg;
                        break;
                case 'h':
                        usage(stdout, argv[0]);
                        return 0;
                default:
                        usage(stderr, argv[0]);
                        return 2;
                }
        }
        if (optind != argc) {
                usage(stderr, argv[0]);
                return 2;
        }

        if (virInitialize() < 0) {
                fprintf(stderr, "callgate: virInitialize failed\n");
                return 1;
        }
        vc = virConnectOpen(uri);
        if (!vc) {
                fprintf(stderr, "callgate: cannot open '%s': %s\n", uri, virGetLastErrorMessage());
                return 1;
        }
        {
                virDomainPtr *doms = NULL;
                int n = virConnectListAllDomains(vc, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);

                if (n <= 0) {
                        fprintf(stderr, "callgate: '%s' has no active domain\n", uri);
                        virConnectClose(vc);
                        return 1;
                }
                dom = doms[0];
                for (int i = 1; i < n; i++)
                        virDomainFree(doms[i]);
                free(doms);
        }
        gate_set_deadline(600000);       /* never abandon a call here: every sample is a full call */

        for (int k = 0; k < _CALL_MAX; k++)
                for (int m = 0; m < _MODE_MAX; m++) {
                        samples[k][m] = calloc(calls * rounds, sizeof(double));
                        if (!samples[k][m]) {
                                fprintf(stderr, "callgate: out of memory\n");
                                return 1;
                        }
                }
        scratch = calloc(calls, sizeof(double));
        if (!scratch) {
                fprintf(stderr, "callgate: out of memory\n");
                return 1;
        }

        printf("callgate: %lu calls x %lu rounds per mode on '%s', µs per call (median)\n", calls, rounds, uri);
        printf("%-5s %-26s", "round", "call");
        for (int m = 0; m < _MODE_MAX; m++)
                printf(" %9s", mode_names[m]);
        printf("\n");
        for (unsigned long rd = 0; rd < rounds; rd++) {
                for (int k = 0; k < _CALL_MAX; k++) {
                        double med[_MODE_MAX];

                        /* warm up each mode (first thread, caches), untimed */
                        for (int m = 0; m < _MODE_MAX; m++)
                                for (int w = 0; w < 20; w++)
                                        (void) run_one((enum call) k, (enum mode) m);
                        for (int i = 0; i < _MODE_MAX; i++) {
                                int m = (int) ((i + rd) % _MODE_MAX);
                                double *v = samples[k][m] + rd * calls;

                                for (unsigned long n = 0; n < calls; n++) {
                                        double t0 = now_us();
                                        int r = run_one((enum call) k, (enum mode) m);

                                        v[n] = now_us() - t0;
                                        if (r < 0) {
                                                fprintf(stderr, "callgate: %s %s failed: %s\n", mode_names[m],
                                                        call_names[k], r == -EIO ? virGetLastErrorMessage() : strerror(-r));
                                                return 1;
                                        }
                                }
                                memcpy(scratch, v, calls * sizeof(double));    /* stats_of sorts */
                                med[m] = stats_of(scratch, calls).median;
                        }
                        printf("%-5lu %-26s", rd + 1, call_names[k]);
                        for (int m = 0; m < _MODE_MAX; m++)
                                printf(" %9.1f", med[m]);
                        printf("\n");
                }
        }
        n_samples = calls * rounds;

        getloadavg(load, 3);
        printf("\nall rounds (%zu calls per mode), µs per call; load average %.2f %.2f %.2f\n", n_samples, load[0],
               load[1], load[2]);
        printf("%-26s %-9s %9s %9s %9s %14s\n", "call", "mode", "median", "p99", "mean", "median/direct");
        for (int k = 0; k < _CALL_MAX; k++) {
                struct stats st[_MODE_MAX];

                for (int m = 0; m < _MODE_MAX; m++)
                        st[m] = stats_of(samples[k][m], n_samples);
                for (int m = 0; m < _MODE_MAX; m++)
                        printf("%-26s %-9s %9.1f %9.1f %9.1f %13.1fx\n", call_names[k], mode_names[m], st[m].median,
                               st[m].p99, st[m].mean, st[m].median / st[MODE_DIRECT].median);
                printf("%-26s gate adds %.1f µs (median), virtdom %.1f µs\n", call_names[k],
                       st[MODE_GATE].median - st[MODE_DIRECT].median, st[MODE_VIRTDOM].median - st[MODE_DIRECT].median);
                if (tsv) {
                        FILE *f = fopen(tsv, "ae");
                        char date[32];
                        time_t t = time(NULL);
                        const char *rev = getenv("REV");

                        if (!f) {
                                fprintf(stderr, "callgate: cannot append to '%s': %m\n", tsv);
                                return 1;
                        }
                        strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&t));
                        if (fseek(f, 0, SEEK_END) == 0 && ftell(f) == 0)
                                fprintf(f, "date\trev\tload1\turi\tcall\tmode\tcalls\tmedian_us\tp99_us\tmean_us\n");
                        for (int m = 0; m < _MODE_MAX; m++)
                                fprintf(f, "%s\t%s\t%.2f\t%s\t%s\t%s\t%zu\t%.1f\t%.1f\t%.1f\n", date, rev ? rev : "-",
                                        load[0], uri, call_names[k], mode_names[m], n_samples, st[m].median, st[m].p99,
                                        st[m].mean);
                        fclose(f);
                }
        }
        for (int k = 0; k < _CALL_MAX; k++)
                for (int m = 0; m < _MODE_MAX; m++)
                        free(samples[k][m]);
        free(scratch);
        virDomainFree(dom);
        virConnectClose(vc);
        return 0;
}
