#!/bin/bash
# The audit's findings (issue 9), one block per row, by direct invocation of bin/relink:
# every refusal is a CNI error JSON on stdout with the expected code, exit 1, and no record is
# lost or corrupted.
. "$(dirname "$0")/lib.sh"
rl_init

veth_pod
NET=$P-h
PREV=$(prev_result 1.0.0 "$pod" eth0)
plugin_conf 1.0.0 "$NET" "$PREV" >"$T/good.json"
relink_call ADD "$T/good.json" CNI_CONTAINERID=keep CNI_NETNS="$NETNS" CNI_IFNAME=eth0
expect_success "valid ADD creates the record every row must leave alone"
KEEP=$(record_path "$NET" keep eth0)
keep_sum=$(sha256sum <"$KEEP")
keep_intact() { expect_eq "$1: the existing record is untouched" "$(sha256sum <"$KEEP")" "$keep_sum"; }

I=$T/in
mkdir -p "$I"
ENV_OK=(CNI_CONTAINERID=h1 CNI_NETNS="$NETNS" CNI_IFNAME=eth0)

# --- row 11: a config error speaks the config's cniVersion ---------------------------------------
for v in 0.3.1 0.4.0 1.0.0 1.1.0; do
	jq --arg v "$v" '.cniVersion = $v | .name = "../x"' "$T/good.json" >"$I/v$v-badname"
	relink_call ADD "$I/v$v-badname" "${ENV_OK[@]}"
	expect_cni_error "row 11: invalid name in a $v config → code 7" 7
	expect_eq "row 11: ... the error's cniVersion is $v" "$(jq -r .cniVersion <<<"$OUT" 2>&1)" "$v"
done
jq '.cniVersion = "9.9.9"' "$T/good.json" >"$I/v999"
relink_call ADD "$I/v999" "${ENV_OK[@]}"
expect_cni_error "row 11: unsupported cniVersion → code 1" 1
expect_eq "row 11: ... answered in the newest supported version" "$(jq -r .cniVersion <<<"$OUT" 2>&1)" 1.1.0

# --- rows 3, 7, 8: names that C, Go and the file system would read differently ------------------
before=$(snapshot "$STATE")
# bad_input FILE PLACEHOLDER BYTES: replace a jq-written placeholder with raw bytes jq cannot write.
bad_bytes() { sed -i "s/$2/$3/" "$1"; }
jq '.name = "tenantNULA"' "$T/good.json" | sed 's/NUL/\\u0000/' >"$I/nul-name-a"
jq '.name = "tenantNULB"' "$T/good.json" | sed 's/NUL/\\u0000/' >"$I/nul-name-b"
jq '.cniVersion = "1.0.0NUL"' "$T/good.json" | sed 's/NUL/\\u0000/' >"$I/nul-version"
jq --arg s "$STATE" '.stateDir = $s + "NUL/x"' "$T/good.json" | sed 's/NUL/\\u0000/' >"$I/nul-statedir"
jq '.args.cni.vm = "ns_vmNULx"' "$T/good.json" | sed 's/NUL/\\u0000/' >"$I/nul-vm"
jq --arg n "$NET" '{cniVersion: "1.1.0", name: $n, type: "relink", stateDir: .stateDir,
	"cni.dev/valid-attachments": [{containerID: "keepNUL", ifname: "eth0"}]}' "$T/good.json" |
	sed 's/NUL/\\u0000/' >"$I/nul-gc"
jq '.args.cni.vm = "ns_BAD"' "$T/good.json" >"$I/utf8-vm" && bad_bytes "$I/utf8-vm" BAD '\xff\xfe'
jq '.args.cni.vm = "ns_BAD"' "$T/good.json" >"$I/utf8-overlong" && bad_bytes "$I/utf8-overlong" BAD '\xc0\xaf'
jq -c . "$T/good.json" | sed 's/"name":"[^"]*"/"name":"podnet","name":"..\/..\/x"/' >"$I/dup-name"
jq -c . "$T/good.json" | sed 's/"name":"\([^"]*\)"/"name":"\1","Name":"other"/' >"$I/dup-name-case"
jq -c . "$T/good.json" | sed 's/"cniVersion":"1.0.0"/"cniVersion":"1.0.0","cniVersion":"0.4.0"/' >"$I/dup-version"
jq -c . "$T/good.json" | sed 's/"ips":\[{/"ips":[{"address":"10.9.9.9\/24",/' >"$I/dup-prev"
ln -s "$NETNS" "$T/ns"$'\xff'   # a real netns, reached by a name that is not UTF-8
ROWS=(
	"row 3: network name with \\u0000 (tenant A)|7|ADD|nul-name-a|"
	"row 3: network name with \\u0000 (tenant B)|7|ADD|nul-name-b|"
	"row 3: cniVersion with \\u0000|7|ADD|nul-version|"
	"row 3: stateDir with \\u0000|7|ADD|nul-statedir|"
	"row 3: args.cni.vm with \\u0000|7|ADD|nul-vm|"
	"row 3: valid-attachment containerID with \\u0000|7|GC|nul-gc|-"
	"row 7: args.cni.vm with bytes 0xff 0xfe|6|ADD|utf8-vm|"
	"row 7: args.cni.vm with an overlong '/'|6|ADD|utf8-overlong|"
	"row 7: CNI_IFNAME with byte 0xff|4|ADD|good.json|CNI_CONTAINERID=h1 CNI_NETNS=$NETNS CNI_IFNAME=eth$'\xff'"
	"row 7: CNI_ARGS K8S_POD_NAME with byte 0xff|4|ADD|good.json|CNI_CONTAINERID=h1 CNI_NETNS=$NETNS CNI_IFNAME=eth0 CNI_ARGS=K8S_POD_NAME=virt-launcher-a$'\xff'-abcde"
	"row 7: CNI_NETNS with byte 0xff|4|ADD|good.json|CNI_CONTAINERID=h1 CNI_NETNS=$T/ns$'\xff' CNI_IFNAME=eth0"
	"row 8: duplicate name (cJSON first, Go last)|7|ADD|dup-name|"
	"row 8: name and Name (Go matches case-insensitively)|7|ADD|dup-name-case|"
	"row 8: duplicate cniVersion|7|ADD|dup-version|"
	"row 8: duplicate key inside prevResult|7|ADD|dup-prev|"
)
for row in "${ROWS[@]}"; do
	IFS='|' read -r name code verb input envs <<<"$row"
	if [ -z "$envs" ]; then
		env_row=("${ENV_OK[@]}")
	elif [ "$envs" = - ]; then
		env_row=()
	else
		eval "env_row=($envs)"
	fi
	[ "$input" = good.json ] && input=../good.json
	relink_call "$verb" "$I/$input" "${env_row[@]}"
	expect_cni_error "$name → code $code" "$code"
	after=$(snapshot "$STATE")
	[ "$after" == "$before" ] || not_ok "$name: state dir untouched" "$(diff <(echo "$before") <(echo "$after"))"
done
expect_eq "rows 3, 7, 8: state dir untouched by all ${#ROWS[@]} rows" "$(snapshot "$STATE")" "$before"
check "row 3: no 'tenant' directory was created" test ! -e "$STATE/tenant"
relink_call ADD "$I/dup-name" "${ENV_OK[@]}"
expect_eq "row 8: the error names the duplicate key" "$(jq -r .msg <<<"$OUT" 2>&1)" \
	"network configuration refused: duplicate key 'name'"
# Valid multi-byte UTF-8 is a name like any other.
jq '.args.cni.vm = "ns_vm-é😀"' "$T/good.json" >"$I/utf8-ok"
relink_call ADD "$I/utf8-ok" CNI_CONTAINERID=h2 CNI_NETNS="$NETNS" CNI_IFNAME=eth0
expect_success "row 7: ADD with a valid UTF-8 args.cni.vm"
expect_eq "row 7: ... recorded as given" "$(jq -r .vm "$(record_path "$NET" h2 eth0)" 2>&1)" "ns_vm-é😀"
relink_call DEL "$I/utf8-ok" CNI_CONTAINERID=h2 CNI_NETNS="$NETNS" CNI_IFNAME=eth0
expect_success "row 7: ... and DEL removes it"

# --- row 1 (and row 2's logFile half): the log file and what is written into it --------------------
# with_log FILE [LEVEL]: good.json with logFile FILE (logLevel debug unless given).
with_log() { jq --arg f "$1" --arg l "${2:-debug}" '.logFile = $f | .logLevel = $l' "$T/good.json"; }
printf 'root:x:0:0:root:/root:/bin/bash\n' >"$T/victim"
victim_sum=$(sha256sum <"$T/victim")
ln -s "$T/victim" "$T/log-symlink"
with_log "$T/log-symlink" >"$I/log-symlink"
relink_call ADD "$I/log-symlink" CNI_CONTAINERID=l1 CNI_NETNS="$NETNS" CNI_IFNAME=eth0
expect_success "row 1: ADD with logFile a symlink still succeeds"
expect_eq "row 1: ... the symlink's target is untouched" "$(sha256sum <"$T/victim")" "$victim_sum"
check "row 1: ... stderr says why the log file was refused" grep -q 'logFile ".*log-symlink": it is a symbolic link' <<<"$ERR"
ln "$T/victim" "$T/log-hardlink"
with_log "$T/log-hardlink" >"$I/log-hardlink"
relink_call ADD "$I/log-hardlink" CNI_CONTAINERID=l1 CNI_NETNS="$NETNS" CNI_IFNAME=eth0
expect_success "row 1: ADD with logFile a second name of another file still succeeds"
expect_eq "row 1: ... that file is untouched" "$(sha256sum <"$T/victim")" "$victim_sum"
mkfifo "$T/log-fifo"
with_log "$T/log-fifo" >"$I/log-fifo"
OUT=$(env -i CNI_COMMAND=ADD CNI_CONTAINERID=l1 CNI_NETNS="$NETNS" CNI_IFNAME=eth0 \
	timeout 10 "$RELINK" <"$I/log-fifo" 2>"$T/stderr")
RC=$?
ERR=$(<"$T/stderr")
expect_success "row 2: ADD with logFile a FIFO returns (no reader: never blocks)"
check "row 2: ... stderr says why the log file was refused" grep -q 'log-fifo": ' <<<"$ERR"
with_log /dev/null >"$I/log-dev"
relink_call ADD "$I/log-dev" CNI_CONTAINERID=l1 CNI_NETNS="$NETNS" CNI_IFNAME=eth0
expect_success "row 2: ADD with logFile a device node still succeeds"
check "row 2: ... refused as not a regular file" grep -q '"/dev/null": not a regular file' <<<"$ERR"

# --- row 2: CNI_NETNS must be a network namespace, found out without blocking ---------------------
mkfifo "$T/ns-fifo"
: >"$T/ns-file"
# relink_timed VERB STDIN NETNS [CONTAINERID]: relink_call under a 10 s timeout (a blocked open()
# must not hang the test). CHECK runs against the existing record "keep".
relink_timed() {
	OUT=$(env -i CNI_COMMAND="$1" CNI_CONTAINERID="${4:-n1}" CNI_NETNS="$3" CNI_IFNAME=eth0 \
		timeout 10 "$RELINK" <"$2" 2>"$T/stderr")
	RC=$?
	ERR=$(<"$T/stderr")
}
before=$(snapshot "$STATE")
for row in "a FIFO|$T/ns-fifo" "a character device|/dev/null" "a regular file|$T/ns-file" \
	"a directory|$T" "a user namespace|/proc/$$/ns/user" "a mount namespace|/proc/$$/ns/mnt"; do
	IFS='|' read -r what path <<<"$row"
	for verb in ADD CHECK; do
		relink_timed "$verb" "$T/good.json" "$path" "$([ "$verb" = CHECK ] && echo keep)"
		expect_cni_error "row 2: $verb with CNI_NETNS $what → code 4 (no hang)" 4
		expect_eq "row 2: ... the message says it is not a network namespace" \
			"$(jq -r .msg <<<"$OUT" 2>&1)" "CNI_NETNS '$path' is not a network namespace"
	done
done
expect_eq "row 2: state dir untouched by every refused netns" "$(snapshot "$STATE")" "$before"
relink_timed ADD "$T/good.json" "$NETNS"
expect_success "row 2: control: ADD with the pod's netns succeeds"
relink_timed CHECK "$T/good.json" "$NETNS" keep
expect_success "row 2: control: CHECK with the pod's netns succeeds"

# --- row 6: the state dir's owner and mode; modes whatever the umask ------------------------------
S2=$T/state-umask/a/b
jq --arg s "$S2" '.stateDir = $s' "$T/good.json" >"$I/umask"
OUT=$(env -i CNI_COMMAND=ADD CNI_CONTAINERID=u1 CNI_NETNS="$NETNS" CNI_IFNAME=eth0 \
	bash -c 'umask 0777; exec "$1"' _ "$RELINK" <"$I/umask" 2>"$T/stderr")
RC=$?
ERR=$(<"$T/stderr")
expect_success "row 6: ADD under umask 0777 into a new stateDir"
expect_eq "row 6: ... modes: stateDir and parents 0700, network dir 0700, lock and record 0600" \
	"$(stat -c '%a %n' "$T/state-umask/a" "$S2" "$S2/$NET" "$S2/$NET/.lock" "$S2/$NET/u1@eth0.json" | sed "s|$T/||")" \
	"700 state-umask/a
700 state-umask/a/b
700 state-umask/a/b/$NET
600 state-umask/a/b/$NET/.lock
600 state-umask/a/b/$NET/u1@eth0.json"
OUT=$(env -i CNI_COMMAND=ADD CNI_CONTAINERID=u2 CNI_NETNS="$NETNS" CNI_IFNAME=eth0 \
	bash -c 'umask 0; exec "$1"' _ "$RELINK" <"$I/umask" 2>"$T/stderr")
expect_eq "row 6: ... and under umask 0 a record is still 0600" "$(stat -c %a "$S2/$NET/u2@eth0.json")" 600

U=$T/state-unsafe
mkdir -p "$U"
jq --arg s "$U" '.stateDir = $s' "$T/good.json" >"$I/unsafe"
jq --arg s "$U" --arg n "$NET" '{cniVersion: "1.1.0", name: $n, type: "relink", stateDir: $s,
	"cni.dev/valid-attachments": []}' "$T/good.json" >"$I/unsafe-110"
relink_call ADD "$I/unsafe" CNI_CONTAINERID=u3 CNI_NETNS="$NETNS" CNI_IFNAME=eth0
expect_success "row 6: control: ADD into a root-owned 0700 stateDir"
usum=$(snapshot "$U")
for mode in 777 770 702; do
	chmod "$mode" "$U"
	usum=$(snapshot "$U")
	relink_call ADD "$I/unsafe" CNI_CONTAINERID=u4 CNI_NETNS="$NETNS" CNI_IFNAME=eth0
	expect_cni_error "row 6: ADD into a stateDir of mode $mode → code 5" 5
	expect_eq "row 6: ... the reason is given" "$(jq -r '.msg + ": " + .details' <<<"$OUT" 2>&1)" \
		"cannot open stateDir '$U': group- or world-writable"
	relink_call STATUS "$I/unsafe-110"
	expect_cni_error "row 6: STATUS with a stateDir of mode $mode → code 50" 50
	relink_call GC "$I/unsafe-110"
	expect_cni_error "row 6: GC with a stateDir of mode $mode → code 5" 5
	expect_eq "row 6: ... nothing in it changed (the record survives GC's refusal)" "$(snapshot "$U")" "$usum"
done
chmod 755 "$U"
chown 65534:65534 "$U"
usum=$(snapshot "$U")
relink_call ADD "$I/unsafe" CNI_CONTAINERID=u4 CNI_NETNS="$NETNS" CNI_IFNAME=eth0
expect_cni_error "row 6: ADD into a stateDir owned by nobody → code 5" 5
expect_eq "row 6: ... the reason is given" "$(jq -r '.msg + ": " + .details' <<<"$OUT" 2>&1)" \
	"cannot open stateDir '$U': not owned by root"
relink_call GC "$I/unsafe-110"
expect_cni_error "row 6: GC with a stateDir owned by nobody → code 5" 5
expect_eq "row 6: ... nothing in it changed" "$(snapshot "$U")" "$usum"
chown 0:0 "$U"
chmod 777 "$U/$NET"
relink_call ADD "$I/unsafe" CNI_CONTAINERID=u4 CNI_NETNS="$NETNS" CNI_IFNAME=eth0
expect_cni_error "row 6: ADD into a network dir of mode 777 → code 5" 5
chmod 700 "$U/$NET"
relink_call ADD "$I/unsafe" CNI_CONTAINERID=u4 CNI_NETNS="$NETNS" CNI_IFNAME=eth0
expect_success "row 6: control: ADD once the modes are right again"

# --- row 4: temp files of writers killed mid-write ---------------------------------------------------
# What a writer killed between creating and renaming its temp file leaves, some aged past 60 s.
jq --arg n "$NET" --arg s "$STATE" '{cniVersion: "1.1.0", name: $n, type: "relink", stateDir: $s,
	"cni.dev/valid-attachments": [{containerID: "keep", ifname: "eth0"}, {containerID: "n1", ifname: "eth0"}]}' \
	"$T/good.json" >"$I/gc"
jq --arg s "$STATE" '{cniVersion: "1.1.0", name: "status", type: "relink", stateDir: $s}' "$T/good.json" >"$I/status"
for name in .tmp-4000001-0 .tmp-4000002-3; do : >"$STATE/$NET/$name"; done
: >"$STATE/.probe-4000003"
: >"$STATE/.tmp-4000004-0"
: >"$STATE/$NET/.tmp-4000005-0"      # young: a live writer's, maybe
: >"$STATE/.probe-4000006"           # young
touch -d '2 minutes ago' "$STATE/$NET/.tmp-4000001-0" "$STATE/$NET/.tmp-4000002-3" "$STATE/.probe-4000003" \
	"$STATE/.tmp-4000004-0"
recs_before=$(cd "$STATE/$NET" && ls ./*.json | sort)
relink_call GC "$I/gc"
expect_success "row 4: GC succeeds"
expect_eq "row 4: GC removed the stale temp files of the network and the stale probe/temp files of the store" \
	"$(cd "$STATE" && ls -a . "$NET" | grep -E '^\.(tmp|probe)-' | sort | tr '\n' ' ')" ".probe-4000006 .tmp-4000005-0 "
expect_eq "row 4: ... and no record it was told to keep" "$(cd "$STATE/$NET" && ls ./*.json | sort | grep -E '/(keep|n1)@')" \
	"$(grep -E '/(keep|n1)@' <<<"$recs_before")"
touch -d '2 minutes ago' "$STATE/.probe-4000006"
relink_call STATUS "$I/status"
expect_success "row 4: STATUS succeeds"
expect_eq "row 4: STATUS removed the stale probe file and left none of its own" \
	"$(cd "$STATE" && ls -a . | grep -E '^\.(tmp|probe)-' | tr '\n' ' ')" ""

# Injection: a newline or a quote in args.cni.vm, CNI_IFNAME-free fields and CNI_NETNS.
LOG=$T/relink.log
jq --arg f "$LOG" '.logFile = $f | .logLevel = "debug" |
	.args.cni.vm = "ns_vm\n2026-01-01T00:00:00.000Z relink[1]: info FORGED vm\" x=\"y"' "$T/good.json" >"$I/log-inject"
ln -s "$NETNS" "$T/ns
2026-01-01T00:00:00.000Z relink[1]: error FORGED netns"
relink_call ADD "$I/log-inject" CNI_CONTAINERID=l2 CNI_NETNS="$T/ns
2026-01-01T00:00:00.000Z relink[1]: error FORGED netns" CNI_IFNAME=eth0
expect_success "row 1: ADD with a newline in args.cni.vm and CNI_NETNS"
relink_call ADD "$I/log-inject" CNI_CONTAINERID=l3 CNI_NETNS="/nonexistent
2026-01-01T00:00:00.000Z relink[1]: error FORGED error" CNI_IFNAME=eth0
expect_cni_error "row 1: a failing ADD with a newline in CNI_NETNS → code 4" 4
expect_eq "row 1: ... its stderr is one line" "$(wc -l <<<"$ERR")" 1
relink_call DEL "$I/log-inject" CNI_CONTAINERID=l2 CNI_NETNS="$NETNS" CNI_IFNAME=eth0
expect_success "row 1: DEL of the injected attachment"
check "row 1: the log file has lines" test -s "$LOG"
check "row 1: every log line is one of relink's (timestamp, ident, level)" \
	bash -c '! grep -Evq "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z relink\[[0-9]+\]: (error|warn|info|debug) " "$1"' _ "$LOG"
check "row 1: no line was forged (no line starts with the injected timestamp)" bash -c '! grep -q "^2026-01-01T00" "$1"' _ "$LOG"
check "row 1: the newline is written escaped" grep -q 'vm="ns_vm\\n2026-01-01' "$LOG"
check "row 1: the quote is written escaped" grep -q 'FORGED vm\\" x=\\"y"' "$LOG"
check "row 1: the failing call's error is logged escaped" grep -q 'error ADD failed: code=4 .*\\n2026-01-01' "$LOG"

keep_intact "after all rows"
finish
