#!/bin/bash
# relinkd --metrics-listen: /metrics over HTTP (libmicrohttpd, on relinkd's event loop) serves exactly
# what the textfile holds, while the values move (a --connect to a socket that does not exist:
# relinkd_connect_failures_total grows with every backoff round); HEAD, 404 elsewhere, 405 for other
# methods; concurrent scrapes; IPv6; a bad address is a usage error (exit 2), a taken port a start-up
# failure (exit 1). relinkd runs in a private netns: its listener is on that netns' loopback only.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
rl_init
RELINKD=${RELINKD:-$ROOT/bin/relinkd}
command -v curl >/dev/null || _fatal "curl missing (scripts/setup.sh)"
netns_new mns m
LOG=$T/relinkd.log
ip netns exec "$mns" "$RELINKD" --connect "qemu+unix:///system?socket=$T/nothing-here" --netns "/run/netns/$mns" \
	--state-dir "$T/state" --backoff-max-ms 250 --metrics-file "$T/m.prom" \
	--metrics-listen 127.0.0.1:9595 --log-level debug >"$LOG" 2>&1 &
RPID=$!
bg_started $RPID
for _ in $(seq 100); do grep -q "metrics: serving" "$LOG" && break; sleep 0.05; done
kill -0 "$RPID" 2>/dev/null || _fatal "relinkd did not start: $(cat "$LOG")"
check "relinkd logs the listener" grep -q "metrics: serving /metrics on 127.0.0.1:9595 (port 9595)" "$LOG"
scrape() { ip netns exec "$mns" curl -sS --max-time 5 "$@"; }

# Same text as the file: the file can move between the two reads, so one of three tries must match
# exactly, and the counter must have grown meanwhile (the values are live, not a start-up copy).
same=0
for _ in 1 2 3 4 5; do
	a=$(cat "$T/m.prom"); b=$(scrape http://127.0.0.1:9595/metrics); c=$(cat "$T/m.prom")
	if [ -n "$b" ] && { [ "$b" = "$a" ] || [ "$b" = "$c" ]; }; then same=$((same + 1)); fi
	sleep 0.3
done
[ "$same" -ge 3 ] && ok "GET /metrics = the textfile ($same of 5 scrapes identical)" ||
	not_ok "GET /metrics = the textfile" "$same of 5 identical" "$(diff <(echo "$a") <(echo "$b") | head)"
f1=$(scrape http://127.0.0.1:9595/metrics | awk '$1 == "relinkd_connect_failures_total" {print $2}')
sleep 1
f2=$(scrape http://127.0.0.1:9595/metrics | awk '$1 == "relinkd_connect_failures_total" {print $2}')
if [ -n "$f1" ] && [ -n "$f2" ] && [ "$f2" -gt "$f1" ] && [ "$f1" -ge 1 ]; then
	ok "values are live: relinkd_connect_failures_total $f1 -> $f2 across scrapes"
else
	not_ok "values are live" "f1=$f1 f2=$f2"
fi
# Every metric family relinkd renders is served with HELP and TYPE.
scrape http://127.0.0.1:9595/metrics >"$T/body"
for m in $(grep -o 'relinkd_[a-z_]*' "$ROOT/trigger/metrics.c" | grep -v '^relinkd_metrics$' | sort -u); do
	check "served: # TYPE $m" grep -q "^# TYPE $m " "$T/body"
done

hdr=$(scrape -D - -o /dev/null http://127.0.0.1:9595/metrics | tr -d '\r')
expect_eq "200 with the Prometheus text content type" \
	"$(grep -i -e '^HTTP/' -e '^content-type:' <<<"$hdr" | tr 'A-Z' 'a-z')" \
	"http/1.1 200 ok"$'\n'"content-type: text/plain; version=0.0.4; charset=utf-8"
expect_eq "HEAD /metrics: 200, no body" "$(scrape -I -o /dev/null -w '%{http_code} %{size_download}' http://127.0.0.1:9595/metrics)" "200 0"
expect_eq "GET / -> 404" "$(scrape -o /dev/null -w '%{http_code}' http://127.0.0.1:9595/)" "404"
expect_eq "GET /metrics/x -> 404" "$(scrape -o /dev/null -w '%{http_code}' http://127.0.0.1:9595/metrics/x)" "404"
hdr=$(scrape -X POST -d x=1 -D - -o /dev/null http://127.0.0.1:9595/metrics | tr -d '\r')
expect_eq "POST -> 405, Allow: GET, HEAD" "$(grep -i -e '^HTTP/' -e '^allow:' <<<"$hdr" | tr 'A-Z' 'a-z')" \
	"http/1.1 405 method not allowed"$'\n'"allow: get, head"

# 40 scrapes at once (the listener allows 16 connections: the rest wait in the backlog or retry).
for i in $(seq 40); do
	scrape --retry 3 --retry-all-errors -o "$T/par.$i" -w '%{http_code}\n' http://127.0.0.1:9595/metrics >"$T/code.$i" &
done
wait_list=$(jobs -p | grep -vx "$RPID")
# shellcheck disable=SC2086
wait $wait_list 2>/dev/null
codes=$(cat "$T"/code.* | sort | uniq -c | awk '{print $1 "x" $2}')
expect_eq "40 concurrent scrapes: all 200" "$codes" "40x200"
check "relinkd still running after the scrapes" kill -0 "$RPID"

kill -TERM "$RPID"
wait "$RPID"
expect_eq "SIGTERM: exit 0 with the listener open" "$?" 0
expect_eq "the port is closed after exit" "$(scrape -o /dev/null -w '%{http_code}' http://127.0.0.1:9595/metrics 2>/dev/null)" "000"

# IPv6 loopback, and the port already taken.
ip netns exec "$mns" "$RELINKD" --connect "qemu+unix:///system?socket=$T/nothing-here" --netns "/run/netns/$mns" \
	--state-dir "$T/state" --metrics-listen '[::1]:9596' >"$T/v6.log" 2>&1 &
RPID=$!
bg_started $RPID
for _ in $(seq 100); do grep -q "metrics: serving" "$T/v6.log" && break; sleep 0.05; done
expect_eq "[::1]:9596 serves /metrics" "$(scrape -o /dev/null -w '%{http_code}' 'http://[::1]:9596/metrics')" "200"
ip netns exec "$mns" "$RELINKD" --connect "qemu+unix:///system?socket=$T/nothing-here" --netns "/run/netns/$mns" \
	--state-dir "$T/state2" --metrics-listen '[::1]:9596' >"$T/taken.log" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q "error.*--metrics-listen \[::1\]:9596: Address already in use" "$T/taken.log"; then
	ok "port taken: exit 1 with the reason"
else
	not_ok "port taken: exit 1 with the reason" "rc=$rc" "$(cat "$T/taken.log")"
fi
kill -TERM "$RPID"
wait "$RPID"
"$RELINKD" --kubevirt --metrics-listen localhost:9595 >"$T/bad.log" 2>&1
rc=$?
expect_eq "a name instead of an address: usage error (exit 2)" "$rc $(head -1 "$T/bad.log")" \
	"2 relinkd: --metrics-listen: expected ADDR:PORT or [ADDR6]:PORT with a numeric address, got 'localhost:9595'"
finish
