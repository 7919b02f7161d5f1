; VetBridge installer (NSIS 3). Built by `make windows`:
;   makensis -DVERSION=0.1.0 -DVIVERSION=0.1.0.1 -DEXE=dist/windows/vetbridge.exe \
;            -DOUTFILE=dist/windows/VetBridge-0.1.0-Setup.exe packaging/windows/vetbridge.nsi
;
; Command line (for deployment tools):
;   /S               silent
;   /ALLUSERS        per machine, into $PROGRAMFILES64\VetBridge (needs an elevated installer);
;                    default: per user into $LOCALAPPDATA\Programs\VetBridge, no admin rights
;   /DICOMPORT=N     port of the firewall rule added when elevated (default 11112)
;   /NOSTART         do not start VetBridge after installing
;   /D=DIR           install directory (NSIS built-in, must be last)
; Uninstaller: /S silent, /PURGE also deletes the data directory ($LOCALAPPDATA\VetBridge:
; worklist store, settings, logs) and the stored sign-in.
;
; An upgrade is an install over the old one: the running VetBridge is asked to quit through
; its local API (`vetbridge.exe quit`), files are replaced, the data directory is never touched,
; and VetBridge is started again. Autostart at sign-in (HKCU Run value "VetBridge") belongs to
; the app's own setting; the uninstaller only removes it.

; A 64-bit installer: VetBridge is amd64 only, and a 64-bit installer sees the real
; Program Files and registry without WOW64 redirection (and runs under a wine64-only Wine).
Target amd64-unicode
ManifestDPIAware true
RequestExecutionLevel user
SetCompressor /SOLID lzma

!ifndef VERSION
  !error "pass -DVERSION=x.y.z (from FyneApp.toml)"
!endif
!ifndef VIVERSION
  !define VIVERSION "${VERSION}.0"
!endif
!ifndef EXE
  !define EXE "..\..\dist\windows\vetbridge.exe"
!endif
!ifndef OUTFILE
  !define OUTFILE "..\..\dist\windows\VetBridge-${VERSION}-Setup.exe"
!endif

!define APPNAME "VetBridge"
!define APPEXE "vetbridge.exe"
!define UNINSTKEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\VetBridge"
!define RUNKEY "Software\Microsoft\Windows\CurrentVersion\Run"
!define FWRULE "VetBridge DICOM"
!define DEFAULT_DICOM_PORT 11112

!include "MUI2.nsh"
!include "FileFunc.nsh"
!include "LogicLib.nsh"
!include "nsDialogs.nsh"

Name "${APPNAME} ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\${APPNAME}"
ShowInstDetails show
ShowUninstDetails show
BrandingText "${APPNAME} ${VERSION}"

VIProductVersion "${VIVERSION}"
VIAddVersionKey /LANG=1033 "ProductName" "${APPNAME}"
VIAddVersionKey /LANG=1033 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "FileDescription" "${APPNAME} installer"
VIAddVersionKey /LANG=1033 "CompanyName" "${APPNAME}"
VIAddVersionKey /LANG=1033 "LegalCopyright" ""

Var AllUsers
Var Elevated
Var DicomPort
Var NoStart
Var Purge
Var DataDir

!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN
!define MUI_FINISHPAGE_RUN_TEXT "Start ${APPNAME}"
!define MUI_FINISHPAGE_RUN_FUNCTION StartApp
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH

!insertmacro MUI_UNPAGE_CONFIRM
UninstPage custom un.PurgePageCreate un.PurgePageLeave
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

; ---------------------------------------------------------------- shared helpers

!macro DetectElevation
  UserInfo::GetAccountType
  Pop $0
  ${If} $0 == "Admin"
    StrCpy $Elevated 1
  ${Else}
    StrCpy $Elevated 0
  ${EndIf}
!macroend

; ---------------------------------------------------------------- install

Function .onInit
  SetRegView 64
  !insertmacro DetectElevation
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/ALLUSERS" $1
  ${IfNot} ${Errors}
    StrCpy $AllUsers 1
  ${Else}
    StrCpy $AllUsers 0
  ${EndIf}
  ClearErrors
  ${GetOptions} $R0 "/NOSTART" $1
  ${IfNot} ${Errors}
    StrCpy $NoStart 1
  ${Else}
    StrCpy $NoStart 0
  ${EndIf}
  StrCpy $DicomPort ${DEFAULT_DICOM_PORT}
  ClearErrors
  ${GetOptions} $R0 "/DICOMPORT=" $1
  ${IfNot} ${Errors}
    IntOp $2 $1 + 0
    ${If} $2 < 1
    ${OrIf} $2 > 65535
      MessageBox MB_ICONSTOP "/DICOMPORT=$1 is not a TCP port (1-65535)." /SD IDOK
      SetErrorLevel 2
      Quit
    ${EndIf}
    StrCpy $DicomPort $2
  ${EndIf}

  ; /D=DIR sets $INSTDIR before .onInit: only a default directory may be changed below.
  StrCpy $R1 0
  ${If} $INSTDIR == "$LOCALAPPDATA\Programs\${APPNAME}"
    StrCpy $R1 1
  ${EndIf}
  ${If} $AllUsers == 1
    ${If} $Elevated != 1
      MessageBox MB_ICONSTOP "Installing for all users (/ALLUSERS) needs an elevated installer: run it as administrator." /SD IDOK
      SetErrorLevel 740 ; ERROR_ELEVATION_REQUIRED, what deployment tools expect
      Quit
    ${EndIf}
    SetShellVarContext all
    ${If} $R1 == 1
      StrCpy $INSTDIR "$PROGRAMFILES64\${APPNAME}"
    ${EndIf}
  ${Else}
    SetShellVarContext current
  ${EndIf}
  ; An upgrade goes where the previous version is (unless /D= says otherwise).
  ${If} $R1 != 1
    Return
  ${EndIf}
  ${If} $AllUsers == 1
    ReadRegStr $1 HKLM "${UNINSTKEY}" "InstallLocation"
  ${Else}
    ReadRegStr $1 HKCU "${UNINSTKEY}" "InstallLocation"
  ${EndIf}
  ${If} $1 != ""
  ${AndIf} ${FileExists} "$1\${APPEXE}"
    StrCpy $INSTDIR $1
  ${EndIf}
FunctionEnd

; Asks a running VetBridge (this user's) to quit through its local API, so that files can be
; replaced; `quit` waits for it to exit and succeeds when none runs.
Function QuitRunning
  ${If} ${FileExists} "$INSTDIR\${APPEXE}"
    DetailPrint "Asking a running ${APPNAME} to quit"
    nsExec::ExecToLog '"$INSTDIR\${APPEXE}" quit'
    Pop $0
    ${If} $0 != 0
      DetailPrint "${APPNAME} quit: exit $0; replacing the program anyway"
    ${EndIf}
    ; Another user's VetBridge (per-machine install) still holds the exe open: Windows lets a
    ; running program be renamed, so move it aside and delete it at the next restart.
    Delete "$INSTDIR\${APPEXE}.old"
    ClearErrors
    Delete "$INSTDIR\${APPEXE}"
    ${If} ${Errors}
      Rename "$INSTDIR\${APPEXE}" "$INSTDIR\${APPEXE}.old"
      Delete /REBOOTOK "$INSTDIR\${APPEXE}.old"
    ${EndIf}
  ${EndIf}
FunctionEnd

Function AddFirewallRule
  ${If} $Elevated == 1
    ; Replace rather than add twice: an upgrade, or a new port.
    nsExec::ExecToLog 'netsh advfirewall firewall delete rule name="${FWRULE}" program="$INSTDIR\${APPEXE}"'
    Pop $0
    nsExec::ExecToLog 'netsh advfirewall firewall add rule name="${FWRULE}" dir=in action=allow program="$INSTDIR\${APPEXE}" protocol=TCP localport=$DicomPort'
    Pop $0
    ${If} $0 == 0
      DetailPrint "Windows Firewall: inbound TCP $DicomPort allowed for ${APPEXE}"
      WriteRegDWORD SHCTX "${UNINSTKEY}" "FirewallPort" $DicomPort
    ${Else}
      DetailPrint "Windows Firewall rule not added (netsh exit $0): ${APPNAME} will explain on first run"
    ${EndIf}
  ${Else}
    DetailPrint "Not elevated: no firewall rule; Windows asks on first run, and ${APPNAME} explains why"
  ${EndIf}
FunctionEnd

Function StartApp
  ${If} $NoStart == 1
    Return
  ${EndIf}
  ${If} $Elevated == 1
    ; An elevated installer would start VetBridge elevated (and as the admin who elevated);
    ; Explorer starts it as the signed-in user, with a normal token.
    Exec '"$WINDIR\explorer.exe" "$INSTDIR\${APPEXE}"'
  ${Else}
    Exec '"$INSTDIR\${APPEXE}"'
  ${EndIf}
FunctionEnd

Section "${APPNAME}" SecMain
  SectionIn RO
  SetOutPath "$INSTDIR"
  Call QuitRunning
  File "/oname=${APPEXE}" "${EXE}"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateShortcut "$SMPROGRAMS\${APPNAME}.lnk" "$INSTDIR\${APPEXE}" "" "$INSTDIR\${APPEXE}" 0

  WriteRegStr SHCTX "${UNINSTKEY}" "DisplayName" "${APPNAME}"
  WriteRegStr SHCTX "${UNINSTKEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr SHCTX "${UNINSTKEY}" "Publisher" "${APPNAME}"
  WriteRegStr SHCTX "${UNINSTKEY}" "DisplayIcon" "$INSTDIR\${APPEXE},0"
  WriteRegStr SHCTX "${UNINSTKEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr SHCTX "${UNINSTKEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr SHCTX "${UNINSTKEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD SHCTX "${UNINSTKEY}" "NoModify" 1
  WriteRegDWORD SHCTX "${UNINSTKEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD SHCTX "${UNINSTKEY}" "EstimatedSize" "$0"

  Call AddFirewallRule
SectionEnd

Function .onInstSuccess
  ; Interactive installs offer "Start VetBridge" on the finish page; silent ones start it
  ; unless told not to, or when run by a deployment service as SYSTEM (no desktop to show on).
  ${If} ${Silent}
  ${AndIf} $NoStart != 1
    UserInfo::GetName
    Pop $0
    ${If} $0 != "SYSTEM"
      Call StartApp
    ${EndIf}
  ${EndIf}
FunctionEnd

; ---------------------------------------------------------------- uninstall

Function un.onInit
  SetRegView 64
  !insertmacro DetectElevation
  ; The data directory is per user whatever the install mode ($LOCALAPPDATA follows the
  ; shell context, set to all users below for a per-machine uninstall).
  SetShellVarContext current
  StrCpy $DataDir "$LOCALAPPDATA\${APPNAME}"
  ; Which install is this uninstaller's? The per-machine one records this directory in HKLM.
  ReadRegStr $0 HKLM "${UNINSTKEY}" "InstallLocation"
  ${If} $0 == $INSTDIR
    StrCpy $AllUsers 1
    ${If} $Elevated != 1
      MessageBox MB_ICONSTOP "${APPNAME} was installed for all users: uninstall it as administrator." /SD IDOK
      SetErrorLevel 740
      Quit
    ${EndIf}
    SetShellVarContext all
  ${Else}
    StrCpy $AllUsers 0
    SetShellVarContext current
  ${EndIf}
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/PURGE" $1
  ${IfNot} ${Errors}
    StrCpy $Purge 1
  ${Else}
    StrCpy $Purge 0
  ${EndIf}
FunctionEnd

Var PurgeBox
Function un.PurgePageCreate
  !insertmacro MUI_HEADER_TEXT "Your data" "Keep the worklist data for a later reinstall?"
  nsDialogs::Create 1018
  Pop $0
  ${NSD_CreateLabel} 0 0 100% 36u "${APPNAME} keeps this user's worklist store, settings, logs and Provet sign-in in $DataDir. They are kept unless you tick the box; reinstalling then continues where it stopped."
  Pop $0
  ${NSD_CreateCheckbox} 0 44u 100% 12u "Also delete the data, settings, logs and sign-in"
  Pop $PurgeBox
  ${If} $Purge == 1
    ${NSD_Check} $PurgeBox
  ${EndIf}
  nsDialogs::Show
FunctionEnd

Function un.PurgePageLeave
  ${NSD_GetState} $PurgeBox $0
  ${If} $0 == ${BST_CHECKED}
    StrCpy $Purge 1
  ${Else}
    StrCpy $Purge 0
  ${EndIf}
FunctionEnd

Section "Uninstall"
  DetailPrint "Asking a running ${APPNAME} to quit"
  nsExec::ExecToLog '"$INSTDIR\${APPEXE}" quit'
  Pop $0

  ${If} $Purge == 1
    ; The sign-in lives in Windows Credential Manager, outside the data directory.
    nsExec::ExecToLog '"$INSTDIR\${APPEXE}" logout'
    Pop $0
  ${EndIf}

  ${If} $Elevated == 1
    nsExec::ExecToLog 'netsh advfirewall firewall delete rule name="${FWRULE}" program="$INSTDIR\${APPEXE}"'
    Pop $0
  ${EndIf}

  ; Autostart is per user (HKCU): remove this user's, so Windows does not start a deleted exe.
  DeleteRegValue HKCU "${RUNKEY}" "${APPNAME}"
  DeleteRegValue HKCU "Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run" "${APPNAME}"

  Delete "$SMPROGRAMS\${APPNAME}.lnk"
  Delete "$INSTDIR\${APPEXE}"
  Delete /REBOOTOK "$INSTDIR\${APPEXE}.old"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey SHCTX "${UNINSTKEY}"

  ${If} $Purge == 1
    RMDir /r "$DataDir"
    DetailPrint "Deleted $DataDir"
  ${Else}
    DetailPrint "Kept the data directory $DataDir (uninstall with /PURGE to delete it)"
  ${EndIf}
SectionEnd
