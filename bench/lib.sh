# shellcheck shell=bash
# bench/lib.sh — what the end-to-end benchmark scripts share (sourced, never run).

# nstats — numbers on stdin (one per line) → "median min max" (integers; an even count takes the mean of the
# two middle values, truncated); prints nothing when there is no number.
nstats() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) exit
		m = (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2); printf "%d %d %d\n", m, v[1], v[NR] }'
}

# doc_splice TAG BLOCK DOC — put the file BLOCK (which starts with "<!-- TAG: begin" and ends with
# "<!-- TAG: end -->") in place of DOC's block of that TAG, or append it when DOC has none.
doc_splice() {
	local tag=$1 block=$2 doc=$3
	if grep -qF "<!-- $tag: begin" "$doc" 2>/dev/null; then
		awk -v f="$block" -v b="<!-- $tag: begin" -v e="<!-- $tag: end -->" \
			'index($0, b) == 1 { while ((getline l < f) > 0) print l; skip = 1; next }
			index($0, e) == 1 { skip = 0; next } !skip' "$doc" >"$doc.tmp" && mv "$doc.tmp" "$doc"
	else
		{ echo; cat "$block"; } >>"$doc"
	fi
}
