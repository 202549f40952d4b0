#!/usr/bin/env bash
# CI's check of the Debian packages (.ci/run, last section; runnable alone, as root, on a
# Debian machine without estate-agent/estate-server installed):
#   1. build both packages from the debug binaries already in target/debug
#      (dist/deb/build.sh --profile dev --no-build; builds them when missing);
#   2. install them with dpkg -i (no systemd running: units enabled, nothing started);
#   3. check what was installed: the installed agent collects one report from this host
#      and the installed server audits it (an invalid report fails), check-config passes
#      on both installed configs, the estate user, the token, modes, conffiles, units
#      enabled, completions and man pages present;
#   4. reinstall over an edited config (the upgrade path): the edit and the token survive;
#   5. purge both and check that nothing of them is left but the server's database
#      (kept on purge; deleted here); the `estate` user, which Debian packages keep, is
#      deleted here when this script created it.
# The purge also runs when a check fails, so the machine is left as it was.
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() { echo "deb check FAILED: $*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

for p in estate-agent estate-server; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q installed; then
    fail "$p is already installed on this machine; this check installs and purges its own copy"
  fi
done
for d in /etc/estate /var/lib/estate-agent /var/lib/estate-server; do
  [ ! -e "$d" ] || fail "$d exists (left by an earlier install?); this check needs a machine without it"
done
had_user=0
getent passwd estate >/dev/null && had_user=1

command -v cargo-deb >/dev/null || cargo install --locked cargo-deb

no_build=(--no-build)
[ -x target/debug/estate-agent ] && [ -x target/debug/estate-server ] || no_build=()
dist/deb/build.sh --profile dev "${no_build[@]}"
agent_deb=$(ls target/debian/estate-agent_*.deb)
server_deb=$(ls target/debian/estate-server_*.deb)

work=$(mktemp -d)
cleanup() {
  as_root dpkg --purge estate-agent estate-server >"$work/purge.log" 2>&1 \
    || { cat "$work/purge.log"; echo "deb check: purge failed" >&2; }
  # The server's purge keeps a database (checked below); this machine had none.
  as_root rm -rf /var/lib/estate-server
  if [ "$had_user" = 0 ] && getent passwd estate >/dev/null; then
    as_root userdel estate
    getent group estate >/dev/null && as_root groupdel estate
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "--- dpkg -i $agent_deb $server_deb"
as_root env DEBIAN_FRONTEND=noninteractive dpkg -i "$agent_deb" "$server_deb"

echo "--- the installed agent collects one report; the installed server audits it"
/usr/bin/estate-agent --version
/usr/bin/estate-agent check-config /etc/estate/agent.toml
/usr/bin/estate-agent collect --burst-ms 500 >"$work/report.json"
grep -q '"report_id"' "$work/report.json" || fail "no report_id in the agent's report"
# --fail-below 0: exit 0 for any assessed report; 2 when it is not a valid report.
/usr/bin/estate-server audit --report "$work/report.json" --profile baseline \
  --fail-below 0 --format json >"$work/audit.json"
grep -q '"profile": "baseline"' "$work/audit.json" || fail "the audit names no profile"

echo "--- the installed server's config, user, token and modes"
/usr/bin/estate-server check-config /etc/estate/server.toml
# The service user reads its config and token (what `serve` does at start).
as_root runuser -u estate -- /usr/bin/estate-server check-config /etc/estate/server.toml
as_root runuser -u estate -- test -r /etc/estate/enrolment-token \
  || fail "estate cannot read /etc/estate/enrolment-token"
expect_stat() { # FILE "OWNER:GROUP MODE"
  local got; got=$(stat -c '%U:%G %a' "$1")
  [ "$got" = "$2" ] || fail "$1 is $got, expected $2"
}
expect_stat /etc/estate/enrolment-token "root:estate 640"
expect_stat /etc/estate/server.toml "root:estate 640"
expect_stat /etc/estate/agent.toml "root:root 644"
expect_stat /var/lib/estate-server "estate:estate 700"
expect_stat /var/lib/estate-agent "root:root 700"
[ "$(tr -d '\n' </etc/estate/enrolment-token | wc -c)" = 64 ] || fail "the token is not 64 characters"
token=$(cat /etc/estate/enrolment-token)

echo "--- conffiles, enabled units, completions, man pages"
dpkg-query -W -f='${Conffiles}\n' estate-agent | grep -q ' /etc/estate/agent.toml ' \
  || fail "/etc/estate/agent.toml is not a conffile"
dpkg-query -W -f='${Conffiles}\n' estate-server | grep -q ' /etc/estate/server.toml ' \
  || fail "/etc/estate/server.toml is not a conffile"
for p in estate-agent estate-server; do
  [ -L "/etc/systemd/system/multi-user.target.wants/$p.service" ] || fail "$p.service is not enabled"
  for f in "/usr/share/bash-completion/completions/$p" "/usr/share/zsh/vendor-completions/_$p" \
    "/usr/share/fish/vendor_completions.d/$p.fish" "/usr/share/man/man1/$p.1.gz" \
    "/usr/lib/systemd/system/$p.service"; do
    [ -s "$f" ] || fail "$f is missing"
  done
done
zcat /usr/share/man/man1/estate-server-check-config.1.gz | grep -q 'check\\-config' \
  || fail "no man page for estate-server check-config"

echo "--- reinstall over an edited config: the edit and the token are kept"
echo '# edited by the CI deb check' | as_root tee -a /etc/estate/agent.toml >/dev/null
as_root env DEBIAN_FRONTEND=noninteractive dpkg -i "$agent_deb" "$server_deb" >"$work/reinstall.log"
grep -q 'edited by the CI deb check' /etc/estate/agent.toml || fail "the reinstall overwrote agent.toml"
[ "$(cat /etc/estate/enrolment-token)" = "$token" ] || fail "the reinstall changed the token"
/usr/bin/estate-agent check-config /etc/estate/agent.toml

echo "--- purge: nothing is left but the server's database"
as_root runuser -u estate -- sh -c 'echo test >/var/lib/estate-server/estate.db'
as_root dpkg --purge estate-agent estate-server
[ -f /var/lib/estate-server/estate.db ] || fail "the server's purge deleted its database"
trap - EXIT
cleanup
for p in /usr/bin/estate-agent /usr/bin/estate-server /etc/estate /var/lib/estate-agent \
  /var/lib/estate-server /usr/lib/sysusers.d/estate.conf \
  /etc/systemd/system/multi-user.target.wants/estate-agent.service \
  /etc/systemd/system/multi-user.target.wants/estate-server.service; do
  [ ! -e "$p" ] && [ ! -L "$p" ] || fail "$p is left after the purge"
done
[ -z "$(dpkg-statoverride --list /etc/estate/server.toml)" ] || fail "the stat override of server.toml is left"
if [ "$had_user" = 0 ]; then getent passwd estate >/dev/null && fail "the estate user is left"; fi
echo "deb check: ok ($agent_deb, $server_deb)"
