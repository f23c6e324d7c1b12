/* SPDX-License-Identifier: MIT */
/* trigger/policy.c: the narrowest of (network, VM), where it came from, what it lets the ladder do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "common/util.h"
#include "trigger/action.h"
#include "trigger/policy.h"

#define A POLICY_ANY
#define F POLICY_FLAP
#define R POLICY_REPLUG
#define N POLICY_NONE

static const struct narrow_case {
        enum relink_policy network, vm, want;
        enum policy_src src;
} narrow_cases[] = {
        { A, A, A, POLICY_SRC_DEFAULT },
        { F, A, F, POLICY_SRC_NETWORK },
        { A, F, F, POLICY_SRC_VM },
        { R, A, R, POLICY_SRC_NETWORK },
        { A, R, R, POLICY_SRC_VM },
        { N, A, N, POLICY_SRC_NETWORK },
        { A, N, N, POLICY_SRC_VM },
        { F, F, F, POLICY_SRC_NETWORK },     /* both say the same: the network's word */
        { R, R, R, POLICY_SRC_NETWORK },
        { N, N, N, POLICY_SRC_NETWORK },
        { F, R, N, POLICY_SRC_BOTH },        /* flap only ∩ re-plug only: nothing */
        { R, F, N, POLICY_SRC_BOTH },
        { F, N, N, POLICY_SRC_VM },
        { N, F, N, POLICY_SRC_NETWORK },
        { R, N, N, POLICY_SRC_VM },
        { N, R, N, POLICY_SRC_NETWORK },
};

static void test_narrowest(void **state) {
        for (size_t i = 0; i < ARRAY_SIZE(narrow_cases); i++) {
                const struct narrow_case *t = &narrow_cases[i];
                struct policy_rule r;

                policy_resolve(&(struct attach_policy) { .network = t->network, .vm = t->vm }, false, &r);
                if (r.policy != t->want || r.src != t->src)
                        fail_msg("case %zu (%s, %s): got %s(%s), want %s(%s)", i, policy_to_string(t->network),
                                 policy_to_string(t->vm), policy_to_string(r.policy), policy_src_to_string(r.src),
                                 policy_to_string(t->want), policy_src_to_string(t->src));
                assert_int_equal(r.observe, OBSERVE_OFF);
                /* symmetric in what it allows */
                assert_int_equal(policy_narrowest(t->network, t->vm), policy_narrowest(t->vm, t->network));
        }
}

static void test_observe(void **state) {
        struct policy_rule r;

        policy_resolve(&(struct attach_policy) { 0 }, true, &r);
        assert_int_equal(r.observe, OBSERVE_DAEMON);
        policy_resolve(&(struct attach_policy) { .network_observe = true, .vm_observe = true }, true, &r);
        assert_int_equal(r.observe, OBSERVE_DAEMON);
        policy_resolve(&(struct attach_policy) { .network_observe = true, .vm_observe = true }, false, &r);
        assert_int_equal(r.observe, OBSERVE_NETWORK);
        policy_resolve(&(struct attach_policy) { .vm = F, .vm_observe = true }, false, &r);
        assert_int_equal(r.observe, OBSERVE_VM);
        assert_int_equal(r.policy, F);      /* observe does not change the policy: it is what is logged */
        assert_string_equal(observe_src_to_string(OBSERVE_VM), "vm");
        assert_string_equal(policy_src_to_string(POLICY_SRC_BOTH), "network+vm");
}

static void test_out_of_range_is_none(void **state) {
        struct policy_rule r;

        /* a record from a newer relink with a policy this one does not know: act on nothing */
        policy_resolve(&(struct attach_policy) { .network = _POLICY_MAX, .vm = A }, false, &r);
        assert_int_equal(r.policy, N);
}

static const struct permit_case {
        enum relink_policy p;
        enum action kind;
        bool permitted;
        unsigned allow;
} permit_cases[] = {
        { A, ACTION_FLAP, true, ACTION_ALLOW_FLAP | ACTION_ALLOW_REPLUG },
        { A, ACTION_REATTACH, true, ACTION_ALLOW_FLAP | ACTION_ALLOW_REPLUG },
        { F, ACTION_FLAP, true, ACTION_ALLOW_FLAP },
        { F, ACTION_REATTACH, false, ACTION_ALLOW_FLAP },     /* a flap cannot change the MAC */
        { R, ACTION_FLAP, true, ACTION_ALLOW_REPLUG },        /* the same-MAC re-plug */
        { R, ACTION_REATTACH, true, ACTION_ALLOW_REPLUG },
        { N, ACTION_FLAP, false, 0 },
        { N, ACTION_REATTACH, false, 0 },
        { N, ACTION_NONE, true, 0 },
};

static void test_permits(void **state) {
        for (size_t i = 0; i < ARRAY_SIZE(permit_cases); i++) {
                const struct permit_case *t = &permit_cases[i];

                if (policy_permits(t->p, t->kind) != t->permitted)
                        fail_msg("case %zu: %s %s permitted=%d", i, policy_to_string(t->p), action_to_string(t->kind),
                                 !t->permitted);
                assert_int_equal(policy_allow(t->p), t->allow);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_narrowest),
                cmocka_unit_test(test_observe),
                cmocka_unit_test(test_out_of_range_is_none),
                cmocka_unit_test(test_permits),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
