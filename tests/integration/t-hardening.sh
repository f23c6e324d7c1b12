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

keep_intact "after all rows"
finish
