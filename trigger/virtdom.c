/* SPDX-License-Identifier: MIT */
/* The domain seam: the libvirt implementation of struct virtdom_ops, and what is built on it
 * (live NICs, relink metadata get/put). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include "common/log.h"
#include "common/util.h"
#include "trigger/callgate.h"
#include "trigger/metrics.h"
#include "trigger/virtdom.h"

static virDomainPtr lv_ref(virDomainPtr dom) {
        virDomainRef(dom);
        return dom;
}

static void lv_unref(virDomainPtr dom) {
        if (dom)
                virDomainFree(dom);
}

static int lv_uuid(virDomainPtr dom, char ret[VIR_UUID_STRING_BUFLEN]) {
        return virDomainGetUUIDString(dom, ret) < 0 ? -EIO : 0;
}

static const char *lv_name(virDomainPtr dom) {
        const char *n = virDomainGetName(dom);

        return n ? n : "?";
}

/* ---- libvirt RPCs: through the call gate (trigger/callgate.h), never longer than its deadline ---- */

enum lv_op { LV_XML, LV_STATE, LV_META_GET, LV_META_SET, LV_UPDATE, LV_DETACH_ALIAS, LV_DETACH_XML, LV_ATTACH, LV_LIST };

struct lvcall {
        enum lv_op op;
        virDomainPtr dom;            /* a reference of the call's own (NULL for LV_LIST) */
        virConnectPtr vc;            /* LV_LIST: a reference of the call's own */
        char *s1, *s2, *s3;          /* copies of the inputs */
        bool config;
        int r;                       /* the libvirt return */
        char *out;                   /* XML results */
        int state, reason;
        virDomainPtr *doms;          /* LV_LIST */
        int err_code;                /* virErrorNumber of a failure */
        char err[512];
};

/* The last error of a gated call, on the caller's thread (libvirt keeps errors per thread, and the
 * call ran on another). */
static _Thread_local char gated_err[512];
static _Thread_local bool gated_err_set;

static void lv_run(void *arg) {
        struct lvcall *c = arg;
        unsigned flags = VIR_DOMAIN_AFFECT_LIVE;

        switch (c->op) {
        case LV_XML:
                c->out = virDomainGetXMLDesc(c->dom, 0);
                c->r = c->out ? 0 : -1;
                break;
        case LV_STATE:
                c->r = virDomainGetState(c->dom, &c->state, &c->reason, 0);
                break;
        case LV_META_GET:
                c->out = virDomainGetMetadata(c->dom, VIR_DOMAIN_METADATA_ELEMENT, c->s1, VIR_DOMAIN_AFFECT_LIVE);
                c->r = c->out ? 0 : -1;
                break;
        case LV_META_SET:
                if (c->config && virDomainIsPersistent(c->dom) == 1)
                        flags |= VIR_DOMAIN_AFFECT_CONFIG;
                c->r = virDomainSetMetadata(c->dom, VIR_DOMAIN_METADATA_ELEMENT, c->s3, c->s1, c->s2, flags);
                break;
        case LV_UPDATE:
                c->r = virDomainUpdateDeviceFlags(c->dom, c->s1, VIR_DOMAIN_AFFECT_LIVE);
                break;
        case LV_DETACH_ALIAS:
                /* DetachDeviceAlias only asks for the unplug and returns; DetachDeviceFlags would
                 * block inside libvirtd's own wait for the guest (up to 5 s). */
                c->r = virDomainDetachDeviceAlias(c->dom, c->s1, VIR_DOMAIN_AFFECT_LIVE);
                break;
        case LV_DETACH_XML:
                c->r = virDomainDetachDeviceFlags(c->dom, c->s1, VIR_DOMAIN_AFFECT_LIVE);
                break;
        case LV_ATTACH:
                c->r = virDomainAttachDeviceFlags(c->dom, c->s1, VIR_DOMAIN_AFFECT_LIVE);
                break;
        case LV_LIST:
                c->r = virConnectListAllDomains(c->vc, &c->doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
                break;
        }
        if (c->r < 0) {
                virErrorPtr e = virGetLastError();

                c->err_code = e ? e->code : 0;
                snprintf(c->err, sizeof(c->err), "%s", e && e->message ? e->message : "unknown libvirt error");
                virResetLastError();
        }
}

static void lv_free(void *arg) {
        struct lvcall *c = arg;

        if (!c)
                return;
        free(c->s1);
        free(c->s2);
        free(c->s3);
        free(c->out);
        if (c->doms) {
                for (int i = 0; i < c->r; i++)
                        virDomainFree(c->doms[i]);
                free(c->doms);
        }
        if (c->dom)
                virDomainFree(c->dom);
        if (c->vc)
                virConnectClose(c->vc);
        free(c);
}

static void gated_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void gated_error(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(gated_err, sizeof(gated_err), fmt, ap);
        va_end(ap);
        gated_err_set = true;
}

/* Run c through the gate. 0 with c's results (c->r < 0: libvirt failed, the error is recorded for
 * last_error()), or -EIO when the call was not made or abandoned (c is gone then). */
#define SLOW_CALL_MS 1000            /* calls taking longer are logged (what the deadline must cover) */

static int64_t mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int lv_gated(struct lvcall *c, const char *what) {
        virConnectPtr key = c->vc ? c->vc : virDomainGetConnect(c->dom);
        int r;

        int64_t t0 = mono_ms();

        gated_err_set = false;
        r = gate_call(key, lv_run, c, lv_free);
        if (mono_ms() - t0 >= SLOW_CALL_MS)
                log_info("libvirt call %s took %lld ms (deadline %u ms)%s", what, (long long) (mono_ms() - t0),
                         gate_deadline(), r == -ETIMEDOUT ? ": abandoned" : "");
        if (r == 0) {
                if (c->r < 0)
                        gated_error("%s", c->err);
                return 0;
        }
        relinkd_metrics.libvirt_calls_unanswered++;
        if (r == -ETIMEDOUT)
                gated_error("%s: the launcher's daemon did not answer within %u ms (call abandoned, connection "
                            "considered lost)", what, gate_deadline());
        else if (r == -EBUSY) {
                gated_error("%s: not sent, an earlier call to this launcher's daemon is still unanswered", what);
                lv_free(c);
        } else {
                gated_error("%s: cannot start the call: %s", what, strerror(-r));
                lv_free(c);
        }
        return -EIO;
}

static struct lvcall *lv_new(enum lv_op op, virDomainPtr dom, const char *s1, const char *s2, const char *s3) {
        struct lvcall *c = calloc(1, sizeof(*c));

        if (!c)
                return NULL;
        c->op = op;
        if (dom) {
                virDomainRef(dom);
                c->dom = dom;
        }
        if ((s1 && !(c->s1 = strdup(s1))) || (s2 && !(c->s2 = strdup(s2))) || (s3 && !(c->s3 = strdup(s3)))) {
                lv_free(c);
                return NULL;
        }
        return c;
}

/* Make c's call through the gate. 0: libvirt succeeded, c is the caller's (take the results, then
 * lv_free). Otherwise c is gone: -ENOMEM (c was NULL), or -EIO (not answered, or libvirt failed:
 * last_error() says which; *err_code, when asked for, is libvirt's virErrorNumber or 0). */
static int lv_call(struct lvcall *c, const char *what, int *err_code) {
        int r;

        if (err_code)
                *err_code = 0;
        if (!c)
                return -ENOMEM;
        r = lv_gated(c, what);
        if (r < 0)
                return r;
        if (c->r < 0) {
                if (err_code)
                        *err_code = c->err_code;
                lv_free(c);
                return -EIO;
        }
        return 0;
}

/* An op returning only success or failure. */
static int lv_simple(enum lv_op op, virDomainPtr dom, const char *s1, const char *what) {
        struct lvcall *c = lv_new(op, dom, s1, NULL, NULL);
        int r = lv_call(c, what, NULL);

        if (r == 0)
                lv_free(c);
        return r;
}

static bool lv_conn_alive(virDomainPtr dom) {
        virConnectPtr vc = virDomainGetConnect(dom);

        /* virConnectIsAlive is local (no RPC). A connection with an abandoned call counts as lost. */
        return vc && virConnectIsAlive(vc) == 1 && !gate_stuck(vc);
}

static int lv_xml(virDomainPtr dom, char **ret) {
        struct lvcall *c = lv_new(LV_XML, dom, NULL, NULL, NULL);
        int r = lv_call(c, "virDomainGetXMLDesc", NULL);

        if (r < 0)
                return r;
        *ret = TAKE_PTR(c->out);
        lv_free(c);
        return 0;
}

static int lv_state(virDomainPtr dom, int *ret_state, int *ret_reason) {
        struct lvcall *c = lv_new(LV_STATE, dom, NULL, NULL, NULL);
        int r = lv_call(c, "virDomainGetState", NULL);

        if (r < 0)
                return r;
        *ret_state = c->state;
        *ret_reason = c->reason;
        lv_free(c);
        return 0;
}

static int lv_metadata_get(virDomainPtr dom, const char *uri, char **ret_xml) {
        struct lvcall *c = lv_new(LV_META_GET, dom, uri, NULL, NULL);
        int code, r = lv_call(c, "virDomainGetMetadata", &code);

        if (r < 0)
                return r == -EIO && code == VIR_ERR_NO_DOMAIN_METADATA ? -ENOENT : r;
        *ret_xml = TAKE_PTR(c->out);
        lv_free(c);
        return 0;
}

static int lv_metadata_set(virDomainPtr dom, const char *key, const char *uri, const char *xml, bool config) {
        struct lvcall *c = lv_new(LV_META_SET, dom, key, uri, xml);

        int r;

        if (c)
                c->config = config;
        r = lv_call(c, "virDomainSetMetadata", NULL);
        if (r == 0)
                lv_free(c);
        return r;
}

static int lv_update_device(virDomainPtr dom, const char *iface_xml) {
        return lv_simple(LV_UPDATE, dom, iface_xml, "virDomainUpdateDeviceFlags");
}

static int lv_detach(virDomainPtr dom, const char *alias, const char *iface_xml) {
        if (alias && *alias)
                return lv_simple(LV_DETACH_ALIAS, dom, alias, "virDomainDetachDeviceAlias");
        return lv_simple(LV_DETACH_XML, dom, iface_xml, "virDomainDetachDeviceFlags");
}

static int lv_attach(virDomainPtr dom, const char *iface_xml) {
        return lv_simple(LV_ATTACH, dom, iface_xml, "virDomainAttachDeviceFlags");
}

int virtdom_list_active(virConnectPtr vc, virDomainPtr **ret, size_t *ret_n) {
        struct lvcall *c = lv_new(LV_LIST, NULL, NULL, NULL, NULL);
        int r;

        if (c) {
                virConnectRef(vc);
                c->vc = vc;
        }
        r = lv_call(c, "virConnectListAllDomains", NULL);
        if (r < 0)
                return r;
        *ret_n = (size_t) c->r;
        *ret = TAKE_PTR(c->doms);
        lv_free(c);
        return 0;
}

static void lv_port_close(int fd) {
        if (fd >= 0)
                close(fd);
}

static const char *lv_last_error(void) {
        const char *m;

        if (gated_err_set)
                return gated_err;
        m = virGetLastErrorMessage();

        return m ? m : "unknown libvirt error";
}

static const struct virtdom_ops libvirt_ops = {
        .ref = lv_ref,
        .unref = lv_unref,
        .uuid = lv_uuid,
        .name = lv_name,
        .conn_alive = lv_conn_alive,
        .xml = lv_xml,
        .state = lv_state,
        .metadata_get = lv_metadata_get,
        .metadata_set = lv_metadata_set,
        .update_device = lv_update_device,
        .detach = lv_detach,
        .attach = lv_attach,
        .port_open = dhcpwatch_open,
        .port_open_client = dhcpwatch_open_client,
        .port_read = dhcpwatch_read,
        .port_close = lv_port_close,
        .last_error = lv_last_error,
};

const struct virtdom_ops *virtdom = &libvirt_ops;

void virtdom_set_ops(const struct virtdom_ops *ops) {
        virtdom = ops ? ops : &libvirt_ops;
}

int virtdom_nics(virDomainPtr dom, struct dom_nic **ret, size_t *ret_n) {
        _cleanup_free_ char *xml = NULL;
        int r = virtdom->xml(dom, &xml);

        if (r < 0)
                return r;
        return domxml_nics(xml, ret, ret_n);
}

int virtdom_nic_find(const struct dom_nic *nics, size_t n, const char *pci, const char *alias) {
        for (size_t i = 0; i < n; i++) {
                if (pci && *pci) {
                        if (streq(nics[i].pci, pci))
                                return (int) i;
                } else if (alias && *alias && streq(nics[i].alias, alias))
                        return (int) i;
        }
        return -ENOENT;
}

int virtdom_metadata_get(virDomainPtr dom, const char *uri, char **ret_xml) {
        return virtdom->metadata_get(dom, uri, ret_xml);
}

int virtdom_meta_get(virDomainPtr dom, struct meta_nic **ret, size_t *ret_n) {
        _cleanup_free_ char *xml = NULL;
        int r = virtdom_metadata_get(dom, RELINK_META_URI, &xml);

        if (r < 0)
                return r;
        return metadata_decode(xml, ret, ret_n);
}

int virtdom_meta_put(virDomainPtr dom, const struct meta_nic *nics, size_t n) {
        _cleanup_free_ char *xml = NULL;
        int r;

        r = metadata_encode(nics, n, &xml);
        if (r < 0)
                return r;
        return virtdom->metadata_set(dom, RELINK_META_KEY, RELINK_META_URI, xml, true);
}

int virtdom_meta_put_nic(virDomainPtr dom, const char *pci, const struct nic_identity *id) {
        _cleanup_free_ struct meta_nic *nics = NULL;
        size_t n = 0;
        int r;

        r = virtdom_meta_get(dom, &nics, &n);
        if (r < 0 && r != -ENOENT)
                return r;
        for (size_t i = 0; i < n; i++)
                if (streq(nics[i].pci, pci)) {
                        nics[i].id = *id;
                        return virtdom_meta_put(dom, nics, n);
                }
        struct meta_nic *m = metadata_append(&nics, &n);
        if (!m)
                return -ENOMEM;
        r = strcpy_bounded(m->pci, sizeof(m->pci), pci);
        if (r < 0)
                return r;
        m->id = *id;
        return virtdom_meta_put(dom, nics, n);
}

int virtdom_state(virDomainPtr dom, int *ret_state, int *ret_reason) {
        return virtdom->state(dom, ret_state, ret_reason);
}
