#!/usr/bin/env bash
# Builds the Debian package, installs it, runs pharos the way its systemd unit does (its
# user, working directory, environment file and command; no systemd needed), checks
# /healthz and a reload, then removes and purges the package and checks nothing is left.
# Needs root (dpkg).
set -euo pipefail
cd "$(dirname "$0")/.."

deb=$(bash scripts/deb.sh | tail -1)
echo "installing $deb"
dpkg -i "$deb" >/dev/null
# Whatever happens below, the machine is left without the package.
trap 'kill "${pid:-}" 2>/dev/null || true; dpkg -P pharos >/dev/null 2>&1 || true' EXIT

fail() { echo "error: $*" >&2; exit 1; }
test -x /usr/bin/pharos || fail "no /usr/bin/pharos"
unit=$(dpkg -L pharos | grep '/systemd/system/pharos.service$') || fail "no systemd unit"
grep -q '^ExecStart=/usr/bin/pharos serve --config /etc/pharos/pharos.toml$' "$unit" || fail "unexpected ExecStart"
grep -q '^NoNewPrivileges=yes$' "$unit" && grep -q '^ProtectSystem=strict$' "$unit" || fail "the unit is not hardened"
test -f /usr/share/man/man1/pharos.1.gz || fail "no manual page"
test -f /usr/share/bash-completion/completions/pharos || fail "no bash completion"
[ "$(stat -c %U:%G:%a /etc/pharos/pharos.toml)" = root:pharos:640 ] || fail "pharos.toml is $(stat -c %U:%G:%a /etc/pharos/pharos.toml)"
[ "$(stat -c %U:%G:%a /etc/pharos/environment)" = root:pharos:640 ] || fail "environment is $(stat -c %U:%G:%a /etc/pharos/environment)"
grep -Eq '^PHAROS_ADMIN_TOKEN=[A-Za-z0-9]{20,}$' /etc/pharos/environment || fail "no admin token generated"
grep -Eq '^PHAROS_WEBHOOK_SECRET=whsec_' /etc/pharos/environment || fail "no webhook secret generated"
getent passwd pharos >/dev/null || fail "no pharos user"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
(
  cd /var/lib/pharos
  set -a; . /etc/pharos/environment; set +a
  exec setpriv --reuid=pharos --regid=pharos --init-groups /usr/bin/pharos serve --config /etc/pharos/pharos.toml --listen "127.0.0.1:$port"
) >"$log" 2>&1 &
pid=$!
healthz() {
  { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
  printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
  local answer; answer=$(cat <&3); exec 3<&-
  [[ "$answer" =~ ^HTTP/1\.[01]\ 200 ]]
}
for _ in $(seq 1 150); do healthz && break; sleep 0.2; done
healthz || { cat "$log"; kill "$pid"; fail "/healthz did not answer 200"; }
[ "$(stat -c %U /var/lib/pharos/pharos.db)" = pharos ] || fail "the database is not the service's"
kill -HUP "$pid"
sleep 1
healthz || { cat "$log"; kill "$pid"; fail "not healthy after a reload"; }
grep -q "configuration reloaded" "$log" || { cat "$log"; fail "the reload was not applied"; }
kill -TERM "$pid"
wait "$pid" || fail "pharos did not stop cleanly on SIGTERM"
echo "the package's pharos served /healthz as its unit would run it"

dpkg -r pharos >/dev/null
test ! -e /usr/bin/pharos || fail "/usr/bin/pharos left after removal"
test -f /etc/pharos/pharos.toml || fail "the configuration went with a removal (it goes with a purge)"
dpkg -P pharos >/dev/null
test ! -e /etc/pharos || fail "/etc/pharos left after purge"
test ! -e /var/lib/pharos || fail "/var/lib/pharos left after purge"
! getent passwd pharos >/dev/null || fail "the pharos user is left after purge"
echo "the package installed, ran and was removed cleanly"
