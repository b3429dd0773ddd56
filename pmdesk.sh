#!/usr/bin/env bash
# Command 1: install (first time) and launch pmdesk. Arguments go to pmdesk.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
if [ $# -eq 0 ] && [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
  echo "pmdesk is installed, but this machine has no display to open its window on."
  echo "  on a desktop:       ./pmdesk.sh"
  echo "  on a virtual one:   xvfb-run -a ./pmdesk.sh"
  echo "  the command line:   .venv/bin/pmdesk --help"
  exit 0
fi
exec .venv/bin/pmdesk "$@"
