#!/usr/bin/env bash
# Install treadguard on a Raspberry Pi (Raspberry Pi OS Bookworm, Pi 3/4/5) as a systemd service.
#
#   sudo ./install.sh                 install (re-running changes nothing)
#   sudo ./install.sh --upgrade       reinstall the project from this checkout, in place
#   sudo ./install.sh --uninstall     remove it; keep the runner data and an edited configuration
#   sudo ./install.sh --uninstall --purge   also remove /var/lib/treadguard, the configuration
#                                     and the treadguard user
#   sudo ./install.sh --force         install on a machine that is not a Raspberry Pi
#   ./install.sh --root DIR [--no-venv]     everything into a scratch root: users are written
#                                     into DIR/etc/passwd and DIR/etc/group, nothing is started,
#                                     systemctl is not called (how the tests run it)
#
# Every step prints "STEP: what it did" or "STEP: unchanged". The service is enabled, never
# started: run `treadguard check` with the hardware wired first (docs/install.md).
set -eu

SRC="$(cd "$(dirname "$0")" && pwd)"
ROOT=""
MODE="install"
PURGE=0
VENV=1
EXAMPLE="pi"
FORCE=0

usage() {
  echo "usage: install.sh [--root DIR] [--upgrade | --uninstall [--purge]] [--no-venv]" \
       "[--example pi|pi-relay-only]" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || usage; ROOT="$(cd "$2" && pwd)"; shift 2 ;;
    --root=*) ROOT="$(cd "${1#--root=}" && pwd)"; shift ;;
    --upgrade) MODE="upgrade"; shift ;;
    --uninstall) MODE="uninstall"; shift ;;
    --purge) PURGE=1; shift ;;
    --no-venv) VENV=0; shift ;;
    --force) FORCE=1; shift ;;
    --example) [ $# -ge 2 ] || usage; EXAMPLE="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage ;;
  esac
done
if [ "$PURGE" = 1 ] && [ "$MODE" != "uninstall" ]; then
  echo "install.sh: --purge only goes with --uninstall" >&2; exit 2
fi
if [ ! -f "$SRC/examples/$EXAMPLE.toml" ]; then
  echo "install.sh: --example $EXAMPLE: no examples/$EXAMPLE.toml" >&2; exit 2
fi
if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run it as root (sudo ./install.sh), or with --root DIR" >&2; exit 1
fi
# On the machine itself, only on a Raspberry Pi (a user, groups and a service on a desktop or a
# build server by mistake are worse than a refusal). TREADGUARD_MODEL_FILE: tests only.
MODEL_FILE="${TREADGUARD_MODEL_FILE:-/proc/device-tree/model}"
if [ -z "$ROOT" ] && [ "$FORCE" = 0 ] && [ "$MODE" != "uninstall" ] \
    && ! tr -d '\0' < "$MODEL_FILE" 2>/dev/null | grep -q "Raspberry Pi"; then
  echo "install.sh: this is not a Raspberry Pi ($MODEL_FILE does not say so): nothing done;" \
       "--root DIR installs into a scratch root, --force installs here anyway" >&2
  exit 1
fi

USER_NAME="treadguard"
GROUPS_NEEDED="gpio i2c dialout"
OPT="$ROOT/opt/treadguard"
ETC="$ROOT/etc/treadguard"
CONFIG="$ETC/treadguard.toml"
SHIPPED_SUM="$ETC/.treadguard.toml.shipped.sha256"
STATE="$ROOT/var/lib/treadguard"
UNIT_DIR="$ROOT/etc/systemd/system"
UNIT="$UNIT_DIR/treadguard.service"
WANTS="$UNIT_DIR/multi-user.target.wants/treadguard.service"
WATCHDOG_CONF="$ROOT/etc/systemd/system.conf.d/treadguard-watchdog.conf"
BIN_LINK="$ROOT/usr/local/bin/treadguard"
I2C_LINE="dtparam=i2c_arm=on,i2c_arm_baudrate=400000"
I2C_MARK="# treadguard: I2C bus 1 at 400 kHz (install.sh)"

say() { printf '%s: %s\n' "$1" "$2"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# Writes $2 (a file with the wanted content) to $1 with mode $3; prints what happened.
put_file() {
  local step="$1" dest="$2" src="$3" mode="$4"
  if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
    chmod "$mode" "$dest"; say "$step" "unchanged"; return
  fi
  local verb="installed"
  [ -f "$dest" ] && verb="updated"
  mkdir -p "$(dirname "$dest")"
  install -m "$mode" "$src" "$dest"
  say "$step" "$verb ${dest#"$ROOT"}"
}

# ---------------------------------------------------------------------------------- the user
# In a scratch root the entries go into DIR/etc/passwd and DIR/etc/group; on the machine,
# groupadd/useradd/usermod do it (gpio and i2c exist on Raspberry Pi OS; elsewhere they are
# created as system groups).
next_id() {  # next free system id (100..999) in the file $1
  awk -F: 'BEGIN { n = 100 } $3 >= n && $3 < 1000 { n = $3 + 1 } END { print n }' "$1"
}

step_user() {
  local did=""
  if [ -n "$ROOT" ]; then
    mkdir -p "$ROOT/etc"; touch "$ROOT/etc/passwd" "$ROOT/etc/group"
    for g in $GROUPS_NEEDED "$USER_NAME"; do
      if ! grep -q "^$g:" "$ROOT/etc/group"; then
        echo "$g:x:$(next_id "$ROOT/etc/group"):" >> "$ROOT/etc/group"; did="$did group $g;"
      fi
    done
    if ! grep -q "^$USER_NAME:" "$ROOT/etc/passwd"; then
      local gid; gid="$(awk -F: -v g="$USER_NAME" '$1 == g { print $3 }' "$ROOT/etc/group")"
      echo "$USER_NAME:x:$(next_id "$ROOT/etc/passwd"):$gid:treadguard safety controller:/var/lib/treadguard:/usr/sbin/nologin" \
        >> "$ROOT/etc/passwd"
      did="$did user $USER_NAME;"
    fi
    for g in $GROUPS_NEEDED; do
      if ! awk -F: -v g="$g" -v u="$USER_NAME" \
          '$1 == g { n = split($4, m, ","); for (i = 1; i <= n; i++) if (m[i] == u) f = 1 }
           END { exit !f }' "$ROOT/etc/group"; then
        awk -F: -v OFS=: -v g="$g" -v u="$USER_NAME" \
          '$1 == g { $4 = ($4 == "" ? u : $4 "," u) } { print }' "$ROOT/etc/group" \
          > "$ROOT/etc/group.new"
        mv "$ROOT/etc/group.new" "$ROOT/etc/group"; did="$did $USER_NAME in $g;"
      fi
    done
  else
    for g in $GROUPS_NEEDED; do
      getent group "$g" >/dev/null || { groupadd --system "$g"; did="$did group $g;"; }
    done
    if ! getent passwd "$USER_NAME" >/dev/null; then
      useradd --system --user-group --home-dir /var/lib/treadguard --no-create-home \
        --shell /usr/sbin/nologin --comment "treadguard safety controller" "$USER_NAME"
      did="$did user $USER_NAME;"
    fi
    for g in $GROUPS_NEEDED; do
      if ! id -nG "$USER_NAME" | tr ' ' '\n' | grep -qx "$g"; then
        usermod -aG "$g" "$USER_NAME"; did="$did $USER_NAME in $g;"
      fi
    done
  fi
  if [ -n "$did" ]; then say user "created${did%;}"; else say user "unchanged"; fi
}

# ---------------------------------------------------------------------------------- the venv
# The project and its Pi extra (lgpio, gpiozero's backend: the only one on a Pi 5) in
# /opt/treadguard/.venv. The marker records the checkout's version so re-running is a no-op.
source_digest() {
  (cd "$SRC" && find controller hardware pyproject.toml -type f \
     \( -name '*.py' -o -name '*.toml' -o -name '*.json' -o -name '*.npz' \) -print0 \
     | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

step_venv() {
  if [ "$VENV" = 0 ]; then say venv "skipped (--no-venv)"; return; fi
  local marker="$OPT/.installed-from" want; want="$(source_digest)"
  if [ -x "$OPT/.venv/bin/treadguard" ] && [ -f "$marker" ] && [ "$MODE" != "upgrade" ]; then
    if [ "$(cat "$marker")" = "$want" ]; then say venv "unchanged"
    else say venv "unchanged (installed from another checkout: --upgrade installs this one)"; fi
    return
  fi
  python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
    || { echo "install.sh: treadguard needs Python >= 3.11 (Bookworm has 3.11)" >&2; exit 1; }
  local verb="created"
  [ -x "$OPT/.venv/bin/python" ] && verb="upgraded"
  mkdir -p "$OPT"
  [ -x "$OPT/.venv/bin/python" ] || python3 -m venv "$OPT/.venv"
  "$OPT/.venv/bin/python" -m pip install --quiet --upgrade pip
  "$OPT/.venv/bin/python" -m pip install --quiet --upgrade "$SRC[pi]"
  echo "$want" > "$marker"
  say venv "$verb /opt/treadguard/.venv ($("$OPT/.venv/bin/treadguard" --version))"
}

step_bin() {
  local target="/opt/treadguard/.venv/bin/treadguard"
  if [ -L "$BIN_LINK" ] && [ "$(readlink "$BIN_LINK")" = "$target" ]; then
    say command "unchanged"; return
  fi
  mkdir -p "$(dirname "$BIN_LINK")"; ln -sfn "$target" "$BIN_LINK"
  say command "linked /usr/local/bin/treadguard -> $target"
}

# ---------------------------------------------------------------------------- configuration
# Installed from the example; the checksum of what was shipped tells an edited file (kept,
# the new example goes next to it) from an untouched one (replaced by a newer example).
step_config() {
  local example="$SRC/examples/$EXAMPLE.toml" new; new="$(sha "$example")"
  mkdir -p "$ETC"; chmod 0750 "$ETC"
  if [ ! -f "$CONFIG" ]; then
    install -m 0640 "$example" "$CONFIG"; echo "$new" > "$SHIPPED_SUM"
    say config "installed /etc/treadguard/treadguard.toml from examples/$EXAMPLE.toml"
  elif [ "$(sha "$CONFIG")" = "$new" ]; then
    [ -f "$SHIPPED_SUM" ] && [ "$(cat "$SHIPPED_SUM")" = "$new" ] || echo "$new" > "$SHIPPED_SUM"
    say config "unchanged"
  elif [ -f "$SHIPPED_SUM" ] && [ "$(sha "$CONFIG")" = "$(cat "$SHIPPED_SUM")" ]; then
    install -m 0640 "$example" "$CONFIG"; echo "$new" > "$SHIPPED_SUM"
    say config "updated /etc/treadguard/treadguard.toml (it was the unedited example)"
  elif [ -f "$CONFIG.example" ] && cmp -s "$example" "$CONFIG.example"; then
    say config "unchanged (edited by you: kept)"
  else
    install -m 0640 "$example" "$CONFIG.example"
    say config "kept your edited treadguard.toml; the shipped example is treadguard.toml.example"
  fi
  [ -n "$ROOT" ] || chgrp -R "$USER_NAME" "$ETC"
}

step_state() {
  if [ -d "$STATE" ]; then say state "unchanged"; return; fi
  mkdir -p "$STATE"; chmod 0750 "$STATE"
  [ -n "$ROOT" ] || chown "$USER_NAME:$USER_NAME" "$STATE"
  say state "created /var/lib/treadguard"
}

# ------------------------------------------------------------------------ boot configuration
# I²C bus 1 at 400 kHz (the IMU's FIFO drain fits a 5 ms tick at 400 kHz, not at 100 kHz).
# Other i2c_arm lines are commented out, never deleted; uninstall leaves I²C on.
boot_config() {
  if [ -f "$ROOT/boot/firmware/config.txt" ]; then echo "$ROOT/boot/firmware/config.txt"
  elif [ -f "$ROOT/boot/config.txt" ]; then echo "$ROOT/boot/config.txt"
  elif [ -n "$ROOT" ]; then echo "$ROOT/boot/firmware/config.txt"
  fi
}

step_i2c() {
  local boot; boot="$(boot_config)"
  if [ -z "$boot" ]; then
    say i2c "skipped: no /boot/firmware/config.txt (not a Raspberry Pi?)"; return
  fi
  mkdir -p "$(dirname "$boot")"; touch "$boot"
  if grep -qx "$I2C_LINE" "$boot" \
      && ! grep -v -x "$I2C_LINE" "$boot" | grep -Eq '^[[:space:]]*dtparam=i2c(_arm)?(_baudrate)?[=,]'; then
    say i2c "unchanged"; return
  fi
  sed -E -i 's/^([[:space:]]*dtparam=i2c(_arm)?(_baudrate)?[=,].*)$/#treadguard-disabled: \1/' "$boot"
  printf '%s\n%s\n' "$I2C_MARK" "$I2C_LINE" >> "$boot"
  say i2c "set $I2C_LINE in ${boot#"$ROOT"} (takes effect at the next reboot)"
}

# ----------------------------------------------------------------------- hardware watchdog
# systemd pets the SoC watchdog; if the whole system hangs the board resets (the relay drops
# out while the Pi reboots). The BCM2835 watchdog's longest timeout is about 15 s.
step_watchdog() {
  local tmp; tmp="$(mktemp)"
  cat > "$tmp" <<'EOF'
# treadguard (install.sh): systemd pets the board's hardware watchdog; a hung system resets.
[Manager]
RuntimeWatchdogSec=10s
RebootWatchdogSec=2min
EOF
  put_file watchdog "$WATCHDOG_CONF" "$tmp" 0644; rm -f "$tmp"
}

step_unit() {
  put_file unit "$UNIT" "$SRC/systemd/treadguard.service" 0644
  if [ -L "$WANTS" ]; then say enable "unchanged"; else
    mkdir -p "$(dirname "$WANTS")"; ln -sfn /etc/systemd/system/treadguard.service "$WANTS"
    say enable "enabled treadguard.service (not started: run treadguard check first)"
  fi
  [ -n "$ROOT" ] || systemctl daemon-reload
}

# ------------------------------------------------------------------------------- uninstall
remove() {  # remove() STEP PATH... : rm -rf the paths, say what went
  local step="$1" gone=""; shift
  for p in "$@"; do
    if [ -e "$p" ] || [ -L "$p" ]; then rm -rf "$p"; gone="$gone ${p#"$ROOT"}"; fi
  done
  if [ -n "$gone" ]; then say "$step" "removed$gone"; else say "$step" "unchanged"; fi
}

uninstall() {
  if [ -z "$ROOT" ] && systemctl is-active --quiet treadguard.service; then
    systemctl stop treadguard.service  # a controlled stop; ExecStopPost leaves outputs safe
  fi
  remove enable "$WANTS"
  remove unit "$UNIT"
  [ -n "$ROOT" ] || systemctl daemon-reload
  remove watchdog "$WATCHDOG_CONF"
  remove command "$BIN_LINK"
  remove venv "$OPT"
  if [ "$PURGE" = 1 ]; then
    remove config "$ETC"
    remove state "$STATE"
    if [ -n "$ROOT" ]; then
      if grep -q "^$USER_NAME:" "$ROOT/etc/passwd" 2>/dev/null; then
        sed -i "/^$USER_NAME:/d" "$ROOT/etc/passwd" "$ROOT/etc/group"
        awk -F: -v OFS=: -v u="$USER_NAME" '{ n = split($4, m, ","); $4 = ""
          for (i = 1; i <= n; i++) if (m[i] != u) $4 = ($4 == "" ? m[i] : $4 "," m[i])
          print }' "$ROOT/etc/group" > "$ROOT/etc/group.new"
        mv "$ROOT/etc/group.new" "$ROOT/etc/group"
        say user "removed $USER_NAME"
      else say user "unchanged"; fi
    elif getent passwd "$USER_NAME" >/dev/null; then
      userdel "$USER_NAME"; say user "removed $USER_NAME"
    else say user "unchanged"; fi
  else
    if [ -f "$CONFIG" ] && [ -f "$SHIPPED_SUM" ] && [ "$(sha "$CONFIG")" = "$(cat "$SHIPPED_SUM")" ]; then
      remove config "$ETC"
    elif [ -d "$ETC" ]; then say config "kept /etc/treadguard (edited; --purge removes it)"
    else say config "unchanged"; fi
    if [ -d "$STATE" ]; then say state "kept /var/lib/treadguard (runner data; --purge removes it)"
    else say state "unchanged"; fi
    say user "kept $USER_NAME (--purge removes it)"
  fi
  say i2c "left as is (I2C stays on)"
}

if [ "$MODE" = "uninstall" ]; then uninstall; exit 0; fi
step_user
step_venv
step_bin
step_config
step_state
step_i2c
step_watchdog
step_unit
