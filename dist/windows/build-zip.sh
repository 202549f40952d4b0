#!/usr/bin/env bash
# Builds estate-agent.exe for x86_64-pc-windows-gnu and packs
# estate-agent-windows-x86_64.zip: the exe, the example config, install.ps1,
# uninstall.ps1 and README.txt (docs/windows.md, "Installing on Windows").
#
# Needs the Rust target (rustup target add x86_64-pc-windows-gnu), mingw-w64
# (Debian gcc-mingw-w64-x86-64: ring's build script compiles C) and zip or python3.
#
#   dist/windows/build-zip.sh [OUT_DIR]      # default OUT_DIR: target/dist
#
# PROFILE picks the cargo profile (default release: fat LTO, the shipped build; CI uses
# dist-ci, which builds in a fraction of the time). NO_BUILD=1 packs the exe already built.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
target=x86_64-pc-windows-gnu
profile=${PROFILE:-release}
out=${1:-$repo/target/dist}
name=estate-agent-windows-x86_64

cd "$repo"
if [[ ${NO_BUILD:-0} != 1 ]]; then
  cargo build --profile "$profile" --target "$target" -p estate-agent --bin estate-agent
fi
# cargo's directory for the built-in dev profile is "debug".
dir=$profile
[[ $profile == dev ]] && dir=debug
exe=${CARGO_TARGET_DIR:-$repo/target}/$target/$dir/estate-agent.exe
[[ -f $exe ]] || { echo "build-zip.sh: $exe is missing" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/$name"
cp "$exe" "$stage/$name/estate-agent.exe"
# Windows line endings for the files people open in Notepad or run in PowerShell.
for f in agent.toml install.ps1 uninstall.ps1 README.txt; do
  sed 's/\r*$/\r/' "$here/$f" >"$stage/$name/$f"
done

mkdir -p "$out"
out=$(cd "$out" && pwd)   # zip runs in the staging dir: the path must be absolute
zipfile=$out/$name.zip
rm -f "$zipfile"
if command -v zip >/dev/null; then
  (cd "$stage" && zip -q -X -r "$zipfile" "$name")
else
  (cd "$stage" && python3 -m zipfile -c "$zipfile" "$name")
fi
echo "$zipfile ($(du -h "$zipfile" | cut -f1); exe $(du -h "$exe" | cut -f1), profile $profile)"
