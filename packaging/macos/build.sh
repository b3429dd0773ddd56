#!/usr/bin/env bash
# macOS recipe (not built in this project's CI, which runs on Linux): dist/pmdesk.app in dist/pmdesk-<version>.dmg.
# Needs Python 3.11+ and the Xcode command line tools. Unsigned; sign with `codesign --deep -s "Developer ID…"`
# and notarize with `xcrun notarytool` before giving it to others.
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -m venv .venv-macos
.venv-macos/bin/pip install -q -e ".[package]"
version=$(.venv-macos/bin/python -c "import pmdesk; print(pmdesk.__version__)")
# the icon: every size iconutil wants, rendered from the same SVG as on Linux
iconset=build/pmdesk.iconset && rm -rf "$iconset" && mkdir -p "$iconset"
QT_QPA_PLATFORM=offscreen .venv-macos/bin/python packaging/render_icons.py resources/pmdesk.svg build/icons pmdesk
for s in 16 32 128 256 512; do cp "build/icons/${s}x${s}/apps/pmdesk.png" "$iconset/icon_${s}x${s}.png"; done
for s in 16 128 256; do d=$((s * 2)); cp "build/icons/${d}x${d}/apps/pmdesk.png" "$iconset/icon_${s}x${s}@2x.png"; done
iconutil -c icns "$iconset" -o packaging/macos/pmdesk.icns
.venv-macos/bin/python -m PyInstaller --noconfirm --distpath dist --workpath build/pyinstaller packaging/pmdesk.spec
QT_QPA_PLATFORM=offscreen dist/pmdesk.app/Contents/MacOS/pmdesk --selftest
hdiutil create -volname pmdesk -srcfolder dist/pmdesk.app -ov -format UDZO "dist/pmdesk-$version.dmg"
echo "dist/pmdesk-$version.dmg"
