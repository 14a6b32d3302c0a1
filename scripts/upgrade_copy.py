#!/usr/bin/env python3
"""An upgrade step that only replaces a SQL function's body is the install
SQL's text under CREATE OR REPLACE: this writes it, and checks it.

    python3 scripts/upgrade_copy.py emit loyalty.f [loyalty.g ...]
        prints each function as the install SQL defines it (sql/<capability>/
        and sql/*.sql, never an upgrade script), with CREATE OR REPLACE and
        the COMMENT that follows it: append the output to the open upgrade
        script instead of copying by hand.
    python3 scripts/upgrade_copy.py check
        fails when the open upgrade script's last definition of a SQL
        function differs from the install SQL's text: a body changed in the
        install SQL after its step was written, or a step edited by hand.
        The upgrade suite compares the catalogs too; this says which
        function and where, with no cluster. Run by the test command.

The open script is the one from the last version in sql/RELEASED.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SQL = ROOT / "sql"
EXT = "casino_loyalty"
HEAD = re.compile(r"^CREATE (OR REPLACE )?FUNCTION (loyalty(?:_api)?\.\w+)\(", re.M)


def blocks(text):
    """Each SQL-language function definition: (name, start, end of its body)."""
    for m in HEAD.finditer(text):
        end = text.find("\n$$;\n", m.start())
        nxt = HEAD.search(text, m.end())
        # a C function (no $$ body before the next definition) is not a copy
        if end < 0 or (nxt and nxt.start() < end):
            continue
        yield m.group(2), m.start(), end + len("\n$$;\n")


def comment_after(text, name, end):
    m = re.match(r"COMMENT ON FUNCTION %s\(.*?';\n" % re.escape(name), text[end:], re.S)
    return m.group(0) if m else ""


def install_definitions():
    found = {}
    for path in sorted(SQL.rglob("*.sql")):
        if path.name.startswith(EXT + "--"):
            continue
        text = path.read_text()
        for name, start, end in blocks(text):
            if name in found:
                sys.exit(f"upgrade_copy: {name} is defined twice in the install SQL ({found[name][0]}, {path})")
            body = re.sub(r"^CREATE OR REPLACE FUNCTION", "CREATE FUNCTION", text[start:end])
            found[name] = (path.relative_to(ROOT), body, comment_after(text, name, end))
    return found


def open_script():
    released = [line.split()[0] for line in (SQL / "RELEASED").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    scripts = list(SQL.glob(f"{EXT}--{released[-1]}--*.sql"))
    if len(scripts) != 1:
        sys.exit(f"upgrade_copy: expected one open upgrade script from {released[-1]}, found {len(scripts)}")
    return scripts[0]


def emit(names):
    defs = install_definitions()
    for name in names:
        if name not in defs:
            sys.exit(f"upgrade_copy: no SQL-language function {name} in the install SQL")
        _, body, comment = defs[name]
        sys.stdout.write(body.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1) + comment)


def check():
    defs = install_definitions()
    script = open_script()
    text = script.read_text()
    last = {}
    for name, start, end in blocks(text):
        last[name] = re.sub(r"^CREATE OR REPLACE FUNCTION", "CREATE FUNCTION", text[start:end])
    stale = [name for name, body in last.items() if name in defs and defs[name][1] != body]
    for name in stale:
        print(f"upgrade copies: {script.relative_to(ROOT)}'s last {name} differs from {defs[name][0]}; "
              f"append a fresh step: python3 scripts/upgrade_copy.py emit {name}", file=sys.stderr)
    if stale:
        sys.exit(1)
    print(f"upgrade copies: the {len(last)} SQL function bodies {script.name} replaces equal the install SQL's")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "emit":
        emit(sys.argv[2:])
    elif sys.argv[1:] == ["check"]:
        check()
    else:
        sys.exit(__doc__)
