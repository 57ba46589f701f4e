#!/usr/bin/env bash
# One deploy of Sluice, in the order that loses no job: back up, pause every queue, install the new
# version, migrate, restart (SIGTERM drains running jobs), smoke-check, resume every queue.
# A failed step stops here with the queues still paused, and says how to go on or roll back.
#
#   SLUICE_URL=http://127.0.0.1:3000 SLUICE_API_KEY=<operator key> \
#   INSTALL_CMD='npm install -g ./sluice-0.2.0.tgz' RESTART_CMD='systemctl restart sluice@api sluice@worker' \
#   EXPECT_VERSION=0.2.0 SMOKE_TYPE=classify ops/deploy/deploy.sh
#
# Settings: SLUICE (the CLI, default `sluice`), BACKUP_DIR (default .), DATABASE_URL (set: pg_dump -Fc
# and `sluice migrate`; unset: the embedded engine, `sluice backup`, migrations run at start),
# INSTALL_CMD (default: none), RESTART_CMD (default: systemctl restart sluice@api sluice@worker),
# DEPLOY_WAIT_S (readiness wait, default 120), EXPECT_VERSION, SMOKE_TYPE (a job type run end to end
# after the resume) and SMOKE_INPUT (its input as JSON).
set -euo pipefail

: "${SLUICE_API_KEY:?SLUICE_API_KEY: an operator key}"
export SLUICE_URL="${SLUICE_URL:-http://127.0.0.1:3000}" SLUICE_API_KEY
SLUICE="${SLUICE:-sluice}"
BACKUP_DIR="${BACKUP_DIR:-.}"
RESTART_CMD="${RESTART_CMD:-systemctl restart sluice@api sluice@worker}"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
step() { echo "==> $*"; }

step "1/7 backup"
if [ -n "${DATABASE_URL:-}" ]; then
  backup="$BACKUP_DIR/sluice-pre-deploy-$stamp.dump"
  pg_dump -Fc "$DATABASE_URL" -f "$backup"
else
  backup="$BACKUP_DIR/sluice-pre-deploy-$stamp.tar.gz"
  $SLUICE backup --out "$backup"
fi

step "2/7 pause every queue (intake goes on; no job starts)"
$SLUICE pause --all --reason "deploy $stamp"
trap 'echo "Deploy stopped at the step above; the queues stay paused. Fix it and run: $SLUICE resume --all --reason \"deploy $stamp\". Roll back: reinstall the previous version, restore $backup (pg_restore / sluice restore), restart, resume." >&2' ERR

step "3/7 install the new version"
if [ -n "${INSTALL_CMD:-}" ]; then eval "$INSTALL_CMD"; else echo "INSTALL_CMD not set: nothing to install"; fi

step "4/7 migrate"
if [ -n "${DATABASE_URL:-}" ]; then $SLUICE migrate; else echo "embedded engine: migrations run when Sluice starts"; fi

step "5/7 restart (SIGTERM: running jobs finish or go back to the queue)"
eval "$RESTART_CMD"

step "6/7 smoke check"
$SLUICE deploy-check --wait "${DEPLOY_WAIT_S:-120}" ${EXPECT_VERSION:+--expect-version "$EXPECT_VERSION"}

step "7/7 resume every queue"
$SLUICE resume --all --reason "deploy $stamp"
trap - ERR

if [ -n "${SMOKE_TYPE:-}" ]; then
  step "after: one $SMOKE_TYPE job end to end"
  $SLUICE deploy-check --wait 60 --smoke "$SMOKE_TYPE" ${SMOKE_INPUT:+--smoke-input "$SMOKE_INPUT"}
fi
echo "Deployed. Backup: $backup. Watch for 15 minutes: sluice doctor; sluice queues."
