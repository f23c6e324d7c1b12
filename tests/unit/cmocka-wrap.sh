#!/bin/bash
# Run one cmocka test binary and turn its summary into "N passed, N failed".
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out"
pass=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
fail=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
pass=${pass:-0}
fail=${fail:-0}
[ "$rc" -ne 0 ] && [ "$fail" -eq 0 ] && fail=1
# No cmocka summary at all (crash before it, or no test registered) is not a pass.
[ "$pass" -eq 0 ] && [ "$fail" -eq 0 ] && { echo "cmocka-wrap: no test ran in $1" >&2; fail=1; }
echo "$pass passed, $fail failed"
exit $rc
