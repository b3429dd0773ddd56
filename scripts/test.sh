#!/usr/bin/env bash
# Command 2: install the test dependencies, then lint, type-check and run the whole suite.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test || exit 1
export QT_QPA_PLATFORM=offscreen PMDESK_NO_KEYRING=1
# The suite starts the pmdesk command a few hundred times: compiled once into a cache outside the
# checkout, each start is about a quarter faster than compiling every module again.
unset PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX="${TMPDIR:-/tmp}/pmdesk-pycache-$(id -u)"
status=0
.venv/bin/ruff check . || status=1
.venv/bin/mypy || status=1
.venv/bin/lint-imports || status=1
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
code=$?
if [ $code -eq 5 ]; then
  echo "pytest collected no tests: that is a failure of the suite" >&2
  code=1
fi
[ $code -ne 0 ] && status=$code
exit $status
