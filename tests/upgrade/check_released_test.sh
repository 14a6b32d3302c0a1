#!/usr/bin/env bash
# Proves that scripts/check_released.sh can fail: in a scratch repository it
# releases an upgrade script, then edits it, deletes it, and adds a late
# script for the released version; each must be refused, and the untouched
# release accepted.
set -euo pipefail
check="$(cd "$(dirname "$0")/../.." && pwd)/scripts/check_released.sh"
repo=$(mktemp -d /tmp/check_released.XXXXXX)
trap 'rm -rf "$repo"' EXIT
cd "$repo"
git init -q && git config user.email t@example.invalid && git config user.name test
mkdir sql
printf 'ALTER TABLE t ADD COLUMN a int;\n' >sql/casino_loyalty--1.0.0--1.1.0.sql
printf 'ALTER TABLE t ADD COLUMN b int;\n' >sql/casino_loyalty--1.1.0--1.2.0.sql
git add sql && git commit -qm release
printf '1.1.0 %s\n' "$(git rev-parse HEAD)" >sql/RELEASED

passed=0 failed=0
expect() {  # expect pass|fail description
    if bash "$check" "$repo" >out 2>&1; then got=pass; else got=fail; fi
    if [ "$got" = "$1" ]; then passed=$((passed + 1)); else
        failed=$((failed + 1)); echo "FAILED: $2: expected $1, got $got"; cat out; fi
}
expect pass "released script untouched, unreleased one free to change"
printf -- '-- edited\n' >>sql/casino_loyalty--1.1.0--1.2.0.sql
expect pass "editing the unreleased 1.1.0->1.2.0 script"
printf -- '-- edited\n' >>sql/casino_loyalty--1.0.0--1.1.0.sql
expect fail "editing the released 1.0.0->1.1.0 script"
grep -q 'has changed since' out || { failed=$((failed + 1)); echo "FAILED: no reason given"; }
git checkout -q sql/casino_loyalty--1.0.0--1.1.0.sql
rm sql/casino_loyalty--1.0.0--1.1.0.sql
expect fail "deleting the released script"
git checkout -q sql/casino_loyalty--1.0.0--1.1.0.sql
printf 'SELECT 1;\n' >sql/casino_loyalty--1.0.5--1.1.0.sql
expect fail "adding a script that targets the released version"
rm sql/casino_loyalty--1.0.5--1.1.0.sql
printf '1.1.0 %s\n' "0123456789012345678901234567890123456789" >sql/RELEASED
expect fail "a release commit the clone does not have"
echo "check_released: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
