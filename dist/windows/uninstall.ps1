<#
.SYNOPSIS
    Removes the Estate agent's EstateAgent Windows service and its executable.

.DESCRIPTION
    Non-interactive (Intune, SCCM/ConfigMgr, Group Policy); run as an administrator or
    SYSTEM. Stops and deletes the service (estate-agent service uninstall, or sc.exe when
    the executable is gone already) and removes %ProgramFiles%\Estate. The config, the
    enrolment token, the state (host id, agent token, unsent reports) and the logs under
    %ProgramData%\Estate stay unless -RemoveData is given: a reinstall then keeps the
    computer's identity in the collector.

    Re-running it is safe: what is already gone is skipped.

    Exit codes:
      0  removed (or nothing was installed)
      1  not run as an administrator
      3  removing the files failed
      5  stopping or deleting the service failed

.PARAMETER RemoveData
    Also delete %ProgramData%\Estate (config, token, state, logs).
#>
[CmdletBinding()]
param(
    [switch] $RemoveData
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

function Fail([int] $Code, [string] $Message) {
    Write-Error -Message "uninstall.ps1: $Message" -ErrorAction Continue
    exit $Code
}

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    Fail 1 'run as an administrator (or SYSTEM)'
}

$programFiles = Join-Path $env:ProgramFiles 'Estate'
$dataDir = Join-Path $env:ProgramData 'Estate'
$exe = Join-Path $programFiles 'estate-agent.exe'

if (Test-Path -LiteralPath $exe -PathType Leaf) {
    # Stops the service (the agent flushes its spool) and deletes it; "not installed" is success.
    & $exe service uninstall
    if ($LASTEXITCODE -ne 0) { Fail 5 "estate-agent service uninstall exited $LASTEXITCODE" }
} elseif ($null -ne (Get-Service -Name 'EstateAgent' -ErrorAction SilentlyContinue)) {
    # The executable is gone but the registration is not.
    try {
        Stop-Service -Name 'EstateAgent' -Force -ErrorAction SilentlyContinue
        & sc.exe delete EstateAgent | Out-Null
        if ($LASTEXITCODE -ne 0) { throw "sc.exe delete exited $LASTEXITCODE" }
    } catch {
        Fail 5 "$_"
    }
}

try {
    if (Test-Path -LiteralPath $programFiles) {
        Remove-Item -LiteralPath $programFiles -Recurse -Force
        Write-Output "removed $programFiles"
    }
    if ($RemoveData -and (Test-Path -LiteralPath $dataDir)) {
        Remove-Item -LiteralPath $dataDir -Recurse -Force
        Write-Output "removed $dataDir"
    }
} catch {
    Fail 3 "$_"
}
Write-Output 'Estate agent uninstalled'
exit 0
