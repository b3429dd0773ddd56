#!/usr/bin/env bash
# Installs what pmdesk needs on a fresh Debian/Ubuntu machine: system libraries for Qt's
# xcb platform, Xvfb and fonts (for screenshots and headless runs), Node.js (gate fixtures),
# and a virtual environment with pmdesk itself. Safe to run again: it skips what is there.
#   scripts/setup.sh          the app
#   scripts/setup.sh --test   the app and the test tools
#   scripts/setup.sh --package  the app and PyInstaller
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
case "${1:-}" in
  --test) extras="[test]" ;;        # the test tools (they include the packaging tools)
  --package) extras="[package]" ;;  # PyInstaller, for packaging/build.sh
esac

apt_packages=(
  xvfb xauth fontconfig fonts-dejavu-core
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-randr0
  libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 libxkbcommon-x11-0 libxkbcommon0 libegl1 libgl1
  libfontconfig1 libdbus-1-3 libglib2.0-0
  bubblewrap socat
)
# bubblewrap: a run owns its whole process tree (a PID namespace), and the embedded agent's
# run_command runs in a sandbox; with socat, Claude Code's own Bash sandbox runs too (README).
command -v node >/dev/null 2>&1 || apt_packages+=(nodejs npm)
# packaging/build.sh validates the desktop entry and the AppStream file it ships
[ -n "$extras" ] && apt_packages+=(desktop-file-utils appstream)

if command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "pmdesk setup: installing system packages: ${missing[*]}"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "pmdesk setup: not a Debian system; install Qt's xcb libraries and Xvfb with your package manager" >&2
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
stamp=".venv/.pmdesk-installed${extras}"
if [ "$extras" = "[package]" ] && [ -f ".venv/.pmdesk-installed[test]" ] && \
   [ ! pyproject.toml -nt ".venv/.pmdesk-installed[test]" ]; then
  stamp=".venv/.pmdesk-installed[test]"  # the test tools include PyInstaller
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".${extras}"
  touch "$stamp"
fi

# A fresh machine without Claude Code gets the one bundled in the Agent SDK (about 180 MB), which
# pmdesk falls back to; set PMDESK_NO_BUNDLED_CLAUDE=1 to skip it. The test set-up never needs it.
if [ -z "$extras" ] && [ -z "${PMDESK_NO_BUNDLED_CLAUDE:-}" ] && ! command -v claude >/dev/null 2>&1 \
   && [ ! -x "$HOME/.claude/local/claude" ] && [ ! -f .venv/.pmdesk-installed-claude ]; then
  echo "pmdesk setup: no Claude Code found; installing the CLI bundled with the Agent SDK"
  .venv/bin/python -m pip install -q -e ".[claude]" && touch .venv/.pmdesk-installed-claude
fi

# The real Claude Code CLI from npm, for tests/engine/test_real_claude.py (never run against the internet).
if [ "$extras" = "[test]" ]; then
  fixture=tests/fixtures/claude-code
  if [ ! -x "$fixture/node_modules/.bin/claude" ] || [ "$fixture/package.json" -nt "$fixture/node_modules/.stamp" ]; then
    echo "pmdesk setup: installing the Claude Code CLI test fixture (npm)"
    (cd "$fixture" && npm ci --no-audit --no-fund --loglevel=error) && touch "$fixture/node_modules/.stamp"
  fi
fi
