#!/usr/bin/env bash
# Builds the Debian package: the release binary, its manual page and shell completions, the
# configuration from the example (data under /var/lib/pharos), then cargo-deb.
# Prints the path of the .deb.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo deb --version >/dev/null 2>&1; then
  cargo install cargo-deb --locked --quiet
fi
cargo build --release --locked -p pharos
assets=target/package
mkdir -p "$assets"
bin=target/release/pharos
"$bin" man | gzip -9n >"$assets/pharos.1.gz"
"$bin" completions bash >"$assets/pharos.bash"
"$bin" completions zsh >"$assets/_pharos"
"$bin" completions fish >"$assets/pharos.fish"
"$bin" config example \
  | sed 's|^database = "pharos.db"|database = "/var/lib/pharos/pharos.db"|' >"$assets/pharos.toml"
grep -q '^database = "/var/lib/pharos/pharos.db"' "$assets/pharos.toml" \
  || { echo "error: the example's database line changed; update scripts/deb.sh" >&2; exit 1; }
cargo deb -p pharos --no-build --quiet
ls -t target/debian/pharos_*.deb | head -1
