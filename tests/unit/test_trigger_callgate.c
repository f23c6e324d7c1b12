/* SPDX-License-Identifier: MIT */
/* The call gate: a call that answers in time, one that does not (abandoned, key stuck, later calls
 * refused, the key usable again once it returns, its arg freed exactly once), shutdown shortening. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "trigger/callgate.h"

struct arg {
        unsigned sleep_ms;
        int result;
};

static int frees;               /* atomically: free_fn runs on the worker */
static int stuck_calls;
static const void *stuck_key;
static unsigned stuck_waited;

static int64_t mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void slow(void *opaque) {
        struct arg *a = opaque;
        struct timespec ts = { a->sleep_ms / 1000, (long) (a->sleep_ms % 1000) * 1000000L };

        nanosleep(&ts, NULL);
        a->result = 42;
}

static void arg_free(void *opaque) {
        __atomic_add_fetch(&frees, 1, __ATOMIC_RELEASE);
        free(opaque);
}

static void on_stuck(const void *key, unsigned waited_ms) {
        stuck_calls++;
        stuck_key = key;
        stuck_waited = waited_ms;
}

static struct arg *new_arg(unsigned ms) {
        struct arg *a = calloc(1, sizeof(*a));

        assert_non_null(a);
        a->sleep_ms = ms;
        return a;
}

static void wait_unstuck(const void *key) {
        for (int i = 0; i < 300 && gate_stuck(key); i++)
                usleep(10 * 1000);
        assert_false(gate_stuck(key));
}

static int setup(void **state) {
        (void) state;
        frees = stuck_calls = 0;
        stuck_key = NULL;
        gate_set_deadline(200);
        gate_set_abort(NULL);
        gate_set_stuck_handler(on_stuck);
        return 0;
}

static void test_in_time(void **state) {
        static int key;
        struct arg *a = new_arg(10);

        (void) state;
        assert_int_equal(gate_call(&key, slow, a, arg_free), 0);
        assert_int_equal(a->result, 42);            /* the caller's again, with the result */
        assert_int_equal(stuck_calls, 0);
        assert_false(gate_stuck(&key));
        free(a);
        assert_int_equal(__atomic_load_n(&frees, __ATOMIC_ACQUIRE), 0);
}

static void test_past_deadline(void **state) {
        static int key, other;
        int64_t t0 = mono_ms(), took;
        struct arg *a = new_arg(700), *b;

        (void) state;
        assert_int_equal(gate_call(&key, slow, a, arg_free), -ETIMEDOUT);
        took = mono_ms() - t0;
        assert_true(took >= 200 && took < 600);
        assert_int_equal(stuck_calls, 1);
        assert_ptr_equal(stuck_key, &key);
        assert_true(stuck_waited >= 200);
        assert_true(gate_stuck(&key));
        assert_int_equal(gate_abandoned(), 1);

        /* Refused at once while the abandoned call runs; fn never runs, b stays ours. */
        b = new_arg(0);
        t0 = mono_ms();
        assert_int_equal(gate_call(&key, slow, b, arg_free), -EBUSY);
        assert_true(mono_ms() - t0 < 50);
        assert_int_equal(b->result, 0);

        /* Another key is not held up. */
        assert_int_equal(gate_call(&other, slow, b, arg_free), 0);
        assert_int_equal(b->result, 42);
        free(b);

        /* Once the abandoned call returns, its arg is freed (once) and the key works again. */
        wait_unstuck(&key);
        for (int i = 0; i < 100 && __atomic_load_n(&frees, __ATOMIC_ACQUIRE) < 1; i++)
                usleep(10 * 1000);
        assert_int_equal(__atomic_load_n(&frees, __ATOMIC_ACQUIRE), 1);
        assert_int_equal(gate_abandoned(), 0);
        a = new_arg(0);
        assert_int_equal(gate_call(&key, slow, a, arg_free), 0);
        free(a);
        assert_int_equal(stuck_calls, 1);
}

static void test_shutdown_shortens(void **state) {
        static int key;
        static volatile sig_atomic_t quit = 1;
        struct arg *a = new_arg(3000);
        int64_t t0 = mono_ms(), took;

        (void) state;
        gate_set_deadline(10000);
        gate_set_abort(&quit);
        assert_int_equal(gate_call(&key, slow, a, arg_free), -ETIMEDOUT);
        took = mono_ms() - t0;
        assert_true(took >= GATE_SHUTDOWN_MS - 10 && took < GATE_SHUTDOWN_MS + 400);
        gate_set_abort(NULL);
        wait_unstuck(&key);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_in_time, setup),
                cmocka_unit_test_setup(test_past_deadline, setup),
                cmocka_unit_test_setup(test_shutdown_shortens, setup),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
