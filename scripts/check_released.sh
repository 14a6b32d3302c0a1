#!/usr/bin/env bash
# Released upgrade scripts never change. For every version listed in
# sql/RELEASED ("version commit"), each upgrade script whose target is that
# version (sql/<ext>--<from>--<version>.sql) must be byte for byte what it was
# at the release commit, and no such script may appear after the release.
# Usage: check_released.sh [repository root]   (default: this repository)
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
ext=casino_loyalty
status=0
complain() { echo "frozen releases: $*" >&2; status=1; }

while read -r version commit; do
    case "$version" in ''|'#'*) continue ;; esac
    if ! git cat-file -e "$commit^{commit}" 2>/dev/null; then
        complain "release $version is commit $commit, which this clone does not have (a full clone is needed)"
        continue
    fi
    released=$(git ls-tree --name-only "$commit" sql/ | grep -E "^sql/$ext--[^-]+--${version//./\\.}\.sql$" || true)
    for path in $released; do
        if [ ! -f "$path" ]; then
            complain "$path was released in $version and has been deleted"
        elif ! git show "$commit:$path" | cmp -s - "$path"; then
            complain "$path was released in $version and has changed since; write a new upgrade script instead:"
            git show "$commit:$path" | diff -u --label "$path@$version" --label "$path" - "$path" >&2 || true
        fi
    done
    for path in sql/$ext--*--"$version".sql; do
        [ -e "$path" ] || continue
        grep -qxF "$path" <<<"$released" || complain "$path targets released version $version but was not part of that release"
    done
done < sql/RELEASED

[ "$status" -eq 0 ] && echo "frozen releases: every released upgrade script is unchanged"
exit "$status"
