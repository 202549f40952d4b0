<#
.SYNOPSIS
    Installs (or updates) the Estate agent as the EstateAgent Windows service.

.DESCRIPTION
    Non-interactive, for Intune, SCCM/ConfigMgr or a Group Policy startup script; run it as
    an administrator or SYSTEM from the unzipped estate-agent-windows-x86_64 folder.

    1. Stops the EstateAgent service if it runs (so the executable can be replaced).
    2. Copies estate-agent.exe to %ProgramFiles%\Estate.
    3. Writes %ProgramData%\Estate\agent.toml unless one exists (-ReplaceConfig rewrites it).
    4. Writes the enrolment token (when given) to %ProgramData%\Estate\enrolment-token, and
       restricts it and the state directory (host id, agent token, spool) to SYSTEM and
       Administrators.
    5. Checks the config (estate-agent check-config), registers the service
       (estate-agent service install: automatic start, LocalSystem, restarted on failure)
       and starts it.

    Re-running it is safe: it updates the executable and the service registration, keeps
    an existing config and token, and restarts the service.

    Exit codes:
      0  installed (or updated) and running
      1  not run as an administrator
      2  bad parameters: no -CollectorUrl for a new config, both -EnrolmentToken and
         -EnrolmentTokenFile, a token file that does not exist or is empty, or
         estate-agent.exe missing beside the script
      3  copying the executable or writing the config, token or ACLs failed
      4  the config is invalid (estate-agent check-config printed why)
      5  registering or starting the service failed

.PARAMETER CollectorUrl
    The collector's URL, e.g. https://estate.example.org:8470. Required unless
    %ProgramData%\Estate\agent.toml exists already (and -ReplaceConfig is not given).

.PARAMETER EnrolmentToken
    The collector's enrolment token. Prefer -EnrolmentTokenFile: a command line can be
    logged by the deployment tool.

.PARAMETER EnrolmentTokenFile
    A file holding the enrolment token (copied, not referenced).

.PARAMETER ReplaceConfig
    Rewrite agent.toml even when one exists.

.PARAMETER NoStart
    Register the service but do not start it.

.EXAMPLE
    powershell.exe -NoProfile -ExecutionPolicy Bypass -File install.ps1 -CollectorUrl https://estate.example.org:8470 -EnrolmentTokenFile \\fileserver\estate$\enrolment-token
#>
[CmdletBinding()]
param(
    [string] $CollectorUrl,
    [string] $EnrolmentToken,
    [string] $EnrolmentTokenFile,
    [switch] $ReplaceConfig,
    [switch] $NoStart
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

function Fail([int] $Code, [string] $Message) {
    Write-Error -Message "install.ps1: $Message" -ErrorAction Continue
    exit $Code
}

# SYSTEM (S-1-5-18) and the local Administrators group (S-1-5-32-544), by SID so that a
# localised Windows ("Administratoren") works too.
$Owners = @('*S-1-5-18:(OI)(CI)F', '*S-1-5-32-544:(OI)(CI)F')

function Set-OwnerOnlyAcl([string] $Path) {
    # Drop inherited entries (Users can read ProgramData) and grant full control to
    # SYSTEM and Administrators only; (OI)(CI) makes new files inherit that.
    $grants = @()
    foreach ($owner in $Owners) { $grants += @('/grant:r', $owner) }
    & icacls.exe $Path /inheritance:r @grants /Q | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "icacls $Path exited $LASTEXITCODE" }
}

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    Fail 1 'run as an administrator (or SYSTEM)'
}

$source = Join-Path $PSScriptRoot 'estate-agent.exe'
if (-not (Test-Path -LiteralPath $source -PathType Leaf)) {
    Fail 2 "estate-agent.exe is not beside the script ($source)"
}
if ($EnrolmentToken -and $EnrolmentTokenFile) {
    Fail 2 'give -EnrolmentToken or -EnrolmentTokenFile, not both'
}
$token = $null
if ($EnrolmentTokenFile) {
    if (-not (Test-Path -LiteralPath $EnrolmentTokenFile -PathType Leaf)) {
        Fail 2 "the token file $EnrolmentTokenFile does not exist"
    }
    $token = (Get-Content -LiteralPath $EnrolmentTokenFile -Raw)
} elseif ($EnrolmentToken) {
    $token = $EnrolmentToken
}
if ($null -ne $token) {
    $token = $token.Trim()
    if ($token -eq '') { Fail 2 'the enrolment token is empty' }
}

$programFiles = Join-Path $env:ProgramFiles 'Estate'
$dataDir = Join-Path $env:ProgramData 'Estate'
$stateDir = Join-Path $dataDir 'state'
$logDir = Join-Path $dataDir 'logs'
$config = Join-Path $dataDir 'agent.toml'
$tokenFile = Join-Path $dataDir 'enrolment-token'
$exe = Join-Path $programFiles 'estate-agent.exe'

$writeConfig = $ReplaceConfig -or -not (Test-Path -LiteralPath $config -PathType Leaf)
if ($writeConfig -and -not $CollectorUrl) {
    Fail 2 "-CollectorUrl is required: $config does not exist yet"
}
if ($CollectorUrl -and -not ($CollectorUrl -match '^https?://[^\s"]+$')) {
    Fail 2 "-CollectorUrl must be an http:// or https:// URL, got '$CollectorUrl'"
}

# 1. Stop a running service so that its executable can be replaced.
$service = Get-Service -Name 'EstateAgent' -ErrorAction SilentlyContinue
if ($null -ne $service -and $service.Status -ne 'Stopped') {
    try {
        Stop-Service -Name 'EstateAgent' -Force
        $service.WaitForStatus('Stopped', [TimeSpan]::FromSeconds(60))
    } catch {
        Fail 5 "stopping the running EstateAgent service: $_"
    }
}

try {
    # 2. The executable.
    New-Item -ItemType Directory -Force -Path $programFiles | Out-Null
    Copy-Item -LiteralPath $source -Destination $exe -Force

    # 3. The config (TOML literal strings: the backslashes stay as they are).
    foreach ($dir in @($dataDir, $stateDir, $logDir)) {
        New-Item -ItemType Directory -Force -Path $dir | Out-Null
    }
    Set-OwnerOnlyAcl $stateDir
    if ($writeConfig) {
        $text = @"
# Estate agent configuration, written by install.ps1. Edit it here; re-running
# install.ps1 keeps it (unless -ReplaceConfig). Every key: ``estate-agent gen-config``.

[collector]
url = "$CollectorUrl"
enrolment_token_file = '$tokenFile'

[agent]
state_dir = '$stateDir'
report_interval_secs = 300

[labels]
# site = "county-hall"
"@
        # UTF-8 without a byte order mark (Windows PowerShell 5.1's -Encoding UTF8 writes one).
        [IO.File]::WriteAllText($config, $text, (New-Object Text.UTF8Encoding($false)))
        Write-Output "wrote $config"
    } else {
        Write-Output "kept $config"
    }

    # 4. The enrolment token, for SYSTEM and Administrators only.
    if ($null -ne $token) {
        # Restricted while still empty, so the token is never readable by Users; writing
        # into the existing file keeps its ACL.
        New-Item -ItemType File -Force -Path $tokenFile | Out-Null
        & icacls.exe $tokenFile /inheritance:r /grant:r '*S-1-5-18:F' '*S-1-5-32-544:F' /Q | Out-Null
        if ($LASTEXITCODE -ne 0) { throw "icacls $tokenFile exited $LASTEXITCODE" }
        [IO.File]::WriteAllText($tokenFile, $token, (New-Object Text.UTF8Encoding($false)))
        Write-Output "wrote $tokenFile (SYSTEM and Administrators only)"
    } elseif (-not (Test-Path -LiteralPath $tokenFile -PathType Leaf)) {
        Write-Warning "no enrolment token given and $tokenFile does not exist: the agent cannot enrol until it does"
    }
} catch {
    Fail 3 "$_"
}

# 5. Check the config, register the service and start it.
& $exe check-config $config
if ($LASTEXITCODE -ne 0) { Fail 4 "$config is invalid (above)" }

& $exe service install --config $config
if ($LASTEXITCODE -ne 0) { Fail 5 "estate-agent service install exited $LASTEXITCODE" }
if (-not $NoStart) {
    & $exe service start
    if ($LASTEXITCODE -ne 0) {
        Fail 5 "estate-agent service start exited $LASTEXITCODE (see $logDir\agent.log)"
    }
}
Write-Output "Estate agent installed: $exe, config $config, logs $logDir"
exit 0
