#!/usr/bin/env bash
# Proves that scripts/upgrade_copy.py can fail: in a scratch copy of the
# checker and sql/, the open upgrade script's copy of a function equal to
# the install SQL passes; a body changed in the install SQL after its step
# was written, or a step edited by hand, fails and names the function; a
# later fresh step (emit) passes again.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work=$(mktemp -d /tmp/upgrade_copy.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/scripts" "$work/sql/ops"
cp "$root/scripts/upgrade_copy.py" "$work/scripts/"
printf '0.1.0 0000000000000000000000000000000000000000\n' >"$work/sql/RELEASED"
cat >"$work/sql/ops/f.sql" <<'SQL'
CREATE FUNCTION loyalty.f(p int) RETURNS int
LANGUAGE sql AS $$
    SELECT p + 1
$$;
COMMENT ON FUNCTION loyalty.f(int) IS 'one more';
SQL
open="$work/sql/casino_loyalty--0.1.0--0.2.0.sql"
python3 "$work/scripts/upgrade_copy.py" emit loyalty.f >"$open"

passed=0 failed=0
expect() {  # expect pass|fail description
    if python3 "$work/scripts/upgrade_copy.py" check >"$work/out" 2>&1; then got=pass; else got=fail; fi
    if [ "$got" = "$1" ]; then passed=$((passed + 1)); else
        failed=$((failed + 1)); echo "FAILED: $2: expected $1, got $got"; cat "$work/out"; fi
}
grep -q '^CREATE OR REPLACE FUNCTION loyalty.f(p int)' "$open" \
    || { failed=$((failed + 1)); echo "FAILED: emit did not write CREATE OR REPLACE"; }
expect pass "a step emitted from the install SQL"
sed -i 's/p + 1/p + 2/' "$work/sql/ops/f.sql"
expect fail "the install SQL's body changed after the step was written"
grep -q "loyalty.f differs from sql/ops/f.sql" "$work/out" || { failed=$((failed + 1)); echo "FAILED: no function named"; }
python3 "$work/scripts/upgrade_copy.py" emit loyalty.f >>"$open"
expect pass "a fresh step appended (the last definition counts)"
sed -i 's/p + 2/p + 3/' "$open"
expect fail "a step edited by hand"
echo "upgrade_copy: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
