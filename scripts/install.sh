#!/usr/bin/env bash
# Installs signalk-edge from a release (scripts/release.sh) onto this machine, or into a mounted
# root file system for flashing. Idempotent: a second run changes nothing. Prints what it did.
# The board profile says how it starts at boot: a hardened systemd unit, or on Venus OS (Cerbo GX,
# no systemd) a daemontools service under /data linked into /service by /data/rc.local.
#
# Releases sit side by side (<program>/releases/<version>, `current` and `previous` links); an
# upgrade switches `current` atomically after backing up settings and plugin data, restarts the
# service and rolls back by itself when the new version does not report READY, or restarts
# (crash, watchdog), within a bounded time. Logged in <program>/upgrades.log.
#
# usage: install.sh [--tarball FILE] [--board ID] [--root DIR] [--admin-user NAME] [--uninstall [--purge]] [--rollback]
#   --tarball FILE  release tarball for this machine's target (default: the release folder this
#                   script sits in); refused when its target or Node ABI does not fit
#   --board ID      board profile (rpi4, rpi5, cerbo-gx, generic); detected when absent,
#                   required with --root (the image's board cannot be detected from here)
#   --root DIR      install into DIR (a mounted image): no systemctl calls, the unit is
#                   enabled by symlink, users are added to DIR/etc by systemd-sysusers --root
#   --admin-user NAME  create the first admin (password from the terminal, asked twice, or the
#                   first line of stdin); without it the script prints how to create one
#   --uninstall     remove the program, unit and cache; keeps the data folder
#   --purge         with --uninstall: remove the data folder too
#   --rollback      switch back to the previous release and its backed-up settings and data
#   --health-timeout S  seconds the new version has to report READY (default 150)
#   --settle S      seconds it must then run without a restart (default 45: beyond WatchdogSec)
# Needs node (>= 20.19) on the machine running the script. SYSTEMCTL names the systemctl to call
# (a stand-in service manager; with --root, set it only for a root that one runs).
set -euo pipefail

NAME=signalk-edge
UNIT_DIR=/etc/systemd/system
ROOT=""
BOARD_ARG=""
TARBALL=""
ACTION=install
PURGE=0
ADMIN_USER=""
HEALTH_TIMEOUT=150
SETTLE=45
AUTO_ROLLBACK=""   # set (to the reason) when this run is the automatic rollback of a failed upgrade

die() { echo "install.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --tarball) TARBALL=${2:?--tarball needs a file}; shift 2 ;;
    --board) BOARD_ARG=${2:?--board needs an id}; shift 2 ;;
    --root) ROOT=${2:?--root needs a folder}; shift 2 ;;
    --uninstall) ACTION=uninstall; shift ;;
    --purge) PURGE=1; shift ;;
    --admin-user) ADMIN_USER=${2:?--admin-user needs a user name}; shift 2 ;;
    --rollback) ACTION=rollback; shift ;;
    --after-failed-upgrade) ACTION=rollback; AUTO_ROLLBACK=${2:?}; shift 2 ;;
    --health-timeout) HEALTH_TIMEOUT=${2:?--health-timeout needs seconds}; shift 2 ;;
    --settle) SETTLE=${2:?--settle needs seconds}; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ "$PURGE" = 0 ] || [ "$ACTION" = uninstall ] || die "--purge goes with --uninstall"
[[ "$HEALTH_TIMEOUT$SETTLE" =~ ^[0-9]+$ ]] || die "--health-timeout and --settle take whole seconds"
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
[ -z "${SYSTEMCTL:-}" ] || HAS_SYSTEMD=1
SYSTEMCTL=${SYSTEMCTL:-systemctl}

CHANGED=0
did() { CHANGED=$((CHANGED + 1)); echo "  + $*"; }
kept() { echo "  = $*"; }
note() { echo "  ! $*"; }

# --- the release to install from -------------------------------------------------------------
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [ "$ACTION" = rollback ]; then
  [ -z "$TARBALL" ] || die "--rollback takes no --tarball: it goes back to the installed previous release"
  SRC=""  # found below, once the board says where the program lives
elif [ -n "$TARBALL" ]; then
  [ -f "$TARBALL" ] || die "--tarball $TARBALL: no such file"
  tar xzf "$TARBALL" -C "$WORK"
  SRC="$WORK/$NAME"
else
  SRC=$(cd "$(dirname "$0")/.." && pwd)
fi
# In a rollback the running script reads the board with its own release, then installs the previous one.
PLAN_SRC=${SRC:-$(cd "$(dirname "$0")/.." && pwd)}
[ -f "$PLAN_SRC/dist/runtime/cli/main.js" ] && [ -d "$PLAN_SRC/node_modules" ] ||
  die "$PLAN_SRC is not a release (no dist/ or node_modules/): build one with scripts/release.sh"
HOST_NODE=$(command -v node) || die "node is needed to read the board profile"
plan() { "$HOST_NODE" "$PLAN_SRC/dist/runtime/board/install-plan.js" "$@"; }

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
# eval of a failed command substitution succeeds, so the plan is taken first and checked.
board_plan=$(plan board ${BOARD_ARG:+--board "$BOARD_ARG"}) || die "cannot resolve the board"
eval "$board_plan"
if [ "$LIVE" = 1 ]; then TARGET_NODE=$HOST_NODE; else TARGET_NODE=/usr/bin/node; fi
PREFIX=$PROGRAM_DIR
RUN_PREFIX=$PREFIX/current   # what the service runs: the `current` link into releases/
link_version() { local l; l=$(readlink "$R$PREFIX/$1" 2>/dev/null) || return 0; basename "$l"; }
if [ "$ACTION" = rollback ]; then
  TO=$(link_version previous)
  [ -n "$TO" ] && [ -d "$R$PREFIX/releases/$TO" ] || die "no previous release to roll back to in $PREFIX/releases"
  SRC="$R$PREFIX/releases/$TO"
  # A release from before release.json (a moved single-folder install) lacks the newer plan modes.
  [ ! -f "$SRC/release.json" ] || PLAN_SRC=$SRC
fi

echo "signalk-edge $ACTION${ROOT:+ into $ROOT}: board $BOARD ($BOARD_NAME, $BOARD_HOW)"
if [ "$ACTION" = rollback ] && [ ! -f "$SRC/release.json" ]; then
  RELEASE_VERSION=$TO RELEASE_TARGET="its machine"
  note "release $TO has no release.json (installed before releases carried one): target and Node ABI not checked"
elif [ "$ACTION" != uninstall ]; then
  # The release must be machine code for this machine (or the image) and its Node ABI.
  fits=$(plan fits --release "$SRC" --node "$TARGET_NODE" ${ROOT:+--root "$ROOT"} --board "$BOARD") || {
    [ $? = 3 ] && echo "install.sh: this tarball does not fit ${ROOT:-this machine}" >&2; exit 1; }
  eval "$fits"
  echo "  release $RELEASE_VERSION for $RELEASE_TARGET (Node ABI $RELEASE_ABI)"
  [ -z "$RELEASE_ABI_NOTE" ] || echo "  ! $RELEASE_ABI_NOTE"
  [ -z "$RELEASE_OMITTED" ] || echo "  ! left out of this release: $RELEASE_OMITTED"
fi

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

# --- program: releases side by side, `current` switched atomically -------------------------
REL=$PREFIX/releases
UPGRADE_LOG=$PREFIX/upgrades.log
set_link() { # set_link NAME TARGET: rename(2) over the old link, so there is never no link
  ln -sfn "$2" "$R$PREFIX/.$1.new"
  mv -Tf "$R$PREFIX/.$1.new" "$R$PREFIX/$1"
}
log_event() {
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $*" >>"$R$UPGRADE_LOG"
  [ "$LIVE" = 0 ] || ! command -v logger >/dev/null || logger -t "$NAME-install" -- "$*" || true
}
backup_data() { # backup_data VERSION: the data folder as VERSION left it, before another version runs on it
  local dest=$DATA_DIR/backups/$1
  [ -d "$R$DATA_DIR" ] || return 0
  mkdir -p -m 0750 "$R$DATA_DIR/backups"
  rm -rf "$R$dest.new" && mkdir -m 0750 "$R$dest.new"
  find "$R$DATA_DIR" -mindepth 1 -maxdepth 1 ! -name backups ! -name cache -exec cp -a {} "$R$dest.new/" \;
  rm -rf "$R$dest" && mv "$R$dest.new" "$R$dest"
  did "backed up settings and plugin data as $1 left them: $dest/"
}
restore_data() { # restore_data TO FROM: FROM's data kept as backups/FROM, TO's backup put back
  local src=$DATA_DIR/backups/$1
  if [ ! -d "$R$src" ]; then note "no backup of $1's data: the data folder stays as $2 left it"; return 0; fi
  if diff -rq --no-dereference --exclude=backups --exclude=cache "$R$src" "$R$DATA_DIR" >/dev/null 2>&1; then
    kept "$DATA_DIR/ (as $1 left it: $2 changed nothing)"
    return 0
  fi
  backup_data "$2"
  find "$R$DATA_DIR" -mindepth 1 -maxdepth 1 ! -name backups ! -name cache -exec rm -rf {} +
  cp -a "$R$src/." "$R$DATA_DIR/"
  did "restored settings and plugin data from $src/ ($2's are in $DATA_DIR/backups/$2/)"
}

# A single-folder install (before releases/) becomes the first release.
if [ -f "$R$PREFIX/package.json" ] && [ ! -L "$R$PREFIX/current" ]; then
  old=$("$HOST_NODE" -p 'require(process.argv[1]).version' "$R$PREFIX/package.json")
  mkdir -p "$R$PREFIX/releases/$old"
  find "$R$PREFIX" -mindepth 1 -maxdepth 1 ! -name releases -exec mv -t "$R$PREFIX/releases/$old/" {} +
  set_link current "releases/$old"
  did "moved the single-folder install ($old) to $REL/$old/"
fi

FROM=$(link_version current)
if [ "$SRC" = "$R$REL/$RELEASE_VERSION" ]; then
  kept "$REL/$RELEASE_VERSION/"
elif [ -d "$R$REL/$RELEASE_VERSION" ] && diff -rq --no-dereference "$SRC" "$R$REL/$RELEASE_VERSION" >/dev/null 2>&1; then
  kept "$REL/$RELEASE_VERSION/"
else
  rm -rf "$R$REL/$RELEASE_VERSION.new" "$R$REL/$RELEASE_VERSION.old"
  mkdir -p "$R$REL"
  cp -a "$SRC" "$R$REL/$RELEASE_VERSION.new"
  # The same version rebuilt: swapped by two renames (current names it, so it is briefly absent).
  [ ! -d "$R$REL/$RELEASE_VERSION" ] || mv "$R$REL/$RELEASE_VERSION" "$R$REL/$RELEASE_VERSION.old"
  mv "$R$REL/$RELEASE_VERSION.new" "$R$REL/$RELEASE_VERSION"
  rm -rf "$R$REL/$RELEASE_VERSION.old"
  did "installed release $RELEASE_VERSION ($RELEASE_TARGET) in $REL/$RELEASE_VERSION/"
fi
SWITCHED_FROM=""
if [ "$FROM" != "$RELEASE_VERSION" ]; then
  if [ -n "$FROM" ] && [ "$ACTION" = rollback ]; then restore_data "$RELEASE_VERSION" "$FROM"; elif [ -n "$FROM" ]; then backup_data "$FROM"; fi
  set_link current "releases/$RELEASE_VERSION"
  [ -z "$FROM" ] || set_link previous "releases/$FROM"
  did "switched $PREFIX/current to $RELEASE_VERSION${FROM:+ (from $FROM, kept as previous)}"
  if [ -n "$AUTO_ROLLBACK" ]; then log_event "automatic rollback from $FROM to $RELEASE_VERSION: $AUTO_ROLLBACK"
  elif [ "$ACTION" = rollback ]; then log_event "rollback by hand from $FROM to $RELEASE_VERSION"
  else log_event "switched${FROM:+ from $FROM} to $RELEASE_VERSION ($RELEASE_TARGET)"; fi
  SWITCHED_FROM=$FROM
fi
# Only `current` and `previous` are kept.
for dir in "$R$REL"/*; do
  v=$(basename "$dir")
  [ "$v" = "$(link_version current)" ] || [ "$v" = "$(link_version previous)" ] || { rm -rf "$dir"; did "removed old release $REL/$v/"; }
done
[ -x "$R$TARGET_NODE" ] || note "no node at $TARGET_NODE${ROOT:+ in $ROOT}: install Node.js >= 20.19 there (the unit runs $TARGET_NODE)"

if [ "$SERVICE" = daemontools ]; then
  note "Venus OS: its root file system is replaced by firmware updates, so no /usr/local/bin/$NAME and no service user (runs as root); the command is: $TARGET_NODE $RUN_PREFIX/dist/runtime/cli/main.js"
else
  printf '#!/bin/sh\nexec %s %s/dist/runtime/cli/main.js "$@"\n' "$TARGET_NODE" "$RUN_PREFIX" >"$WORK/cmd"
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

# --- health after a (re)start, and the automatic rollback ------------------------------------
# systemd: READY=1 (the unit turns active) within HEALTH_TIMEOUT, then SETTLE seconds without a
# restart (a crash or a watchdog kill bumps NRestarts and the main PID). daemontools has no
# READY: there the service must stay up SETTLE seconds in a row (svstat), within the same bound.
WHY=""
prop() { sed -n "s/^$1=//p" <<<"$2"; }
unit_state() { "$SYSTEMCTL" show -p ActiveState -p SubState -p NRestarts -p MainPID "$NAME.service"; }
wait_ready_systemd() {
  local deadline=$(( $(date +%s) + HEALTH_TIMEOUT )) s restarts pid until
  s=$(unit_state); restarts=$(prop NRestarts "$s")
  while [ "$(prop ActiveState "$s")" != active ]; do
    if [ "$(prop ActiveState "$s")" = failed ] || [ "$(prop NRestarts "$s")" != "$restarts" ]; then
      WHY="exited before READY ($(prop ActiveState "$s")/$(prop SubState "$s"))"; return 1
    fi
    [ "$(date +%s)" -lt "$deadline" ] || { WHY="no READY within $HEALTH_TIMEOUT s ($(prop ActiveState "$s")/$(prop SubState "$s"))"; return 1; }
    sleep 1
    s=$(unit_state)
  done
  restarts=$(prop NRestarts "$s"); pid=$(prop MainPID "$s"); until=$(( $(date +%s) + SETTLE ))
  while [ "$(date +%s)" -lt "$until" ]; do
    sleep 1
    s=$(unit_state)
    if [ "$(prop ActiveState "$s")" != active ] || [ "$(prop NRestarts "$s")" != "$restarts" ] || [ "$(prop MainPID "$s")" != "$pid" ]; then
      WHY="restarted within $SETTLE s of READY, crash or watchdog ($(prop ActiveState "$s")/$(prop SubState "$s"), NRestarts $restarts -> $(prop NRestarts "$s"))"; return 1
    fi
  done
}
wait_up_daemontools() { # wait_up_daemontools OLD_PID
  local deadline=$(( $(date +%s) + HEALTH_TIMEOUT + SETTLE )) out=""
  while [ "$(date +%s)" -lt "$deadline" ]; do
    out=$(svstat "/service/$NAME" 2>&1) || true
    if [[ "$out" =~ :\ up\ \(pid\ ([0-9]+)\)\ ([0-9]+)\ seconds ]] && [ "${BASH_REMATCH[1]}" != "$1" ] && [ "${BASH_REMATCH[2]}" -ge "$SETTLE" ]; then return 0; fi
    sleep 1
  done
  WHY="not up $SETTLE s in a row within $((HEALTH_TIMEOUT + SETTLE)) s (svstat: $out)"; return 1
}
health_failed() { # after WHY is set: an upgrade rolls back by itself; anything else is reported
  echo "  ! $NAME $RELEASE_VERSION is not healthy: $WHY"
  if [ "$ACTION" = install ] && [ -n "$SWITCHED_FROM" ]; then
    log_event "$RELEASE_VERSION failed after the switch from $SWITCHED_FROM: $WHY"
    echo "  rolling back to $SWITCHED_FROM (data and settings as $SWITCHED_FROM left them)"
    rm -rf "$WORK"
    exec bash "$0" --after-failed-upgrade "$RELEASE_VERSION: $WHY" --board "$BOARD" --health-timeout "$HEALTH_TIMEOUT" --settle "$SETTLE" ${ROOT:+--root "$ROOT"}
  fi
  log_event "$RELEASE_VERSION not healthy after ${AUTO_ROLLBACK:+the automatic }${ACTION}: $WHY"
  echo "install.sh: $NAME $RELEASE_VERSION did not start cleanly: $WHY" >&2
  exit 1
}
# admin_hint COMMAND: how to create the first admin, while there is none (clients must log in).
admin_hint() { [ -f "$R$USERS_FILE" ] || echo "next: create the first admin (clients must log in): $1"; }
finish() { # finish LINE...: the summary, then each non-empty line; a completed automatic rollback still exits non-zero
  if [ "$CHANGED" = 0 ]; then echo "nothing changed: already installed"; else echo "$CHANGED change(s)"; fi
  local line
  for line in "$@"; do [ -z "$line" ] || echo "$line"; done
  if [ -n "$AUTO_ROLLBACK" ]; then
    echo "install.sh: upgrade failed and was rolled back: now running $RELEASE_VERSION again (${AUTO_ROLLBACK}); see $UPGRADE_LOG" >&2
    exit 3
  fi
  exit 0
}

# --- service ---------------------------------------------------------------------------------
if [ "$SERVICE" = daemontools ]; then
  # daemontools: svscan runs ./run and restarts it when it exits; ./log/run keeps its output.
  plan run --board "$BOARD" --prefix "$RUN_PREFIX" --node "$TARGET_NODE" >"$WORK/run"
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
    old_pid=$(svstat "/service/$NAME" 2>/dev/null | sed -n 's/.*: up (pid \([0-9]*\)).*/\1/p') || true
    started=1
    if [ "$(readlink "/service/$NAME" 2>/dev/null)" = "$SVC_DIR" ]; then
      if [ "$CHANGED" -gt 0 ] && command -v svc >/dev/null; then svc -t "/service/$NAME" && did "restarted the service (svc -t)"; else kept "/service/$NAME running under svscan"; started=0; fi
    else
      ln -sfn "$SVC_DIR" "/service/$NAME"
      did "linked /service/$NAME (svscan starts it within 5 s)"
    fi
    if [ "$started" = 1 ] && command -v svstat >/dev/null; then
      wait_up_daemontools "$old_pid" || health_failed
      did "$NAME $RELEASE_VERSION up for $SETTLE s (svstat)"
    fi
    "$TARGET_NODE" "$RUN_PREFIX/dist/runtime/cli/main.js" compile --data "$DATA_DIR" && did "filled the AOT cache (signalk-edge compile)" ||
      note "signalk-edge compile reported failed plugins (see above); the others are cached"
  elif [ "$LIVE" = 1 ]; then
    note "no /service here: not a Venus OS machine? the service starts at the next boot through $RC_LOCAL"
  else
    note "signalk-edge compile not run under --root: the cache belongs to the machine that runs it; run it on the boat"
  fi
  finish "next: add sources to $DATA_DIR/settings.json (serial aliases: $SERIAL_ALIASES); logs: /var/log/$NAME/current" \
    "$(admin_hint "$NAME user add <name> --permission admin --data $DATA_DIR")"
fi

put_file "$SRC/systemd/$NAME.service" "$UNIT_DIR/$NAME.service" 0644
plan dropin --board "$BOARD" --prefix "$RUN_PREFIX" --node "$TARGET_NODE" >"$WORK/dropin"
put_file "$WORK/dropin" "$DROPIN" 0644
if [ "$LIVE" = 0 ] && [ "$HAS_SYSTEMD" = 0 ]; then
  link="$UNIT_DIR/multi-user.target.wants/$NAME.service"
  if [ "$(readlink "$R$link" 2>/dev/null)" = "$UNIT_DIR/$NAME.service" ]; then
    kept "$link (enabled)"
  else
    mkdir -p "$(dirname "$R$link")"
    ln -sfn "$UNIT_DIR/$NAME.service" "$R$link"
    did "enabled $NAME.service (link in multi-user.target.wants)"
  fi
elif [ "$HAS_SYSTEMD" = 1 ]; then
  "$SYSTEMCTL" daemon-reload
  if "$SYSTEMCTL" is-enabled --quiet "$NAME.service"; then kept "$NAME.service enabled"; else "$SYSTEMCTL" enable "$NAME.service" && did "enabled $NAME.service"; fi
  if [ "$CHANGED" -gt 0 ] || ! "$SYSTEMCTL" is-active --quiet "$NAME.service"; then
    "$SYSTEMCTL" restart --no-block "$NAME.service"
    wait_ready_systemd || health_failed
    did "started $NAME.service $RELEASE_VERSION: READY, then no restart for $SETTLE s"
  else
    kept "$NAME.service running"
  fi
else
  note "this system does not run systemd (Venus OS uses daemontools): the unit is installed but not started; see docs/install.md"
fi

# --- AOT cache -------------------------------------------------------------------------------
if [ "$LIVE" = 0 ]; then
  note "signalk-edge compile not run under --root: the cache belongs to the machine that runs it; run it on the boat"
else
  # A plugin that fails to prepare must not fail the install: it is reported again when it loads.
  if runuser -u "$NAME" -- "$TARGET_NODE" "$RUN_PREFIX/dist/runtime/cli/main.js" compile --data "$DATA_DIR"; then
    did "filled the AOT cache (signalk-edge compile)"
  else
    note "signalk-edge compile reported failed plugins (see above); the others are cached"
  fi
fi

finish "next: add sources to $DATA_DIR/settings.json (serial aliases: $SERIAL_ALIASES), then run: signalk-edge doctor" \
  "$(admin_hint "runuser -u $NAME -- $NAME user add <name> --permission admin --data $DATA_DIR")"
