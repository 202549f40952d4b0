#!/usr/bin/env bash
# Builds the estate-agent and estate-server Debian packages with cargo-deb
# (`cargo install --locked cargo-deb`). See dist/README.md, "Debian packages".
#
#   dist/deb/build.sh                       release binaries (the root Cargo.toml's
#                                           [profile.release]: fat LTO, slow); for releases
#   dist/deb/build.sh --profile dev         debug binaries, light compression (CI)
#   dist/deb/build.sh --profile dev --no-build
#                                           the debug binaries already in target/debug
#                                           (what `cargo test --workspace` left there)
#
# Steps: build the two binaries (unless --no-build); check the configs the packages
# install with those binaries; generate shell completions (bash, zsh, fish) and man
# pages from them (`completions`, `man` subcommands, clap_complete/clap_mangen) into a
# staging directory; run `cargo deb --no-build` for each package. The packages land in
# target/debian/ (printed at the end).
#
# cargo-deb takes binaries from `target/release/` (a prefix it rewrites to its target
# directory) and supports no dev profile. For --profile dev the debug binaries are
# copied into target/deb-dev/release/ and cargo-deb runs with that as its target
# directory, so the same [package.metadata.deb] serves both.
set -euo pipefail
cd "$(dirname "$0")/../.."

profile=release
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile="${2:?--profile needs release or dev}"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
packages=(estate-agent estate-server)
case "$profile" in
  release)
    [ "$build" = 1 ] && cargo build --release --locked -p estate-agent -p estate-server --bins
    bin_dir="$target_dir/release"
    deb_target_dir="$target_dir"
    deb_flags=()
    ;;
  dev)
    [ "$build" = 1 ] && cargo build --locked -p estate-agent -p estate-server --bins
    bin_dir="$target_dir/debug"
    deb_target_dir="$target_dir/deb-dev"
    # Debug info stripped (366 MB -> ~60 MB for the server) and quicker, lighter
    # compression: CI has 2 cores.
    deb_flags=(--strip --fast)
    ;;
  *) echo "build.sh: --profile must be release or dev, not $profile" >&2; exit 2 ;;
esac

for p in "${packages[@]}"; do
  if [ ! -x "$bin_dir/$p" ]; then
    echo "build.sh: $bin_dir/$p is missing (build it, or drop --no-build)" >&2
    exit 1
  fi
done
if [ "$profile" = dev ]; then
  rm -rf "$deb_target_dir/release"
  mkdir -p "$deb_target_dir/release"
  for p in "${packages[@]}"; do cp "$bin_dir/$p" "$deb_target_dir/release/$p"; done
fi

# The configs each package installs must be valid for the binary it ships.
"$bin_dir/estate-agent" check-config config/deb/agent.toml
"$bin_dir/estate-server" check-config config/server.toml

# Completions and man pages, generated from the binaries' clap definitions. Paths under
# target/release/deb-assets/ in [package.metadata.deb] (cargo-deb's target prefix).
assets="$deb_target_dir/release/deb-assets"
rm -rf "$assets"
for p in "${packages[@]}"; do
  out="$assets/$p"
  mkdir -p "$out/completions" "$out/man"
  "$bin_dir/$p" completions bash >"$out/completions/$p"
  "$bin_dir/$p" completions zsh >"$out/completions/_$p"
  "$bin_dir/$p" completions fish >"$out/completions/$p.fish"
  "$bin_dir/$p" man --out-dir "$out/man"
  # Debian policy: man pages gzip-compressed, without a timestamp (-n: reproducible).
  gzip -9n "$out"/man/*.1
  for f in "$out/completions/$p" "$out/completions/_$p" "$out/completions/$p.fish"; do
    [ -s "$f" ] || { echo "build.sh: $f is empty" >&2; exit 1; }
  done
  [ -s "$out/man/$p.1.gz" ] || { echo "build.sh: no man page $p.1 from $p man" >&2; exit 1; }
done

mkdir -p "$target_dir/debian"
rm -f "$target_dir"/debian/estate-agent_*.deb "$target_dir"/debian/estate-server_*.deb
for p in "${packages[@]}"; do
  CARGO_TARGET_DIR="$deb_target_dir" cargo deb --no-build --locked -p "$p" \
    --output "$target_dir/debian/" "${deb_flags[@]}"
done
ls -l "$target_dir"/debian/*.deb
