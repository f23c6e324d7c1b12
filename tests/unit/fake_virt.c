/* SPDX-License-Identifier: MIT */
/* Fake loop + fake domain for unit tests (see fake_virt.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "tests/unit/fake_virt.h"
#include "trigger/action.h"
#include "trigger/domxml.h"
#include "trigger/loop.h"
#include "trigger/virtdom.h"

/* ---- loop ---- */

#define MAX_TIMERS 256
#define MAX_PORTS 8
#define PORT_FD_BASE 1000
#define PORT_QUEUE 256

struct ftimer {
        int id;
        int64_t due_us;
        timer_fn fn;
        void *opaque;
        bool owned;                  /* the fake's own job: opaque is freed if it never fires */
};

static struct ftimer timers[MAX_TIMERS];
static int next_id = 1;
static int64_t clock_us;

struct fport {
        bool open;
        bool client_only;            /* port_open_client: the guest's own frames only */
        int err;                     /* the next read fails with this (the tap went away) */
        char tap[16];
        int watch;
        fd_fn fn;
        void *opaque;
        struct dhcp_seen q[PORT_QUEUE];
        unsigned head, tail;
};
static struct fport ports[MAX_PORTS];
static char gone_taps[MAX_PORTS][16];  /* opening these fails with -ENODEV */
static unsigned port_opens;

static int f_timer_add(unsigned ms, timer_fn fn, void *opaque) {
        for (size_t i = 0; i < MAX_TIMERS; i++)
                if (!timers[i].id) {
                        timers[i] = (struct ftimer) { next_id++, clock_us + (int64_t) ms * 1000, fn, opaque, false };
                        return timers[i].id;
                }
        return -ENOSPC;
}

static int owned_timer_add(unsigned ms, timer_fn fn, void *opaque) {
        int id = f_timer_add(ms, fn, opaque);

        for (size_t i = 0; id > 0 && i < MAX_TIMERS; i++)
                if (timers[i].id == id)
                        timers[i].owned = true;
        return id;
}

static void f_timer_remove(int id) {
        for (size_t i = 0; i < MAX_TIMERS; i++)
                if (timers[i].id == id)
                        timers[i].id = 0;
}

static int f_fd_add(int fd, fd_fn fn, void *opaque) {
        int k = fd - PORT_FD_BASE;

        if (k < 0 || k >= MAX_PORTS || !ports[k].open)
                return -EBADF;
        ports[k].watch = next_id++;
        ports[k].fn = fn;
        ports[k].opaque = opaque;
        return ports[k].watch;
}

static void f_fd_remove(int id) {
        for (size_t k = 0; k < MAX_PORTS; k++)
                if (ports[k].watch == id)
                        ports[k].watch = 0;
}

static int64_t f_now_us(void) {
        return clock_us;
}

static const struct loop_ops fake_loop = {
        .timer_add = f_timer_add,
        .timer_remove = f_timer_remove,
        .fd_add = f_fd_add,
        .fd_remove = f_fd_remove,
        .now_us = f_now_us,
};

int64_t fake_now_ms(void) {
        return clock_us / 1000;
}

unsigned fake_timers_pending(void) {
        unsigned n = 0;

        for (size_t i = 0; i < MAX_TIMERS; i++)
                n += timers[i].id != 0;
        return n;
}

void fake_run(unsigned ms) {
        int64_t end = clock_us + (int64_t) ms * 1000;

        for (;;) {
                struct ftimer *t = NULL, fire;

                /* earliest due, ties in the order they were added (ids grow) */
                for (size_t i = 0; i < MAX_TIMERS; i++)
                        if (timers[i].id && timers[i].due_us <= end &&
                            (!t || timers[i].due_us < t->due_us || (timers[i].due_us == t->due_us && timers[i].id < t->id)))
                                t = &timers[i];
                if (!t)
                        break;
                fire = *t;
                t->id = 0;
                if (fire.due_us > clock_us)
                        clock_us = fire.due_us;
                fire.fn(fire.opaque);
        }
        clock_us = end;
}

/* ---- domain ---- */

static struct fake_dom *D(virDomainPtr dom) {
        return (struct fake_dom *) (void *) dom;
}

static char last_err[256];

static int fail(const char *msg) {
        snprintf(last_err, sizeof(last_err), "%s", msg);
        return -EIO;
}

static bool dead(struct fake_dom *d) {
        return d->conn_dead && fail("internal error: client socket is closed");
}

static virDomainPtr f_ref(virDomainPtr dom) {
        D(dom)->refs++;
        return dom;
}

static void f_unref(virDomainPtr dom) {
        if (dom)
                D(dom)->refs--;
}

static int f_uuid(virDomainPtr dom, char ret[VIR_UUID_STRING_BUFLEN]) {
        memcpy(ret, D(dom)->uuid, VIR_UUID_STRING_BUFLEN);
        return 0;
}

static const char *f_name(virDomainPtr dom) {
        return D(dom)->name;
}

static bool f_conn_alive(virDomainPtr dom) {
        return !D(dom)->conn_dead;
}

static int pci_parts(const char *pci, unsigned *bus, unsigned *slot, unsigned *fn) {
        unsigned dom;

        return sscanf(pci, "%x:%x:%x.%x", &dom, bus, slot, fn) == 4 ? 0 : -EINVAL;
}

static int f_xml(virDomainPtr dom, char **ret) {
        struct fake_dom *d = D(dom);
        char *buf = NULL;
        size_t len = 0;
        FILE *f;

        if (dead(d))
                return -EIO;
        d->xml_reads++;
        if (d->fail_xml) {
                d->fail_xml--;
                return fail("fake: cannot get the XML");
        }
        f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        fprintf(f, "<domain type='qemu'><name>%s</name><uuid>%s</uuid><devices>", d->name, d->uuid);
        for (size_t i = 0; i < d->n_nics; i++) {
                const struct fake_nic *n = &d->nics[i];
                unsigned bus, slot, fn;

                if (pci_parts(n->pci, &bus, &slot, &fn) < 0)
                        continue;
                fprintf(f, "<interface type='ethernet'><mac address='%s'/>", n->mac);
                if (*n->tap)
                        fprintf(f, "<target dev='%s' managed='no'/>", n->tap);
                fprintf(f, "<model type='virtio'/>%s<alias name='%s'/>"
                           "<address type='pci' domain='0x0000' bus='0x%02x' slot='0x%02x' function='0x%x'/></interface>",
                        n->link_up ? "" : "<link state='down'/>", n->alias, bus, slot, fn);
        }
        fprintf(f, "</devices></domain>");
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

static int f_state(virDomainPtr dom, int *ret_state, int *ret_reason) {
        *ret_state = VIR_DOMAIN_RUNNING;
        *ret_reason = VIR_DOMAIN_RUNNING_MIGRATED;
        return 0;
}

static int meta_slot(struct fake_dom *d, const char *uri, bool create) {
        for (int i = 0; i < 4; i++)
                if (d->meta_uri[i] && streq(d->meta_uri[i], uri))
                        return i;
        if (!create)
                return -ENOENT;
        for (int i = 0; i < 4; i++)
                if (!d->meta_uri[i]) {
                        d->meta_uri[i] = strdup(uri);
                        return i;
                }
        return -ENOSPC;
}

static int f_metadata_get(virDomainPtr dom, const char *uri, char **ret_xml) {
        struct fake_dom *d = D(dom);
        int i;

        if (dead(d))
                return -EIO;
        i = meta_slot(d, uri, false);
        if (i < 0 || !d->meta_xml[i])
                return -ENOENT;
        *ret_xml = strdup(d->meta_xml[i]);
        return *ret_xml ? 0 : -ENOMEM;
}

static int f_metadata_set(virDomainPtr dom, const char *key, const char *uri, const char *xml, bool config) {
        struct fake_dom *d = D(dom);
        int i;

        if (dead(d))
                return -EIO;
        if (d->fail_meta_set) {
                d->fail_meta_set--;
                return fail("fake: metadata refused");
        }
        i = meta_slot(d, uri, true);
        if (i < 0)
                return i;
        d->meta_sets++;
        free(d->meta_xml[i]);
        d->meta_xml[i] = xml ? strdup(xml) : NULL;
        return 0;
}

static bool port_hold;

void fake_port_hold(bool hold) {
        port_hold = hold;
}

void fake_port_ready(const char *tap) {
        for (size_t k = 0; k < MAX_PORTS; k++)
                if (ports[k].open && streq(ports[k].tap, tap) && ports[k].watch)
                        ports[k].fn(PORT_FD_BASE + (int) k, ports[k].opaque);
}

static void port_push(const char *tap, const struct dhcp_seen *s) {
        for (size_t k = 0; k < MAX_PORTS; k++) {
                struct fport *p = &ports[k];

                if (!p->open || !streq(p->tap, tap) || p->tail - p->head >= PORT_QUEUE ||
                    (p->client_only && s->to_guest))
                        continue;
                p->q[p->tail++ % PORT_QUEUE] = *s;
                if (p->watch && !port_hold)
                        p->fn(PORT_FD_BASE + (int) k, p->opaque);
        }
}

void fake_port_push(const char *tap, const struct dhcp_seen *s) {
        port_push(tap, s);
}

void fake_port_frame(const char *tap, uint8_t msgtype, const char *mac, const char *yiaddr, bool to_guest) {
        struct dhcp_seen s = { .msgtype = msgtype, .to_guest = to_guest };

        snprintf(s.chaddr, sizeof(s.chaddr), "%s", mac);
        snprintf(s.yiaddr, sizeof(s.yiaddr), "%s", yiaddr ? yiaddr : "");
        port_push(tap, &s);
}

/* The guest's DHCP (and the server's answer), scheduled on the fake loop. */
struct dhcp_job {
        struct fake_dom *d;
        char pci[16];
};

static void guest_dhcp(void *opaque) {
        struct dhcp_job *j = opaque;
        struct fake_nic *n = fake_dom_nic(j->d, j->pci);

        if (n && *n->tap && n->link_up) {
                fake_port_frame(n->tap, DHCP_DISCOVER, n->mac, NULL, false);
                for (size_t i = 0; i < 2; i++)
                        if (*j->d->served_mac[i] && streq(j->d->served_mac[i], n->mac)) {
                                fake_port_frame(n->tap, DHCP_OFFER, n->mac, j->d->served_ip, true);
                                fake_port_frame(n->tap, DHCP_REQUEST, n->mac, NULL, false);
                                fake_port_frame(n->tap, DHCP_ACK, n->mac, j->d->served_ip, true);
                        }
        }
        free(j);
}

static void schedule_dhcp(struct fake_dom *d, const char *pci) {
        struct dhcp_job *j;

        if (d->dhcp_ms < 0 || !(j = calloc(1, sizeof(*j))))
                return;
        j->d = d;
        snprintf(j->pci, sizeof(j->pci), "%s", pci);
        if (owned_timer_add((unsigned) d->dhcp_ms, guest_dhcp, j) < 0)
                free(j);
}

static int f_update_device(virDomainPtr dom, const char *iface_xml) {
        _cleanup_free_ char *wrapped = NULL;
        struct fake_dom *d = D(dom);
        struct dom_nic *n = NULL;
        struct fake_nic *fn;
        size_t nn = 0;

        if (dead(d))
                return -EIO;
        d->update_calls++;
        if (d->fail_update) {
                d->fail_update--;
                return fail("fake: update refused");
        }
        if (asprintf(&wrapped, "<domain><devices>%s</devices></domain>", iface_xml) < 0 ||
            domxml_nics(wrapped, &n, &nn) < 0 || nn != 1) {
                dom_nics_free(n, nn);
                return fail("fake: bad element");
        }
        fn = fake_dom_nic(d, n[0].pci);
        if (!fn || !streq(fn->mac, n[0].mac)) {
                dom_nics_free(n, nn);
                return fail("fake: no such device");
        }
        if (fn->link_up != n[0].link_up) {
                size_t l = strlen(d->links);
                if (l + 1 < sizeof(d->links))
                        d->links[l] = n[0].link_up ? 'u' : 'd';
                if (n[0].link_up && d->dhcp_on_flap)
                        schedule_dhcp(d, fn->pci);
        }
        fn->link_up = n[0].link_up;
        dom_nics_free(n, nn);
        return 0;
}

static void remove_nic(struct fake_dom *d, struct fake_nic *n) {
        size_t i = (size_t) (n - d->nics);

        memmove(&d->nics[i], &d->nics[i + 1], (d->n_nics - i - 1) * sizeof(*n));
        d->n_nics--;
}

void fake_guest_release(struct fake_dom *d, const char *pci, bool announce) {
        struct fake_nic *n = fake_dom_nic(d, pci);
        char alias[16];

        if (!n)
                return;
        snprintf(alias, sizeof(alias), "%s", n->alias);
        remove_nic(d, n);
        d->releases++;
        if (announce)
                action_device_removed(d->pod, fake_domptr(d), alias);
}

struct release_job {
        struct fake_dom *d;
        char pci[16], alias[16];
};

static void release_later(void *opaque) {
        struct release_job *j = opaque;
        struct fake_nic *n = fake_dom_nic(j->d, j->pci);

        /* the very device asked for (not one plugged since) */
        if (n && streq(n->alias, j->alias))
                fake_guest_release(j->d, j->pci, j->d->announce);
        free(j);
}

static void schedule_release(struct fake_dom *d, const struct fake_nic *n, unsigned ms) {
        struct release_job *j = calloc(1, sizeof(*j));

        if (!j)
                return;
        j->d = d;
        snprintf(j->pci, sizeof(j->pci), "%s", n->pci);
        snprintf(j->alias, sizeof(j->alias), "%s", n->alias);
        if (owned_timer_add(ms, release_later, j) < 0)
                free(j);
}

static int f_detach(virDomainPtr dom, const char *alias, const char *iface_xml) {
        struct fake_dom *d = D(dom);
        struct fake_nic *n = NULL;

        if (dead(d))
                return -EIO;
        if (d->fail_detach) {
                d->fail_detach--;
                return fail("fake: detach refused");
        }
        for (size_t i = 0; i < d->n_nics; i++)
                if (streq(d->nics[i].alias, alias))
                        n = &d->nics[i];
        if (!n)
                return fail("fake: no device with that alias");
        d->unplug_requests++;
        if (++n->requests == d->release_on)
                schedule_release(d, n, d->release_ms);
        return 0;
}

static int f_attach(virDomainPtr dom, const char *iface_xml) {
        _cleanup_free_ char *wrapped = NULL;
        struct fake_dom *d = D(dom);
        struct dom_nic *n = NULL;
        struct fake_nic *fn;
        size_t nn = 0;
        bool user;
        int r = 0;

        if (dead(d))
                return -EIO;
        d->attach_calls++;
        if (d->fail_attach) {
                d->fail_attach--;
                return fail("fake: attach refused");
        }
        if (asprintf(&wrapped, "<domain><devices>%s</devices></domain>", iface_xml) < 0 ||
            domxml_nics(wrapped, &n, &nn) < 0 || nn != 1 || !*n[0].pci) {
                dom_nics_free(n, nn);
                return fail("fake: bad element");
        }
        user = strstr(iface_xml, "type=\"user\"") != NULL;
        if (*n[0].target && d->tap_gone)
                r = fail("Unable to get index for interface: No such device");
        else if (!*n[0].target && !user && d->unprivileged)
                r = fail("Unable to create tap device: Operation not permitted");
        else if (fake_dom_nic(d, n[0].pci))
                r = fail("fake: PCI slot in use");
        else if (d->n_nics >= FAKE_MAX_NICS)
                r = fail("fake: too many NICs");
        if (r < 0) {
                dom_nics_free(n, nn);
                return r;
        }
        fn = &d->nics[d->n_nics++];
        memset(fn, 0, sizeof(*fn));
        snprintf(fn->pci, sizeof(fn->pci), "%s", n[0].pci);
        snprintf(fn->alias, sizeof(fn->alias), "net%u", d->next_alias++);
        snprintf(fn->mac, sizeof(fn->mac), "%s", n[0].mac);
        snprintf(fn->tap, sizeof(fn->tap), "%s", user ? "user" : n[0].target);
        fn->link_up = n[0].link_up;
        if (d->n_attached < 8)
                snprintf(d->attached[d->n_attached++], 18, "%s", user ? "user" : *fn->tap ? fn->mac : "-");
        dom_nics_free(n, nn);
        if (d->eject_plugged) {
                d->eject_plugged = false;
                schedule_release(d, fn, 100);
        } else
                schedule_dhcp(d, fn->pci);
        return 0;
}

static int port_open(const char *tap, bool client_only, int *ret_fd) {
        port_opens++;
        for (size_t k = 0; k < MAX_PORTS; k++)
                if (streq(gone_taps[k], tap))
                        return -ENODEV;
        for (size_t k = 0; k < MAX_PORTS; k++)
                if (!ports[k].open) {
                        memset(&ports[k], 0, sizeof(ports[k]));
                        ports[k].open = true;
                        ports[k].client_only = client_only;
                        snprintf(ports[k].tap, sizeof(ports[k].tap), "%s", tap);
                        *ret_fd = PORT_FD_BASE + (int) k;
                        return 0;
                }
        return -EMFILE;
}

static int f_port_open(int netns_fd, const char *tap, int *ret_fd) {
        return port_open(tap, false, ret_fd);
}

static int f_port_open_client(int netns_fd, const char *tap, int *ret_fd) {
        return port_open(tap, true, ret_fd);
}

void fake_port_gone(const char *tap, int err) {
        for (size_t k = 0; k < MAX_PORTS; k++)
                if (!*gone_taps[k]) {
                        snprintf(gone_taps[k], sizeof(gone_taps[k]), "%s", tap);
                        break;
                }
        for (size_t k = 0; k < MAX_PORTS; k++)
                if (ports[k].open && streq(ports[k].tap, tap)) {
                        ports[k].err = err;
                        if (ports[k].watch && !port_hold)
                                ports[k].fn(PORT_FD_BASE + (int) k, ports[k].opaque);
                }
}

void fake_port_back(const char *tap) {
        for (size_t k = 0; k < MAX_PORTS; k++)
                if (streq(gone_taps[k], tap))
                        gone_taps[k][0] = '\0';
}

unsigned fake_port_opens(void) {
        return port_opens;
}

unsigned fake_ports_open(void) {
        unsigned n = 0;

        for (size_t k = 0; k < MAX_PORTS; k++)
                n += ports[k].open;
        return n;
}

static int f_port_read(int fd, struct dhcp_seen *ret) {
        struct fport *p = &ports[fd - PORT_FD_BASE];
        int err = p->err;

        if (err < 0) {
                p->err = 0;
                return err;
        }
        if (p->head == p->tail)
                return -EAGAIN;
        *ret = p->q[p->head++ % PORT_QUEUE];
        return 0;
}

static void f_port_close(int fd) {
        ports[fd - PORT_FD_BASE].open = false;
}

static const char *f_last_error(void) {
        return last_err;
}

static const struct virtdom_ops fake_ops = {
        .ref = f_ref,
        .unref = f_unref,
        .uuid = f_uuid,
        .name = f_name,
        .conn_alive = f_conn_alive,
        .xml = f_xml,
        .state = f_state,
        .metadata_get = f_metadata_get,
        .metadata_set = f_metadata_set,
        .update_device = f_update_device,
        .detach = f_detach,
        .attach = f_attach,
        .port_open = f_port_open,
        .port_open_client = f_port_open_client,
        .port_read = f_port_read,
        .port_close = f_port_close,
        .last_error = f_last_error,
};

void fake_install(void) {
        memset(timers, 0, sizeof(timers));
        memset(ports, 0, sizeof(ports));
        memset(gone_taps, 0, sizeof(gone_taps));
        port_opens = 0;
        port_hold = false;
        clock_us = 1000 * 1000000LL;
        loop_set_ops(&fake_loop);
        virtdom_set_ops(&fake_ops);
}

void fake_uninstall(void) {
        for (size_t i = 0; i < MAX_TIMERS; i++) {
                if (timers[i].id && timers[i].owned)
                        free(timers[i].opaque);
                timers[i].id = 0;
        }
        loop_set_ops(NULL);
        virtdom_set_ops(NULL);
}

void fake_dom_init(struct fake_dom *d, const char *name, struct pod *pod) {
        static unsigned n;

        memset(d, 0, sizeof(*d));
        snprintf(d->name, sizeof(d->name), "%s", name);
        snprintf(d->uuid, sizeof(d->uuid), "00000000-0000-4000-8000-%012x", ++n);
        d->pod = pod;
        d->release_on = 1;
        d->release_ms = 300;
        d->announce = true;
        d->dhcp_ms = 500;
}

struct fake_nic *fake_dom_add_nic(struct fake_dom *d, const char *pci, const char *mac, const char *tap) {
        struct fake_nic *n = &d->nics[d->n_nics++];

        memset(n, 0, sizeof(*n));
        snprintf(n->pci, sizeof(n->pci), "%s", pci);
        snprintf(n->alias, sizeof(n->alias), "net%u", d->next_alias++);
        snprintf(n->mac, sizeof(n->mac), "%s", mac);
        snprintf(n->tap, sizeof(n->tap), "%s", tap);
        n->link_up = true;
        return n;
}

struct fake_nic *fake_dom_nic(struct fake_dom *d, const char *pci) {
        for (size_t i = 0; i < d->n_nics; i++)
                if (streq(d->nics[i].pci, pci))
                        return &d->nics[i];
        return NULL;
}

void fake_dom_free(struct fake_dom *d) {
        for (int i = 0; i < 4; i++) {
                free(d->meta_uri[i]);
                free(d->meta_xml[i]);
                d->meta_uri[i] = d->meta_xml[i] = NULL;
        }
}

/* ---- relinkd's log ---- */

static char log_path[64];

void fake_log_open(const char *name) {
        int fd;

        snprintf(log_path, sizeof(log_path), "/tmp/%s.XXXXXX", name);
        fd = mkstemp(log_path);
        if (fd < 0) {
                perror("fake_log_open: mkstemp");
                abort();
        }
        close(fd);
        if (log_open("relinkd", log_path, LOG_LEVEL_DEBUG) != 0) {
                fprintf(stderr, "fake_log_open: cannot open %s\n", log_path);
                abort();
        }
}

void fake_log_close(void) {
        log_close();
        if (*log_path)
                unlink(log_path);
        *log_path = '\0';
}

char *fake_log_text(void) {
        FILE *f = fopen(log_path, "re");
        char *buf = calloc(1, 1 << 20);
        size_t n;

        if (!f || !buf) {
                fprintf(stderr, "fake_log_text: cannot read %s\n", log_path);
                abort();
        }
        n = fread(buf, 1, (1 << 20) - 1, f);
        buf[n] = '\0';
        fclose(f);
        return buf;
}

unsigned fake_log_count(const char *needle) {
        _cleanup_free_ char *t = fake_log_text();
        unsigned n = 0;

        for (const char *p = t; (p = strstr(p, needle)); p++)
                n++;
        return n;
}
