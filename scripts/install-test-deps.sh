#!/usr/bin/env bash
# What the test suite needs beyond Python, from Debian's packages, installed only when missing
# (`make test` runs this first; so does CI through `make test`):
# - chromium: the reports are checked in a real browser (tests/test_report_browser.py);
# - systemd: systemd-analyze verify/security on the unit (tests/test_service_unit.py);
# - mosquitto: the fleet tests start a real broker on loopback with a password file and ACLs
#   (tests/fleet_broker.py); the tests start and stop their own, never the system's service.
# - openssl: the fleet's TLS test makes its own CA and broker certificate
#   (tests/test_fleet_tls.py).
# No such test skips when its tool is missing: it fails and names this script.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
  || missing+=(chromium)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1 || missing+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || missing+=(mosquitto-clients)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing with apt: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
