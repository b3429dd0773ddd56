# Windows recipe (not built in this project's CI, which runs on Linux): dist\pmdesk\ and an
# Inno Setup installer dist\pmdesk-<version>-setup.exe. Needs Python 3.11+ and Inno Setup 6 (iscc on PATH).
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..\..")
py -3 -m venv .venv-win
.venv-win\Scripts\pip install -q -e ".[package]"
$version = .venv-win\Scripts\python -c "import pmdesk; print(pmdesk.__version__)"
$env:QT_QPA_PLATFORM = "offscreen"
.venv-win\Scripts\python packaging\render_icons.py resources\pmdesk.svg build\icons pmdesk
.venv-win\Scripts\python -c "from PySide6.QtGui import QGuiApplication, QImage; a = QGuiApplication([]); QImage('build/icons/256x256/apps/pmdesk.png').save('packaging/windows/pmdesk.ico')"
.venv-win\Scripts\python -m PyInstaller --noconfirm --distpath dist --workpath build\pyinstaller packaging\pmdesk.spec
dist\pmdesk\pmdesk.exe --selftest
if ($LASTEXITCODE -ne 0) { throw "selftest of the bundle failed" }
Remove-Item Env:QT_QPA_PLATFORM
iscc /DVersion=$version packaging\windows\pmdesk.iss
