#!/usr/bin/env bash
# Installs signalk-edge from a release (scripts/release.sh) onto this machine, or into a mounted
# root file system for flashing. Idempotent: a second run changes nothing. Prints what it did.
# The board profile says how it starts at boot: a hardened systemd unit, or on Venus OS (Cerbo GX,
# no systemd) a daemontools service under /data linked into /service by /data/rc.local.
#
# usage: install.sh [--tarball FILE] [--board ID] [--root DIR] [--admin-user NAME] [--uninstall [--purge]]
#   --tarball FILE  release tarball (default: the release folder this script sits in)
#   --board ID      board profile (rpi4, rpi5, cerbo-gx, generic); detected when absent,
#                   required with --root (the image's board cannot be detected from here)
#   --root DIR      install into DIR (a mounted image): no systemctl calls, the unit is
#                   enabled by symlink, users are added to DIR/etc by systemd-sysusers --root
#   --admin-user NAME  create the first admin (password from the terminal, asked twice, or the
#                   first line of stdin); without it the script prints how to create one
#   --uninstall     remove the program, unit and cache; keeps the data folder
#   --purge         with --uninstall: remove the data folder too
# Needs node (>= 20.19) on the machine running the script.
set -euo pipefail

NAME=signalk-edge
UNIT_DIR=/etc/systemd/system
ROOT=""
BOARD_ARG=""
TARBALL=""
ACTION=install
PURGE=0
ADMIN_USER=""

die() { echo "install.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --tarball) TARBALL=${2:?--tarball needs a file}; shift 2 ;;
    --board) BOARD_ARG=${2:?--board needs an id}; shift 2 ;;
    --root) ROOT=${2:?--root needs a folder}; shift 2 ;;
    --uninstall) ACTION=uninstall; shift ;;
    --purge) PURGE=1; shift ;;
    --admin-user) ADMIN_USER=${2:?--admin-user needs a user name}; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ "$PURGE" = 0 ] || [ "$ACTION" = uninstall ] || die "--purge goes with --uninstall"
if [ -n "$ROOT" ]; then
  [ -d "$ROOT" ] || die "--root $ROOT: no such folder"
  ROOT=$(cd "$ROOT" && pwd)
  [ "$ROOT" != / ] || ROOT=""
fi
R=$ROOT
LIVE=1; [ -z "$ROOT" ] || LIVE=0
IS_ROOT=0; [ "$(id -u)" != 0 ] || IS_ROOT=1
[ "$LIVE" = 0 ] || [ "$IS_ROOT" = 1 ] || die "run as root (or use --root DIR)"
HAS_SYSTEMD=0; [ "$LIVE" = 0 ] || [ ! -d /run/systemd/system ] || HAS_SYSTEMD=1

CHANGED=0
did() { CHANGED=$((CHANGED + 1)); echo "  + $*"; }
kept() { echo "  = $*"; }
note() { echo "  ! $*"; }

# --- the release to install from -------------------------------------------------------------
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [ -n "$TARBALL" ]; then
  [ -f "$TARBALL" ] || die "--tarball $TARBALL: no such file"
  tar xzf "$TARBALL" -C "$WORK"
  SRC="$WORK/$NAME"
else
  SRC=$(cd "$(dirname "$0")/.." && pwd)
fi
[ -f "$SRC/dist/runtime/cli/main.js" ] && [ -d "$SRC/node_modules" ] ||
  die "$SRC is not a release (no dist/ or node_modules/): build one with scripts/release.sh"
HOST_NODE=$(command -v node) || die "node is needed to read the board profile"
plan() { "$HOST_NODE" "$SRC/dist/runtime/board/install-plan.js" "$@"; }

# --- the board -------------------------------------------------------------------------------
DROPIN="$UNIT_DIR/$NAME.service.d/10-board.conf"
SVC_DIR=/data/$NAME-service   # daemontools service folder (Venus OS)
RC_LOCAL=/data/rc.local       # run by Venus OS at the end of every boot
if [ -z "$BOARD_ARG" ] && [ -f "$R$DROPIN" ]; then
  BOARD_ARG=$(sed -n 's/^ExecStart=.* --board \([a-z0-9-]*\).*/\1/p' "$R$DROPIN")
elif [ -z "$BOARD_ARG" ] && [ -f "$R$SVC_DIR/run" ]; then
  BOARD_ARG=$(sed -n 's/^exec .* --board \([a-z0-9-]*\).*/\1/p' "$R$SVC_DIR/run")
fi
[ "$LIVE" = 1 ] || [ -n "$BOARD_ARG" ] || die "--root needs --board ID: the image's board cannot be detected from this machine"
eval "$(plan board ${BOARD_ARG:+--board "$BOARD_ARG"})" || die "cannot resolve the board"
if [ "$LIVE" = 1 ]; then TARGET_NODE=$HOST_NODE; else TARGET_NODE=/usr/bin/node; fi
PREFIX=$PROGRAM_DIR

echo "signalk-edge $ACTION${ROOT:+ into $ROOT}: board $BOARD ($BOARD_NAME, $BOARD_HOW)"

# --- small idempotent steps ------------------------------------------------------------------
put_file() { # put_file SOURCE DEST MODE: copy unless identical
  local src=$1 dest=$2 mode=$3
  if [ -f "$R$dest" ] && cmp -s "$src" "$R$dest"; then
    [ "$(stat -c %a "$R$dest")" = "${mode#0}" ] || { chmod "$mode" "$R$dest"; did "mode $mode on $dest"; return; }
    kept "$dest"
  else
    install -D -m "$mode" "$src" "$R$dest"
    did "wrote $dest"
  fi
}
owner_ids() { # uid:gid of the service user in the target's passwd, if it exists there
  awk -F: -v u="$NAME" '$1 == u { print $3 ":" $4 }' "$R/etc/passwd" 2>/dev/null
}
put_dir() { # put_dir DIR MODE: create, then set mode and owner
  local dir=$1 mode=$2 ids fixed=""
  ids=$(owner_ids)
  if [ ! -d "$R$dir" ]; then
    mkdir -p "$R$dir" && chmod "$mode" "$R$dir"
    if [ -n "$ids" ] && [ "$IS_ROOT" = 1 ]; then chown "$ids" "$R$dir"; fi
    did "created $dir/ (mode $mode${ids:+, owner $NAME})"
    return
  fi
  [ "$(stat -c %a "$R$dir")" = "${mode#0}" ] || { chmod "$mode" "$R$dir"; fixed="mode $mode"; }
  if [ -n "$ids" ] && [ "$IS_ROOT" = 1 ] && [ "$(stat -c %u:%g "$R$dir")" != "$ids" ]; then
    chown "$ids" "$R$dir"
    fixed="${fixed:+$fixed, }owner $NAME"
  fi
  if [ -n "$fixed" ]; then did "set $fixed on $dir/"; else kept "$dir/"; fi
}
remove() { # remove PATH WHAT
  if [ -e "$R$1" ] || [ -L "$R$1" ]; then rm -rf "${R:?}$1" 2>/dev/null || rm -rf "$R$1"; did "removed $2 $1"; fi
}

if [ "$ACTION" = uninstall ] && [ "$SERVICE" = daemontools ]; then
  if [ -L "$R/service/$NAME" ]; then
    [ "$LIVE" = 0 ] || ! command -v svc >/dev/null || svc -d "/service/$NAME" || true
    rm -f "$R/service/$NAME"
    did "stopped and unlinked /service/$NAME"
  fi
  if [ -f "$R$RC_LOCAL" ] && grep -qF "$(plan rclocal --board "$BOARD" --service "$SVC_DIR" | head -1)" "$R$RC_LOCAL"; then
    plan rclocal --board "$BOARD" --service "$SVC_DIR" >"$WORK/rclocal"
    grep -vxF -f "$WORK/rclocal" "$R$RC_LOCAL" >"$WORK/rc.local.new" || true
    cat "$WORK/rc.local.new" >"$R$RC_LOCAL"
    did "removed the boot link from $RC_LOCAL"
  fi
  remove "$SVC_DIR" "service folder"
  remove "$PREFIX" "program"
  remove "$CACHE_DIR" "cache"
  if [ "$PURGE" = 1 ]; then remove "$DATA_DIR" "data"; elif [ -d "$R$DATA_DIR" ]; then kept "$DATA_DIR/ (data kept; --purge removes it)"; fi
  echo "$CHANGED change(s)"
  exit 0
fi

if [ "$ACTION" = uninstall ]; then
  if [ "$HAS_SYSTEMD" = 1 ] && systemctl is-enabled --quiet "$NAME.service" 2>/dev/null; then
    systemctl disable --now "$NAME.service"
    did "stopped and disabled $NAME.service"
  fi
  remove "$UNIT_DIR/multi-user.target.wants/$NAME.service" "enablement link"
  remove "$UNIT_DIR/$NAME.service.d" "board drop-in"
  remove "$UNIT_DIR/$NAME.service" "unit"
  remove "/etc/sysusers.d/$NAME.conf" "sysusers entry"
  remove "/usr/local/bin/$NAME" "command"
  remove "$PREFIX" "program"
  remove "$CACHE_DIR" "cache"
  if [ "$PURGE" = 1 ]; then
    remove "$DATA_DIR" "data"
  elif [ -d "$R$DATA_DIR" ]; then
    kept "$DATA_DIR/ (data kept; --purge removes it)"
  fi
  [ "$HAS_SYSTEMD" = 0 ] || systemctl daemon-reload
  echo "  user $NAME left in /etc/passwd (files may still belong to it; userdel $NAME removes it)"
  echo "$CHANGED change(s)"
  exit 0
fi

# --- program ---------------------------------------------------------------------------------
if [ "$SRC" = "$R$PREFIX" ]; then
  kept "$PREFIX/ (running from it)"
elif [ -d "$R$PREFIX" ] && diff -rq --no-dereference "$SRC" "$R$PREFIX" >/dev/null 2>&1; then
  kept "$PREFIX/"
else
  rm -rf "$R$PREFIX.new"
  mkdir -p "$(dirname "$R$PREFIX")"
  cp -a "$SRC" "$R$PREFIX.new"
  rm -rf "$R$PREFIX"
  mv "$R$PREFIX.new" "$R$PREFIX"
  did "installed the program in $PREFIX/"
fi
[ -x "$R$TARGET_NODE" ] || note "no node at $TARGET_NODE${ROOT:+ in $ROOT}: install Node.js >= 20.19 there (the unit runs $TARGET_NODE)"

if [ "$SERVICE" = daemontools ]; then
  note "Venus OS: its root file system is replaced by firmware updates, so no /usr/local/bin/$NAME and no service user (runs as root); the command is: $TARGET_NODE $PREFIX/dist/runtime/cli/main.js"
else
  printf '#!/bin/sh\nexec %s %s/dist/runtime/cli/main.js "$@"\n' "$TARGET_NODE" "$PREFIX" >"$WORK/cmd"
  put_file "$WORK/cmd" "/usr/local/bin/$NAME" 0755

  # --- user and groups -------------------------------------------------------------------------
  # Serial ports belong to group dialout. SocketCAN needs no group: AF_CAN sockets are open to any
  # user (bringing an interface up is the system's job, e.g. systemd-networkd).
  printf '# signalk-edge service user (scripts/install.sh)\nu %s - "signalk-edge runtime" %s /usr/sbin/nologin\nm %s dialout\n' \
    "$NAME" "$DATA_DIR" "$NAME" >"$WORK/sysusers"
  put_file "$WORK/sysusers" "/etc/sysusers.d/$NAME.conf" 0644
  in_dialout() { awk -F: -v u="$NAME" '$1 == "dialout" { n = split($4, m, ","); for (i = 1; i <= n; i++) if (m[i] == u) f = 1 } END { exit !f }' "$R/etc/group" 2>/dev/null; }
  if [ -n "$(owner_ids)" ] && in_dialout; then
    kept "user $NAME in group dialout"
  elif command -v systemd-sysusers >/dev/null; then
    systemd-sysusers ${ROOT:+--root "$ROOT"} --inline "$(sed -n 2p "$WORK/sysusers")" "$(sed -n 3p "$WORK/sysusers")" >/dev/null
    did "created user $NAME in group dialout (systemd-sysusers${ROOT:+ --root})"
  elif [ "$LIVE" = 1 ] && command -v useradd >/dev/null; then
    id "$NAME" >/dev/null 2>&1 || useradd --system --user-group --no-create-home --home-dir "$DATA_DIR" --shell /usr/sbin/nologin "$NAME"
    getent group dialout >/dev/null || groupadd --system dialout
    usermod -a -G dialout "$NAME"
    did "created user $NAME in group dialout (useradd)"
  else
    die "cannot create user $NAME: neither systemd-sysusers nor useradd is available"
  fi
fi

# --- folders and first settings --------------------------------------------------------------
put_dir "$DATA_DIR" 0750
put_dir "$DATA_DIR/plugins" 0750
put_dir "$CACHE_DIR" 0750
if [ -f "$R$DATA_DIR/settings.json" ]; then
  kept "$DATA_DIR/settings.json (existing settings are never overwritten)"
else
  plan settings --board "$BOARD" >"$WORK/settings.json"
  put_file "$WORK/settings.json" "$DATA_DIR/settings.json" 0640
  ids=$(owner_ids)
  [ -z "$ids" ] || [ "$IS_ROOT" = 0 ] || chown "$ids" "$R$DATA_DIR/settings.json"
fi

# --- security: the API serves the boat's network, so clients log in (settings "security") -----
put_dir "$DATA_DIR/security" 0700
USERS_FILE="$DATA_DIR/security/users.json"
if ! grep -q '"security"' "$R$DATA_DIR/settings.json"; then
  note "$DATA_DIR/settings.json has no \"security\" section: the runtime refuses to serve a network address without it (see docs/security.md)"
fi
if [ -n "$ADMIN_USER" ]; then
  if [ -f "$R$USERS_FILE" ] && grep -qF "\"username\": \"$ADMIN_USER\"" "$R$USERS_FILE"; then
    kept "admin user $ADMIN_USER"
  else
    "$HOST_NODE" "$SRC/dist/runtime/cli/main.js" user add "$ADMIN_USER" --permission admin --data "$R$DATA_DIR" >/dev/null 2>"$WORK/user.err" ||
      die "could not add the admin user $ADMIN_USER: $(grep -v ExperimentalWarning "$WORK/user.err" | grep -v trace-warnings)"
    did "added admin user $ADMIN_USER to $USERS_FILE"
  fi
  ids=$(owner_ids)
  [ -z "$ids" ] || [ "$IS_ROOT" = 0 ] || chown -R "$ids" "$R$DATA_DIR/security"
fi

# --- service ---------------------------------------------------------------------------------
if [ "$SERVICE" = daemontools ]; then
  # daemontools: svscan runs ./run and restarts it when it exits; ./log/run keeps its output.
  plan run --board "$BOARD" --prefix "$PREFIX" --node "$TARGET_NODE" >"$WORK/run"
  put_file "$WORK/run" "$SVC_DIR/run" 0755
  plan logrun --board "$BOARD" >"$WORK/logrun"
  put_file "$WORK/logrun" "$SVC_DIR/log/run" 0755
  plan rclocal --board "$BOARD" --service "$SVC_DIR" >"$WORK/rclocal"
  if [ -f "$R$RC_LOCAL" ] && grep -qxF "$(tail -1 "$WORK/rclocal")" "$R$RC_LOCAL"; then
    kept "$RC_LOCAL links the service at boot"
  else
    [ -f "$R$RC_LOCAL" ] || printf '#!/bin/sh\n' >"$R$RC_LOCAL"
    cat "$WORK/rclocal" >>"$R$RC_LOCAL"
    did "added the boot link to $RC_LOCAL"
  fi
  [ "$(stat -c %a "$R$RC_LOCAL")" = 755 ] || { chmod 755 "$R$RC_LOCAL"; did "made $RC_LOCAL executable"; }
  if [ "$LIVE" = 1 ] && [ -d /service ]; then
    if [ "$(readlink "/service/$NAME" 2>/dev/null)" = "$SVC_DIR" ]; then
      if [ "$CHANGED" -gt 0 ] && command -v svc >/dev/null; then svc -t "/service/$NAME" && did "restarted the service (svc -t)"; else kept "/service/$NAME running under svscan"; fi
    else
      ln -sfn "$SVC_DIR" "/service/$NAME"
      did "linked /service/$NAME (svscan starts it within 5 s)"
    fi
    "$TARGET_NODE" "$PREFIX/dist/runtime/cli/main.js" compile --data "$DATA_DIR" && did "filled the AOT cache (signalk-edge compile)" ||
      note "signalk-edge compile reported failed plugins (see above); the others are cached"
  elif [ "$LIVE" = 1 ]; then
    note "no /service here: not a Venus OS machine? the service starts at the next boot through $RC_LOCAL"
  else
    note "signalk-edge compile not run under --root: the cache belongs to the machine that runs it; run it on the boat"
  fi
  if [ "$CHANGED" = 0 ]; then echo "nothing changed: already installed"; else echo "$CHANGED change(s)"; fi
  echo "next: add sources to $DATA_DIR/settings.json (serial aliases: $SERIAL_ALIASES); logs: /var/log/$NAME/current"
  [ -f "$R$USERS_FILE" ] || echo "next: create the first admin (clients must log in): $NAME user add <name> --permission admin --data $DATA_DIR"
  exit 0
fi

put_file "$SRC/systemd/$NAME.service" "$UNIT_DIR/$NAME.service" 0644
plan dropin --board "$BOARD" --prefix "$PREFIX" --node "$TARGET_NODE" >"$WORK/dropin"
put_file "$WORK/dropin" "$DROPIN" 0644
if [ "$LIVE" = 0 ]; then
  link="$UNIT_DIR/multi-user.target.wants/$NAME.service"
  if [ "$(readlink "$R$link" 2>/dev/null)" = "$UNIT_DIR/$NAME.service" ]; then
    kept "$link (enabled)"
  else
    mkdir -p "$(dirname "$R$link")"
    ln -sfn "$UNIT_DIR/$NAME.service" "$R$link"
    did "enabled $NAME.service (link in multi-user.target.wants)"
  fi
elif [ "$HAS_SYSTEMD" = 1 ]; then
  systemctl daemon-reload
  if systemctl is-enabled --quiet "$NAME.service"; then kept "$NAME.service enabled"; else systemctl enable "$NAME.service" && did "enabled $NAME.service"; fi
  if [ "$CHANGED" -gt 0 ] || ! systemctl is-active --quiet "$NAME.service"; then
    systemctl restart "$NAME.service"
    did "started $NAME.service"
  else
    kept "$NAME.service running"
  fi
else
  note "this system does not run systemd (Venus OS uses daemontools): the unit is installed but not started; see docs/install.md"
fi

# --- AOT cache -------------------------------------------------------------------------------
if ! "$HOST_NODE" "$R$PREFIX/dist/runtime/cli/main.js" help 2>/dev/null | grep -q '^ *compile\b'; then
  note "signalk-edge compile is not in this build yet: AOT cache not filled (plugins are compiled when they load)"
elif [ "$LIVE" = 0 ]; then
  note "signalk-edge compile not run under --root: the cache belongs to the machine that runs it; run it on the boat"
else
  # A plugin that fails to prepare must not fail the install: it is reported again when it loads.
  if runuser -u "$NAME" -- "$TARGET_NODE" "$PREFIX/dist/runtime/cli/main.js" compile --data "$DATA_DIR"; then
    did "filled the AOT cache (signalk-edge compile)"
  else
    note "signalk-edge compile reported failed plugins (see above); the others are cached"
  fi
fi

if [ "$CHANGED" = 0 ]; then echo "nothing changed: already installed"; else echo "$CHANGED change(s)"; fi
echo "next: add sources to $DATA_DIR/settings.json (serial aliases: $SERIAL_ALIASES), then run: signalk-edge doctor"
if [ ! -f "$R$USERS_FILE" ]; then
  echo "next: create the first admin (clients must log in): runuser -u $NAME -- $NAME user add <name> --permission admin --data $DATA_DIR"
fi
