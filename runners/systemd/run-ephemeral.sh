#!/usr/bin/env bash
# Keep one ephemeral GitHub Actions runner alive on this machine: register, run
# exactly one job (--ephemeral: GitHub deregisters it afterwards), wipe the work
# folder, check the machine with `bot doctor`, and register again.
#
# Each registration needs a fresh registration token (valid one hour). It is
# fetched with a long-lived token read from a file: a fine-grained token with
# "Administration: read and write" on the repository (or a classic token with
# `repo`). That token never appears on a command line or in the log.
#
# Env: RUNNER_DIR (the unpacked actions runner), GITHUB_URL
# (https://github.com/OWNER/REPO), TOKEN_FILE (default
# $CREDENTIALS_DIRECTORY/github-token, see taxonomy-runner.service),
# RUNNER_LABELS (default gpu), GITHUB_API_URL, BOT (the bot command; empty skips
# the doctor), BOT_WORK_ROOT.
set -euo pipefail

: "${RUNNER_DIR:?set RUNNER_DIR to the unpacked GitHub Actions runner}"
: "${GITHUB_URL:?set GITHUB_URL to https://github.com/OWNER/REPO}"
TOKEN_FILE=${TOKEN_FILE:-${CREDENTIALS_DIRECTORY:-/nonexistent}/github-token}
LABELS=${RUNNER_LABELS:-gpu}
API=${GITHUB_API_URL:-https://api.github.com}
BOT=${BOT-bot}
REPO=${GITHUB_URL#https://github.com/}

log() { echo "run-ephemeral: $*" >&2; }

registration_token() {
  local headers answer
  [ -r "$TOKEN_FILE" ] || { log "cannot read the token file $TOKEN_FILE"; return 1; }
  headers=$(mktemp)
  # The token goes to curl through a private file (-H @file), not argv.
  (umask 077 && printf 'Authorization: Bearer %s\n' "$(tr -d '[:space:]' < "$TOKEN_FILE")" > "$headers")
  answer=$(curl -fsS -X POST -H @"$headers" -H "Accept: application/vnd.github+json" \
    "$API/repos/$REPO/actions/runners/registration-token") || { rm -f "$headers"; return 1; }
  rm -f "$headers"
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])' <<< "$answer"
}

cd "$RUNNER_DIR"
while true; do
  # What the last job left: its checkout, temp files, the old registration.
  rm -rf _work .runner .credentials .credentials_rsaparams
  if [ -n "$BOT" ] && ! "$BOT" doctor --gpu --work "${BOT_WORK_ROOT:-$RUNNER_DIR}"; then
    log "bot doctor failed: not taking jobs; retrying in 5 minutes"
    sleep 300
    continue
  fi
  if ! token=$(registration_token); then
    log "could not get a registration token; retrying in 60 s"
    sleep 60
    continue
  fi
  ./config.sh --unattended --ephemeral --replace --disableupdate \
    --url "$GITHUB_URL" --token "$token" --labels "$LABELS" \
    --name "$(hostname)-$(date +%s)"
  unset token
  ./run.sh || log "the runner exited with status $?"
done
