/* SPDX-License-Identifier: MIT */
/* CNI_ARGS ("K=V;K=V") and the VM identity derived from the pod it names. */
#include "netconf/conf.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct cni_args a;
        char err[256], vm[512];
        char *s;

        if (size > 64 * 1024)
                return 0;
        s = fuzz_cstr(data, size);
        if (!s)
                return 0;
        if (cni_args_parse(s, &a, err, sizeof(err)) == 0)
                vm_from_pod(a.pod_namespace, a.pod_name, vm, sizeof(vm));
        free(s);
        return 0;
}
