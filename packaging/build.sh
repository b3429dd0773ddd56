#!/usr/bin/env bash
# One command: a self-contained PyInstaller bundle in dist/pmdesk/ and, from it,
# dist/pmdesk_<version>_<arch>.deb (the app in /opt/pmdesk, `pmdesk` on the PATH, a desktop
# entry, hicolor icons and AppStream metainfo).
set -euo pipefail
unset PYTHONPYCACHEPREFIX  # the bundle is built the same whoever calls it (the test suite sets one)
cd "$(dirname "$0")/.."
root=$(pwd)
scripts/setup.sh --package
py=.venv/bin/python
app_id=dev.pmdesk.pmdesk
version=$($py -c "import pmdesk; print(pmdesk.__version__)")
arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
started=$(date +%s)

echo "pmdesk build: bundle (PyInstaller one-dir)"
$py -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller packaging/pmdesk.spec

echo "pmdesk build: .deb"
stage=build/deb
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$stage/opt" "$stage/usr/bin" "$stage/usr/share/applications" \
  "$stage/usr/share/metainfo" "$stage/usr/share/icons/hicolor/scalable/apps"
cp -a dist/pmdesk "$stage/opt/pmdesk"
cat > "$stage/usr/bin/pmdesk" <<'SH'
#!/bin/sh
exec /opt/pmdesk/pmdesk "$@"
SH
chmod 755 "$stage/usr/bin/pmdesk"
cp resources/$app_id.desktop "$stage/usr/share/applications/"
sed -e "s/@VERSION@/$version/" -e "s/@DATE@/$(date -u +%Y-%m-%d)/" resources/$app_id.metainfo.xml \
  > "$stage/usr/share/metainfo/$app_id.metainfo.xml"
cp resources/pmdesk.svg "$stage/usr/share/icons/hicolor/scalable/apps/$app_id.svg"
QT_QPA_PLATFORM=offscreen $py packaging/render_icons.py resources/pmdesk.svg "$stage/usr/share/icons/hicolor" $app_id
size_kb=$(du -sk "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size_kb/" packaging/linux/control > "$stage/DEBIAN/control"

if command -v appstreamcli >/dev/null 2>&1; then
  appstreamcli validate --no-net "$stage/usr/share/metainfo/$app_id.metainfo.xml"
fi
if command -v desktop-file-validate >/dev/null 2>&1; then
  desktop-file-validate "$stage/usr/share/applications/$app_id.desktop"
fi
deb="dist/pmdesk_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz -z1 --build "$stage" "$deb" >/dev/null
echo "pmdesk build: $root/$deb ($(du -h "$deb" | cut -f1); bundle $(du -sh dist/pmdesk | cut -f1)) in $(( $(date +%s) - started )) s"
