#!/usr/bin/env bash
# Formats every C++ source of the repository with clang-format and the repository's .clang-format
# (Google style, 100 columns). `scripts/format.sh --check` changes nothing and fails, naming each
# file and line, when a file is not formatted; the test suite runs it (test lint.clang_format).
set -euo pipefail
source "$(dirname "$0")/require.sh"
require clang-format git
cd "$(dirname "$0")/.."
mapfile -t sources < <(git ls-files --cached --others --exclude-standard '*.cpp' '*.h')
if [ "${1:-}" = --check ]; then
  clang-format --dry-run --Werror "${sources[@]}"
else
  clang-format -i "${sources[@]}"
fi
