; Inno Setup script: packaging\windows\build.ps1 compiles it with /DVersion=<version>.
[Setup]
AppId={{6C1F3B0E-8E1A-4D7B-9C51-2D6F1E0A9B11}
AppName=pmdesk
AppVersion={#Version}
AppPublisher=The pmdesk developers
DefaultDirName={autopf}\pmdesk
DefaultGroupName=pmdesk
OutputDir=..\..\dist
OutputBaseFilename=pmdesk-{#Version}-setup
SetupIconFile=pmdesk.ico
Compression=lzma2
SolidCompression=yes
ArchitecturesInstallIn64BitMode=x64compatible
ChangesEnvironment=yes

[Files]
Source: "..\..\dist\pmdesk\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion

[Icons]
Name: "{group}\pmdesk"; Filename: "{app}\pmdesk.exe"
Name: "{autodesktop}\pmdesk"; Filename: "{app}\pmdesk.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop icon"; Flags: unchecked

[Registry]
; `pmdesk` on the PATH for the command line and scripts
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Check: NeedsAddPath('{app}')

[Code]
function NeedsAddPath(Dir: string): Boolean;
var Paths: string;
begin
  if not RegQueryStringValue(HKCU, 'Environment', 'Path', Paths) then begin Result := True; exit; end;
  Result := Pos(';' + Uppercase(ExpandConstant(Dir)) + ';', ';' + Uppercase(Paths) + ';') = 0;
end;
