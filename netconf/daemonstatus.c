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
                return json_add_null(o, k);
        st_format_time(ms, buf, sizeof(buf));
        return json_add_str(o, k, buf);
}

static cJSON *launcher_json(const struct st_launcher *l, int64_t now) {
        cJSON *o = cJSON_CreateObject();
        char ns[48];
        int k = 0;

        if (!o)
                return NULL;
        k |= json_add_str(o, "label", l->label);
        k |= *l->pod_uid ? json_add_str(o, "pod_uid", l->pod_uid) : json_add_null(o, "pod_uid");
        k |= json_add_str(o, "origin", l->origin);
        k |= *l->socket ? json_add_str(o, "socket", l->socket) : json_add_null(o, "socket");
        k |= json_add_str(o, "state", l->state);
        if (l->has_netns) {
                snprintf(ns, sizeof(ns), "%llu:%llu", (unsigned long long) l->ns_dev, (unsigned long long) l->ns_ino);
                k |= json_add_str(o, "netns", ns);
        } else
                k |= json_add_null(o, "netns");
        k |= add_time(o, "since", l->since_ms);
        k |= json_add_num(o, "for_ms", (double) (l->since_ms > 0 ? now - l->since_ms : 0));
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
        k |= json_add_str(o, "domain", a->domain);
        k |= json_add_str(o, "uuid", a->uuid);
        k |= json_add_str(o, "pod", a->pod);
        k |= json_add_str(o, "nic", a->nic_pci);
        k |= json_add_str(o, "alias", a->nic_alias);
        k |= json_add_str(o, "mac", a->mac);
        k |= json_add_str(o, "record", a->record);
        k |= json_add_str(o, "kind", a->kind);
        k |= json_add_str(o, "phase", a->phase);
        k |= json_add_num(o, "rung", a->rung);
        k |= json_add_num(o, "rungs", a->n_rungs);
        k |= json_add_num(o, "elapsed_ms", (double) a->elapsed_ms);
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
        k |= json_add_num(o, "seq", (double) d->seq);
        k |= add_time(o, "at", d->at_ms);
        k |= json_add_str(o, "domain", d->domain);
        k |= json_add_str(o, "uuid", d->uuid);
        k |= json_add_str(o, "pod", d->pod);
        k |= json_add_str(o, "nic", d->nic_pci);
        k |= json_add_str(o, "mac", d->mac);
        k |= json_add_str(o, "record", d->record);
        k |= json_add_str(o, "decision", d->decision);
        k |= json_add_str(o, "trigger", d->trigger);
        k |= json_add_str(o, "reason", d->reason);
        k |= json_add_str(o, "evidence", d->evidence);
        k |= json_add_str(o, "result", d->result);
        k |= add_time(o, "result_at", d->result_at_ms);
        k |= *d->kind ? json_add_str(o, "kind", d->kind) : json_add_null(o, "kind");
        k |= *d->note ? json_add_str(o, "note", d->note) : json_add_null(o, "note");
        k |= d->renewal_ms >= 0 ? json_add_num(o, "renewal_ms", (double) d->renewal_ms) : json_add_null(o, "renewal_ms");
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
        k |= json_add_str(o, "version", s->version ? s->version : "");
        k |= json_add_num(o, "pid", s->pid);
        k |= add_time(o, "now", s->now_ms);
        l = cJSON_AddArrayToObject(o, "launchers");
        a = cJSON_AddArrayToObject(o, "actions");
        d = cJSON_AddArrayToObject(o, "decisions");
        if (k < 0 || !l || !a || !d)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_launchers; i++)
                if (json_append(l, launcher_json(&s->launchers[i], s->now_ms)) < 0)
                        return -ENOMEM;
        for (size_t i = 0; i < s->n_actions; i++)
                if (json_append(a, action_json(&s->actions[i])) < 0)
                        return -ENOMEM;
        for (size_t i = 0; i < s->n_decisions; i++)
                if (json_append(d, decision_json(&s->decisions[i])) < 0)
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
