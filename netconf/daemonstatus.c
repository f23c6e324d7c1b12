/* SPDX-License-Identifier: MIT */
/* `relinkd status --json`: the snapshot as one JSON object. Times as RFC 3339 UTC with milliseconds
 * (and the durations in ms), so scripts need no clock of their own. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "netconf/daemonstatus.h"
#include "netconf/json.h"

static int add_str(cJSON *o, const char *k, const char *v) {
        return cJSON_AddStringToObject(o, k, v) ? 0 : -ENOMEM;
}

static int add_num(cJSON *o, const char *k, double v) {
        return cJSON_AddNumberToObject(o, k, v) ? 0 : -ENOMEM;
}

static int add_null(cJSON *o, const char *k) {
        return cJSON_AddNullToObject(o, k) ? 0 : -ENOMEM;
}

static int append(cJSON *a, cJSON *item) {
        if (!item)
                return -ENOMEM;
        if (!cJSON_AddItemToArray(a, item)) {
                cJSON_Delete(item);
                return -ENOMEM;
        }
        return 0;
}

void st_format_time(int64_t ms, char *buf, size_t size) {
        struct tm tm;
        time_t t = (time_t) (ms / 1000);

        if (ms <= 0 || !gmtime_r(&t, &tm)) {
                snprintf(buf, size, "-");
                return;
        }
        snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (ms % 1000));
}

/* A time, or null (ms <= 0). */
static int add_time(cJSON *o, const char *k, int64_t ms) {
        char buf[40];

        if (ms <= 0)
                return add_null(o, k);
        st_format_time(ms, buf, sizeof(buf));
        return add_str(o, k, buf);
}

static cJSON *launcher_json(const struct st_launcher *l, int64_t now) {
        cJSON *o = cJSON_CreateObject();
        char ns[48];
        int k = 0;

        if (!o)
                return NULL;
        k |= add_str(o, "label", l->label);
        k |= *l->pod_uid ? add_str(o, "pod_uid", l->pod_uid) : add_null(o, "pod_uid");
        k |= add_str(o, "origin", l->origin);
        k |= *l->socket ? add_str(o, "socket", l->socket) : add_null(o, "socket");
        k |= add_str(o, "state", l->state);
        if (l->has_netns) {
                snprintf(ns, sizeof(ns), "%llu:%llu", (unsigned long long) l->ns_dev, (unsigned long long) l->ns_ino);
                k |= add_str(o, "netns", ns);
        } else
                k |= add_null(o, "netns");
        k |= add_time(o, "since", l->since_ms);
        k |= add_num(o, "for_ms", (double) (l->since_ms > 0 ? now - l->since_ms : 0));
        if (k < 0) {
                cJSON_Delete(o);
                return NULL;
        }
        return o;
}

static cJSON *action_json(const struct st_action *a) {
        cJSON *o = cJSON_CreateObject();
        int k = 0;

        if (!o)
                return NULL;
        k |= add_str(o, "domain", a->domain);
        k |= add_str(o, "uuid", a->uuid);
        k |= add_str(o, "pod", a->pod);
        k |= add_str(o, "nic", a->nic_pci);
        k |= add_str(o, "alias", a->nic_alias);
        k |= add_str(o, "mac", a->mac);
        k |= add_str(o, "record", a->record);
        k |= add_str(o, "kind", a->kind);
        k |= add_str(o, "phase", a->phase);
        k |= add_num(o, "rung", a->rung);
        k |= add_num(o, "rungs", a->n_rungs);
        k |= add_num(o, "elapsed_ms", (double) a->elapsed_ms);
        if (k < 0) {
                cJSON_Delete(o);
                return NULL;
        }
        return o;
}

static cJSON *decision_json(const struct st_decision *d) {
        cJSON *o = cJSON_CreateObject();
        int k = 0;

        if (!o)
                return NULL;
        k |= add_num(o, "seq", (double) d->seq);
        k |= add_time(o, "at", d->at_ms);
        k |= add_str(o, "domain", d->domain);
        k |= add_str(o, "uuid", d->uuid);
        k |= add_str(o, "pod", d->pod);
        k |= add_str(o, "nic", d->nic_pci);
        k |= add_str(o, "mac", d->mac);
        k |= add_str(o, "record", d->record);
        k |= add_str(o, "decision", d->decision);
        k |= add_str(o, "trigger", d->trigger);
        k |= add_str(o, "reason", d->reason);
        k |= add_str(o, "evidence", d->evidence);
        k |= add_str(o, "result", d->result);
        k |= add_time(o, "result_at", d->result_at_ms);
        k |= *d->kind ? add_str(o, "kind", d->kind) : add_null(o, "kind");
        k |= *d->note ? add_str(o, "note", d->note) : add_null(o, "note");
        k |= d->renewal_ms >= 0 ? add_num(o, "renewal_ms", (double) d->renewal_ms) : add_null(o, "renewal_ms");
        if (k < 0) {
                cJSON_Delete(o);
                return NULL;
        }
        return o;
}

int st_render_json(const struct st_snapshot *s, char **ret) {
        _cleanup_cjson_ cJSON *o = cJSON_CreateObject();
        cJSON *l, *a, *d;
        char *text;
        size_t n;
        int k = 0;

        if (!o)
                return -ENOMEM;
        k |= add_str(o, "version", s->version ? s->version : "");
        k |= add_num(o, "pid", s->pid);
        k |= add_time(o, "now", s->now_ms);
        l = cJSON_AddArrayToObject(o, "launchers");
        a = cJSON_AddArrayToObject(o, "actions");
        d = cJSON_AddArrayToObject(o, "decisions");
        if (k < 0 || !l || !a || !d)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_launchers; i++)
                if (append(l, launcher_json(&s->launchers[i], s->now_ms)) < 0)
                        return -ENOMEM;
        for (size_t i = 0; i < s->n_actions; i++)
                if (append(a, action_json(&s->actions[i])) < 0)
                        return -ENOMEM;
        for (size_t i = 0; i < s->n_decisions; i++)
                if (append(d, decision_json(&s->decisions[i])) < 0)
                        return -ENOMEM;
        text = cJSON_Print(o);
        if (!text)
                return -ENOMEM;
        n = strlen(text);
        /* One more byte for the final newline. */
        char *t = realloc(text, n + 2);
        if (!t) {
                free(text);
                return -ENOMEM;
        }
        t[n] = '\n';
        t[n + 1] = '\0';
        *ret = t;
        return 0;
}
