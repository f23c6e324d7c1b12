/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "trigger/pod.h"

struct pod *pod_new(virConnectPtr vc, int ns_fd, const char *label) {
        struct pod *p = calloc(1, sizeof(*p));

        if (!p)
                return NULL;
        p->refs = 1;
        p->alive = true;
        p->vc = vc;
        p->ns_fd = ns_fd;
        snprintf(p->label, sizeof(p->label), "%s", label);
        return p;
}

struct pod *pod_ref(struct pod *p) {
        p->refs++;
        return p;
}

void pod_unref(struct pod *p) {
        if (!p || --p->refs > 0)
                return;
        if (p->vc)
                virConnectClose(p->vc);
        if (p->ns_fd >= 0)
                close(p->ns_fd);
        free(p);
}
