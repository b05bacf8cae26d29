#!/usr/bin/env bash
# check_exporter_logs.py can fail: each line below is one way the exporter's old "logfmt-looking"
# output broke real parsers, and each must be rejected on its own; a good pair of files must pass.
set -euo pipefail
checker="$(dirname "$0")/check_exporter_logs.py"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
good_logfmt='ts=2026-01-02T03:04:05.678Z level=info msg="database unavailable" err="a \"b\"\nc"'
good_json='{"ts":"2026-01-02T03:04:05.678Z","level":"warn","msg":"x","err":"a\nb"}'
printf '%s\n' "$good_logfmt" >"$dir/ok.logfmt"
printf '%s\n' "$good_json" >"$dir/ok.json"
python3 "$checker" "$dir" || { echo "good lines rejected" >&2; exit 1; }
bad_lines=(
  'ts=2026-01-02T03:04:05.678Z level=warning msg=x'                           # level name
  'ts=2026-01-02T03:04:05.678Z level=info msg=collector failed target=a'      # unquoted space
  'ts=2026-01-02T03:04:05.678Z level=info msg=x error="raw "quote" inside"'   # raw quote
  'ts=2026-01-02T03:04:05.678Z level=info msg=x err="unterminated'            # second line of a libpq message
  '	Is the server running on that host?'                                    # continuation line
  'level=info ts=2026-01-02T03:04:05.678Z msg=x'                              # order
  'ts=2026-01-02 03:04:05 level=info msg=x'                                   # timestamp
  'ts=2026-01-02T03:04:05.678Z level=info msg=x a=1 a=2'                      # duplicate key
)
for line in "${bad_lines[@]}"; do
  rm -f "$dir"/*
  printf '%s\n' "$line" >"$dir/bad.logfmt"
  if python3 "$checker" "$dir" >/dev/null 2>&1; then echo "accepted: $line" >&2; exit 1; fi
done
for line in '{"ts":"2026-01-02T03:04:05.678Z","level":"info","msg":"x","n":1}' \
             '{"ts":"2026-01-02T03:04:05.678Z","level":"info","msg":"x","a":"1","a":"2"}' \
             '{"ts":"2026-01-02T03:04:05.678Z","level":"critical","msg":"x"}'; do
  rm -f "$dir"/*
  printf '%s\n' "$line" >"$dir/bad.json"
  if python3 "$checker" "$dir" >/dev/null 2>&1; then echo "accepted: $line" >&2; exit 1; fi
done
rm -f "$dir"/*
printf 'ts=2026-01-02T03:04:05.678Z level=info msg="\xff"\n' >"$dir/bad.logfmt"
if python3 "$checker" "$dir" >/dev/null 2>&1; then echo "accepted invalid UTF-8" >&2; exit 1; fi
echo "checker rejects all ${#bad_lines[@]} bad logfmt lines, 3 bad JSON lines and invalid UTF-8"
