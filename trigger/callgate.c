/* SPDX-License-Identifier: MIT */
/* Blocking calls with a deadline (see callgate.h). One detached thread per call: calls are few (a
 * handful per NIC and migration) and a thread per call needs no pool that a stuck launcher could
 * exhaust; a stuck key holds at most one thread, since its later calls are refused. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "common/thread.h"
#include "common/util.h"
#include "trigger/callgate.h"

enum call_state { CALL_RUNNING, CALL_DONE, CALL_ABANDONED };

struct call {
        gate_fn fn, free_fn;
        void *arg;
        const void *key;
        enum call_state state;       /* under lock */
        pthread_cond_t done;         /* CLOCK_MONOTONIC */
};

struct stuck {
        const void *key;
        struct stuck *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct stuck *stuck_keys;     /* under lock */
static unsigned n_abandoned;         /* under lock */
static unsigned deadline_ms = 5000;
static volatile sig_atomic_t *abort_flag;
static void (*stuck_handler)(const void *key, unsigned waited_ms);

void gate_set_deadline(unsigned ms) {
        deadline_ms = ms ? ms : 1;
}

unsigned gate_deadline(void) {
        return deadline_ms;
}

void gate_set_abort(volatile sig_atomic_t *flag) {
        abort_flag = flag;
}

void gate_set_stuck_handler(void (*fn)(const void *key, unsigned waited_ms)) {
        stuck_handler = fn;
}

static bool stuck_locked(const void *key) {
        for (struct stuck *s = stuck_keys; s; s = s->next)
                if (s->key == key)
                        return true;
        return false;
}

bool gate_stuck(const void *key) {
        bool r;

        pthread_mutex_lock(&lock);
        r = stuck_locked(key);
        pthread_mutex_unlock(&lock);
        return r;
}

unsigned gate_abandoned(void) {
        unsigned n;

        pthread_mutex_lock(&lock);
        n = n_abandoned;
        pthread_mutex_unlock(&lock);
        return n;
}

static void call_free(struct call *c) {
        pthread_cond_destroy(&c->done);
        free(c);
}

static void *worker(void *opaque) {
        struct call *c = opaque;

        c->fn(c->arg);
        pthread_mutex_lock(&lock);
        if (c->state == CALL_ABANDONED) {
                /* The caller gave up: the key is usable again once this returns. Unstick before
                 * free_fn, which may drop the last reference that keeps the key's object alive. */
                for (struct stuck **s = &stuck_keys; *s; s = &(*s)->next)
                        if ((*s)->key == c->key) {
                                struct stuck *dead = *s;

                                *s = dead->next;
                                free(dead);
                                break;
                        }
                n_abandoned--;
                pthread_mutex_unlock(&lock);
                c->free_fn(c->arg);
                call_free(c);
                return NULL;
        }
        c->state = CALL_DONE;
        pthread_cond_signal(&c->done);
        pthread_mutex_unlock(&lock);
        return NULL;
}

static int64_t mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int gate_call(const void *key, gate_fn fn, void *arg, gate_fn free_fn) {
        pthread_condattr_t ca;
        struct call *c;
        int64_t t0 = mono_ms(), end = t0 + deadline_ms;
        bool shortened = false;
        int r;

        if (gate_stuck(key))
                return -EBUSY;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (struct call) { .fn = fn, .free_fn = free_fn, .arg = arg, .key = key, .state = CALL_RUNNING };
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        r = pthread_cond_init(&c->done, &ca);
        pthread_condattr_destroy(&ca);
        if (r != 0) {
                free(c);
                return -r;
        }
        r = thread_detached(worker, c);
        if (r < 0) {
                call_free(c);
                return r;
        }

        pthread_mutex_lock(&lock);
        while (c->state == CALL_RUNNING) {
                int64_t now = mono_ms(), until;
                struct timespec ts;

                if (!shortened && abort_flag && *abort_flag) {
                        /* Shutting down: what is left of the deadline, but no more than this. */
                        if (end > now + GATE_SHUTDOWN_MS)
                                end = now + GATE_SHUTDOWN_MS;
                        shortened = true;
                }
                if (now >= end)
                        break;
                /* Wake every 100 ms to notice a shutdown signal. */
                until = now + 100 < end ? now + 100 : end;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                ts.tv_sec += (until - now) / 1000;
                ts.tv_nsec += (long) ((until - now) % 1000) * 1000000L;
                if (ts.tv_nsec >= 1000000000L) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&c->done, &lock, &ts);
        }
        if (c->state == CALL_DONE) {
                pthread_mutex_unlock(&lock);
                call_free(c);
                return 0;
        }
        /* Abandon it to the worker, which frees arg when the call returns. */
        c->state = CALL_ABANDONED;
        n_abandoned++;
        if (!stuck_locked(key)) {
                struct stuck *s = malloc(sizeof(*s));

                if (s) {
                        *s = (struct stuck) { key, stuck_keys };
                        stuck_keys = s;
                }
        }
        pthread_mutex_unlock(&lock);
        if (stuck_handler)
                stuck_handler(key, (unsigned) (mono_ms() - t0));
        return -ETIMEDOUT;
}
