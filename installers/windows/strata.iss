; Inno Setup 6 script: the Windows installer for the one-folder bundle.
;
; On Windows, from the repository root (see installers/README.md):
;   .venv\Scripts\python -m PyInstaller --noconfirm --distpath build\installer\dist ^
;       --workpath build\installer\work installers\strata.spec
;   build\installer\dist\StrataStudio\studio.exe --self-test
;   "C:\Program Files (x86)\Inno Setup 6\ISCC.exe" installers\windows\strata.iss
; Output: build\installer\StrataStudio-0.1.0-setup.exe
;
; Installs per user by default (no administrator rights); the first page offers
; "install for all users". Registers .strata, a Start menu entry, an optional desktop
; icon, optionally puts `studio` on PATH, and an uninstaller (Settings > Apps).

#define AppName "Strata Studio"
#define AppVersion "0.1.0"
#define AppPublisher "Strata"
#define AppExe "StrataStudio.exe"
#define ProgId "StrataStudio.Project"
#define Root "..\.."

[Setup]
; A fixed AppId: upgrades replace the installed version instead of adding another.
AppId={{6B3E2C71-4F0A-4C5E-9A3B-5D1F7E2A9C40}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppPublisher}
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#Root}\build\installer
OutputBaseFilename=StrataStudio-{#AppVersion}-setup
SetupIconFile={#Root}\assets\icons\app\strata.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
ChangesAssociations=yes
ChangesEnvironment=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "addtopath"; Description: "Add the `studio` command to PATH"; GroupDescription: "Command line:"; Flags: unchecked

[Files]
; The whole PyInstaller folder: StrataStudio.exe (windowed), studio.exe (console), _internal\.
Source: "{#Root}\build\installer\dist\StrataStudio\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"; Comment: "Design, train, explain and export neural networks"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Registry]
; .strata → StrataStudio.Project, opened by the app; HKA is HKCU per user, HKLM for all users.
Root: HKA; Subkey: "Software\Classes\.strata"; ValueType: string; ValueName: ""; ValueData: "{#ProgId}"; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.strata"; ValueType: string; ValueName: "Content Type"; ValueData: "application/x-strata-project"; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.strata\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\{#ProgId}"; ValueType: string; ValueName: ""; ValueData: "Strata Studio project"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\{#ProgId}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"
Root: HKA; Subkey: "Software\Classes\{#ProgId}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".strata"; ValueData: ""; Flags: uninsdeletekey
; `studio` on PATH (the console twin lives in {app}).
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addtopath; Check: NeedsAddPath(ExpandConstant('{app}')) and not IsAdminInstallMode
Root: HKLM; Subkey: "SYSTEM\CurrentControlSet\Control\Session Manager\Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addtopath; Check: NeedsAddPath(ExpandConstant('{app}')) and IsAdminInstallMode

[Run]
; The installed copy runs its self-test (the window opens and closes by itself). Inno Setup
; ignores the exit status of [Run] entries, so this catches a crash early, nothing more;
; `studio.exe --self-test` in a terminal shows the report.
Filename: "{app}\studio.exe"; Parameters: "--self-test"; StatusMsg: "Checking the installation..."; Flags: runhidden waituntilterminated
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
Type: filesandordirs; Name: "{app}\_internal"

[Code]
function NeedsAddPath(Dir: string): Boolean;
var
  Paths: string;
  RootKey: Integer;
  SubKey: string;
begin
  if IsAdminInstallMode then begin
    RootKey := HKEY_LOCAL_MACHINE;
    SubKey := 'SYSTEM\CurrentControlSet\Control\Session Manager\Environment';
  end else begin
    RootKey := HKEY_CURRENT_USER;
    SubKey := 'Environment';
  end;
  if not RegQueryStringValue(RootKey, SubKey, 'Path', Paths) then begin
    Result := True;
    exit;
  end;
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Paths) + ';') = 0;
end;
