#!/usr/bin/env python3
"""Every line the exporter wrote during the test run is one valid log event.

The process tests and the shell tests keep the exporter's stderr in BUILD/exporter-logs/ as
NAME.logfmt or NAME.json (the format it was started with). This reads every file with a strict
parser for its format and fails on the first bad line of each file, naming file and line:
  - the bytes are UTF-8;
  - logfmt: key=value pairs separated by one space; keys [A-Za-z_][A-Za-z0-9_.]*; a bare value has
    no space, '=', '"', backslash or control character; a quoted value uses only the escapes
    \\" \\\\ \\n \\r \\t \\uXXXX and has no raw control character;
  - json: one object per line, no duplicate key, every value a string;
  - both: keys unique, ts (RFC 3339, UTC, milliseconds), level in debug/info/warn/error and msg come
    first, in that order.
With no log file at all (a ctest run that started no exporter) it exits 77, which ctest reports as
skipped, not passed; with six files or more both formats must be among them.
Usage: check_exporter_logs.py LOG_DIR
"""
import json
import pathlib
import re
import sys

KEY = r"[A-Za-z_][A-Za-z0-9_.]*"
BARE = r"[^\s=\"\\\x00-\x1f\x7f]+"
QUOTED = r"\"(?:[^\"\\\x00-\x1f\x7f]|\\[\"\\nrt]|\\u[0-9a-fA-F]{4})*\""
PAIR = re.compile(rf"({KEY})=({BARE}|{QUOTED})")
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LEVELS = {"debug", "info", "warn", "error"}


def unquote(value):
    return json.loads(value) if value.startswith('"') else value


def parse_logfmt(line):
    pairs, pos = [], 0
    while pos < len(line):
        if pos > 0:
            if line[pos] != " ":
                raise ValueError(f"expected one space at column {pos + 1}")
            pos += 1
        m = PAIR.match(line, pos)
        if not m:
            raise ValueError(f"no key=value at column {pos + 1}: {line[pos:pos + 40]!r}")
        pairs.append((m.group(1), unquote(m.group(2))))
        pos = m.end()
    return pairs


def parse_json(line):
    def no_duplicates(items):
        keys = [k for k, _ in items]
        if len(keys) != len(set(keys)):
            raise ValueError(f"duplicate key in {keys}")
        return items

    pairs = json.loads(line, object_pairs_hook=no_duplicates)
    if not isinstance(pairs, list):
        raise ValueError("not a JSON object")
    for k, v in pairs:
        if not isinstance(v, str):
            raise ValueError(f"value of {k} is not a string")
    return pairs


def check_event(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError(f"duplicate key in {keys}")
    if keys[:3] != ["ts", "level", "msg"]:
        raise ValueError(f"must start with ts, level, msg; got {keys[:3]}")
    fields = dict(pairs)
    if not TS.match(fields["ts"]):
        raise ValueError(f"bad ts {fields['ts']!r}")
    if fields["level"] not in LEVELS:
        raise ValueError(f"bad level {fields['level']!r}")


def check_file(path):
    parse = parse_json if path.suffix == ".json" else parse_logfmt
    raw = path.read_bytes()
    text = raw.decode("utf-8")  # strict: raises on invalid UTF-8
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for n, line in enumerate(lines, 1):
        try:
            check_event(parse(line))
        except (ValueError, json.JSONDecodeError) as e:
            raise SystemExit(f"{path}:{n}: {e}\n  {line[:300]}")
    return len(lines)


def main():
    log_dir = pathlib.Path(sys.argv[1])
    files = sorted(p for p in log_dir.glob("*") if p.suffix in (".logfmt", ".json"))
    if not files:
        print(f"{log_dir}: no exporter log in this run; nothing to check")
        sys.exit(77)
    counts = {".logfmt": [0, 0], ".json": [0, 0]}
    for f in files:
        counts[f.suffix][0] += 1
        counts[f.suffix][1] += check_file(f)
    for suffix, (n_files, n_lines) in counts.items():
        print(f"{suffix[1:]}: {n_files} files, {n_lines} lines, all valid")
    if len(files) >= 6 and (counts[".logfmt"][1] == 0 or counts[".json"][1] == 0):
        raise SystemExit("expected lines in both formats")


if __name__ == "__main__":
    main()
