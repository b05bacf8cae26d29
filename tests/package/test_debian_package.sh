#!/usr/bin/env bash
# The .deb as an operator meets it, in a throw-away Debian 12 root made with debootstrap:
#   1. CPack builds the package; systemd-analyze verify accepts its unit (inside the installed root);
#   2. it installs: binary, man page, unit enabled, system user and group, config files 0640
#      root:pg-evolution-exporter (the service's group reads them, others do not);
#   3. the installed binary, run as the service user with /etc/default and the installed config,
#      serves pg_up 1 against the test cluster;
#   4. it upgrades over itself keeping the operator's edit of a conffile;
#   5. purge leaves no file, unit link, user or group behind.
# The base root (debootstrap minbase + the package's runtime dependencies) is cached in
# BUILD/package-test/base: the first run downloads it (about 6 minutes on 2 cores), later runs copy it.
# Needs root (chroot). Usage: test_debian_package.sh BUILD_DIR   (PGE_TEST_PORT: the test cluster)
set -euo pipefail
build=$(cd "${1:?usage: test_debian_package.sh BUILD_DIR}" && pwd)
root_src=$(cd "$(dirname "$0")/../.." && pwd)
source "$root_src/scripts/require.sh"
require debootstrap systemd-analyze dpkg-deb dpkg-shlibdeps file curl
[ "$(id -u)" -eq 0 ] || { echo "test_debian_package.sh: needs root (debootstrap, chroot)" >&2; exit 2; }

work=$build/package-test
base=$work/base
root=$work/root
pkgdir=$work/deb
port=${PGE_TEST_PORT:?PGE_TEST_PORT (the test cluster) is not set}
listen=127.0.0.1:$((port + 90))
svc=pg-evolution-exporter
exporter_pid=

fail() { echo "FAIL: $*" >&2; [ -f "$work/exporter.log" ] && tail -n 20 "$work/exporter.log" >&2; exit 1; }
cleanup() {
  [ -n "$exporter_pid" ] && kill "$exporter_pid" 2>/dev/null || true
  rm -rf "$root"
}
trap cleanup EXIT
in_root() { chroot "$root" "$@"; }

echo "== 1. package"
mkdir -p "$work"
rm -rf "$pkgdir"
(cd "$build" && cpack -G DEB -B "$pkgdir" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log" >&2; fail "cpack"; }
deb=$(ls "$pkgdir"/*.deb)
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'
# The root also gets systemd, for `systemd-analyze verify --root` (its targets and paths).
depends="$(dpkg-deb --field "$deb" Depends), systemd"

echo "== base root (cached)"
if [ ! -f "$base/.depends" ] || [ "$(cat "$base/.depends")" != "$depends" ]; then
  rm -rf "$base"
  mkdir -p "$work"
  if [ ! -f "$base.tmp/.debootstrapped" ]; then
    rm -rf "$base.tmp"
    debootstrap --variant=minbase bookworm "$base.tmp" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
      || { tail -n 20 "$work/debootstrap.log" >&2; fail "debootstrap"; }
    touch "$base.tmp/.debootstrapped"
  fi
  # The package's dependencies, so that each run installs the .deb without the network.
  deps=$(echo "$depends" | tr ',' '\n' | sed 's/(.*)//; s/|.*//; s/ //g' | grep -v '^$' | tr '\n' ' ')
  cp /etc/resolv.conf "$base.tmp/etc/resolv.conf"
  chroot "$base.tmp" apt-get install -y -q --no-install-recommends $deps >"$work/deps.log" 2>&1 \
    || { tail -n 20 "$work/deps.log" >&2; fail "installing dependencies $deps"; }
  chroot "$base.tmp" apt-get clean
  echo "$depends" >"$base.tmp/.depends"
  mv "$base.tmp" "$base"
fi
rm -rf "$root"
cp -a "$base" "$root"

echo "== 2. install"
cp "$deb" "$root/tmp/pkg.deb"
in_root dpkg -i /tmp/pkg.deb >"$work/install.log" 2>&1 || { cat "$work/install.log" >&2; fail "dpkg -i"; }
for f in /usr/bin/pg_evolution_exporter /usr/share/man/man1/pg_evolution_exporter.1.gz \
         /lib/systemd/system/$svc.service /usr/share/$svc/alerts/pg_evolution.rules.yml \
         /usr/share/$svc/grafana/pg_evolution_overview.json /usr/share/doc/$svc/config.md; do
  [ -e "$root$f" ] || fail "$f not installed"
done
[ -L "$root/etc/systemd/system/multi-user.target.wants/$svc.service" ] || fail "unit not enabled"
in_root getent passwd $svc | grep -q ':/usr/sbin/nologin$' || fail "no system user $svc with nologin"
for f in /etc/$svc/config.toml /etc/default/$svc; do
  [ "$(in_root stat -c '%U:%G %a' "$f")" = "root:$svc 640" ] || fail "$f is $(in_root stat -c '%U:%G %a' "$f"), want root:$svc 640"
done
in_root dpkg-query -W -f='${Conffiles}\n' $svc | grep -q "/etc/$svc/config.toml" || fail "config.toml is not a conffile"
chroot --userspec=nobody:nogroup "$root" cat /etc/$svc/config.toml >/dev/null 2>&1 && fail "others can read the config"
echo "ok: installed; config root:$svc 0640, unreadable by others"

echo "== systemd-analyze verify"
# --man=no: the root has no man-db; the man page's presence is checked above.
systemd-analyze verify --man=no --root="$root" /lib/systemd/system/$svc.service >"$work/verify.log" 2>&1 \
  || { cat "$work/verify.log" >&2; fail "systemd-analyze verify"; }
[ ! -s "$work/verify.log" ] || { cat "$work/verify.log" >&2; fail "systemd-analyze verify printed warnings"; }
echo "ok: systemd-analyze verify accepts the unit"

echo "== 3. run as the service user"
sed -i "s|^DATA_SOURCE_NAME=.*|DATA_SOURCE_NAME=\"host=127.0.0.1 port=$port dbname=postgres user=pge_exporter\"|; s|^ARGS=.*|ARGS=\"--web.listen-address=$listen\"|" \
  "$root/etc/default/$svc"
chroot --userspec=$svc:$svc "$root" /bin/sh -c \
  "set -a; . /etc/default/$svc; set +a; exec /usr/bin/pg_evolution_exporter \$ARGS" 2>"$work/exporter.log" &
exporter_pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://$listen/metrics" 2>/dev/null | grep -q '^pg_up{target="default"} 1' && break
  sleep 0.2
done
curl -sf "http://$listen/metrics" | grep -q '^pg_up{target="default"} 1' || fail "no pg_up 1 from the installed exporter"
# chroot and sh exec into the exporter: the pid is the exporter's. Compare uids (the host has no such user).
[ "$(ps -o uid= -p "$exporter_pid" | tr -d ' ')" = "$(in_root id -u $svc)" ] || fail "exporter does not run as $svc"
kill "$exporter_pid"; wait "$exporter_pid" || true; exporter_pid=
mkdir -p "$build/exporter-logs" && cp "$work/exporter.log" "$build/exporter-logs/package_installed.logfmt"
echo "ok: the installed binary, as $svc with the installed config, serves pg_up 1"

echo "== 4. upgrade over itself"
in_root dpkg -i /tmp/pkg.deb >"$work/upgrade.log" 2>&1 || { cat "$work/upgrade.log" >&2; fail "reinstall"; }
grep -q "^DATA_SOURCE_NAME=\"host=127.0.0.1 port=$port" "$root/etc/default/$svc" || fail "the operator's edit of /etc/default/$svc was lost"
[ "$(in_root stat -c '%U:%G %a' /etc/default/$svc)" = "root:$svc 640" ] || fail "permissions changed by the upgrade"
echo "ok: upgrade keeps the edited conffile and its permissions"

echo "== 5. purge"
in_root dpkg --purge $svc >"$work/purge.log" 2>&1 || { cat "$work/purge.log" >&2; fail "purge"; }
left=$(cd "$root" && find etc usr lib var/lib/systemd -name "*pg-evolution-exporter*" -o -name "pg_evolution_exporter*" 2>/dev/null | grep -v '^var/lib/dpkg' || true)
[ -z "$left" ] || fail "left after purge: $left"
in_root getent passwd $svc >/dev/null && fail "user $svc left after purge"
in_root getent group $svc >/dev/null && fail "group $svc left after purge"
echo "ok: purge leaves nothing behind"
