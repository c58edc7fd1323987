#!/usr/bin/env bash
# One GPU machine as an ephemeral GitHub Actions runner, one job per registration.
#
# Runs as root (taxonomy-runner@.service), which alone can read the long-lived
# registration credential (systemd's LoadCredential= copy, or TOKEN_FILE). For each job:
#
#   1. a fresh install folder under JOBS_ROOT, copied from the pristine runner in
#      RUNNER_DIST, owned by root and not writable by the job (only its _diag/ is);
#   2. a fresh work folder (the runner's _work/ and the job's HOME) for the job user;
#   3. as root: a one-hour registration token from the API, `config.sh --ephemeral`;
#   4. as JOB_USER, with a clean environment (an allow-list, never the credential's
#      location): `bot doctor`, then `run.sh`, which takes exactly one job;
#   5. every process JOB_USER left is killed, its files in SCRUB_DIRS deleted, and
#      both folders removed, whatever the job did.
#
# So a job can neither read the registration credential nor leave anything for the
# next job, except in BOT_SCRATCH (per-PR folders, by design) and BOT_CACHE.
#
# Env: RUNNER_DIST (the unpacked runner, root-owned), GITHUB_URL (https://github.com/ORG
# or .../ORG/REPO), RUNNER_GROUP (org runner group, with an org URL), RUNNER_LABELS
# (default gpu), BOT_RUNNER_ROLE (pr or release, default pr), JOB_USER (default
# runner-job; a name or uid), JOB_GROUPS (extra groups, e.g. video,render), JOBS_ROOT,
# WORK_ROOT, TOKEN_FILE, GITHUB_API_URL, BOT (the bot command; empty skips the doctor),
# DOCTOR_ARGS (default --gpu; the doctor also checks that the job cannot read TOKEN_FILE),
# SCRUB_DIRS, ONCE (1: one job, then exit), and what the job may see: BOT_SCRATCH,
# BOT_PUBLISHED, BOT_STATE, BOT_CACHE, HF_HOME, BOT_RELEASE_PATHS, OPENAI_API_KEY.
set -euo pipefail

: "${RUNNER_DIST:?set RUNNER_DIST to the unpacked GitHub Actions runner}"
: "${GITHUB_URL:?set GITHUB_URL to https://github.com/ORG (or ORG/REPO)}"
TOKEN_FILE=${TOKEN_FILE:-${CREDENTIALS_DIRECTORY:-/nonexistent}/github-token}
LABELS=${RUNNER_LABELS:-gpu}
ROLE=${BOT_RUNNER_ROLE:-pr}
JOB_USER=${JOB_USER:-runner-job}
JOBS_ROOT=${JOBS_ROOT:-/run/taxonomy-runner}
WORK_ROOT=${WORK_ROOT:-/var/lib/taxonomy-runner/work}
API=${GITHUB_API_URL:-https://api.github.com}
BOT=${BOT-bot}
SCRUB_DIRS=${SCRUB_DIRS:-/tmp /var/tmp /dev/shm}
TARGET=${GITHUB_URL#https://github.com/}
if [[ "$JOB_USER" =~ ^[0-9]+$ ]]; then  # a bare uid (its own group)
  JOB_UID=$JOB_USER JOB_GID=${JOB_GID:-$JOB_USER}
else
  JOB_UID=$(id -u "$JOB_USER") JOB_GID=$(id -g "$JOB_USER")
fi

log() { echo "run-ephemeral: $*" >&2; }

[ "$(id -u)" -eq 0 ] || { log "must run as root: only root may read the credential"; exit 1; }
[ "$JOB_UID" -ne 0 ] || { log "JOB_USER must not be root"; exit 1; }

registration_token() {
  local headers answer path=repos
  [ -r "$TOKEN_FILE" ] || { log "cannot read the token file $TOKEN_FILE"; return 1; }
  [[ "$TARGET" == */* ]] || path=orgs
  headers=$(mktemp)
  # The credential goes to curl through a root-only file (-H @file), never argv or env.
  (umask 077 && printf 'Authorization: Bearer %s\n' "$(tr -d '[:space:]' < "$TOKEN_FILE")" > "$headers")
  answer=$(curl -fsS -X POST -H @"$headers" -H "Accept: application/vnd.github+json" \
    "$API/$path/$TARGET/actions/runners/registration-token") || { rm -f "$headers"; return 1; }
  rm -f "$headers"
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])' <<< "$answer"
}

# The folders jobs keep between them, owned by the role's job user: per-PR scratch; for
# the release role main's state (marked as the release volume, which `bot doctor
# --runner pr` must never find), its cache, and the copy published read-only for PR jobs.
prepare() {
  own() { mkdir -p "$1"; chown "$JOB_UID:$JOB_GID" "$1"; chmod "$2" "$1"; }
  if [ -n "${BOT_SCRATCH:-}" ]; then own "$BOT_SCRATCH" 0700; fi
  [ "$ROLE" = release ] || return 0
  if [ -n "${BOT_STATE:-}" ]; then
    own "$BOT_STATE" 0700
    touch "$BOT_STATE/.taxonomy-release-volume"
  fi
  if [ -n "${BOT_CACHE:-}" ]; then own "$BOT_CACHE" 0700; fi
  if [ -n "${BOT_PUBLISHED:-}" ]; then own "$BOT_PUBLISHED" 0755; fi
}

# The job's whole environment: an allow-list. Nothing names $CREDENTIALS_DIRECTORY.
as_job() {
  local install=$1 work=$2 groups=(--clear-groups)
  shift 2
  if [ -n "${JOB_GROUPS:-}" ]; then groups=(--groups "$JOB_GROUPS"); fi
  env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$work/home" LANG=C.UTF-8 \
    BOT_RUNNER_ROLE="$ROLE" BOT_RUNNER_KIND=systemd BOT_RUNNER_DIR="$install" \
    BOT_SCRATCH="${BOT_SCRATCH:-}" BOT_PUBLISHED="${BOT_PUBLISHED:-}" \
    BOT_STATE="${BOT_STATE:-}" BOT_CACHE="${BOT_CACHE:-}" HF_HOME="${HF_HOME:-}" \
    BOT_RELEASE_PATHS="${BOT_RELEASE_PATHS:-}" BOT_CREDENTIAL_PATHS="$TOKEN_FILE" \
    OPENAI_API_KEY="${OPENAI_API_KEY:-}" \
    setpriv --reuid "$JOB_UID" --regid "$JOB_GID" "${groups[@]}" --no-new-privs \
    --inh-caps=-all --bounding-set=-all -- "$@"
}

# Whatever the job left: its processes, its files in shared temp folders, both folders.
scrub() {
  local install=$1 work=$2 dir
  pkill -KILL -u "$JOB_UID" 2>/dev/null || true
  for dir in $SCRUB_DIRS; do
    [ -d "$dir" ] && find "$dir" -xdev -mindepth 1 -user "$JOB_UID" -delete 2>/dev/null || true
  done
  rm -rf "$install" "$work"
}

# One registration, one job. Runs in a subshell of its own (see the loop), so `set -e`
# holds, the EXIT trap scrubs whatever happened, and `install`/`work` die with it.
one_job() {
  local token name checks
  mkdir -p "$JOBS_ROOT" "$WORK_ROOT"
  install=$(mktemp -d "$JOBS_ROOT/job.XXXXXX")
  work=$(mktemp -d "$WORK_ROOT/job.XXXXXX")
  trap 'scrub "$install" "$work"' EXIT
  cp -a "$RUNNER_DIST/." "$install/"
  chown -R root:root "$install"
  chmod -R go-w "$install"
  chmod 0755 "$install"
  mkdir -p "$install/_diag" "$work/home"
  chown -R "$JOB_UID:$JOB_GID" "$install/_diag" "$work"
  chmod 0700 "$work"
  read -ra checks <<< "${DOCTOR_ARGS---gpu}"
  if [ -n "$BOT" ] && ! as_job "$install" "$work" "$BOT" doctor "${checks[@]}" --runner "$ROLE"; then
    log "bot doctor failed: not taking jobs"
    return 1
  fi
  token=$(registration_token) || { log "could not get a registration token"; return 1; }
  name="$(hostname)-$(date +%s)"
  (cd "$install" && RUNNER_ALLOW_RUNASROOT=1 ./config.sh --unattended --ephemeral \
    --disableupdate --url "$GITHUB_URL" --token "$token" --labels "$LABELS" --name "$name" \
    --work "$work/_work" ${RUNNER_GROUP:+--runnergroup "$RUNNER_GROUP"})
  unset token
  # The runner authenticates as this registration (it ends with the job): its own
  # credential files are the job user's to read, and nothing else of root's is.
  for f in .credentials .credentials_rsaparams; do
    if [ -f "$install/$f" ]; then chown "$JOB_UID:$JOB_GID" "$install/$f"; chmod 0400 "$install/$f"; fi
  done
  as_job "$install" "$work" "$install/run.sh" || log "the runner exited with status $?"
}

prepare
while true; do
  rc=0
  (one_job) & wait $! || rc=$?
  if [ "${ONCE:-0}" = 1 ]; then exit "$rc"; fi
  if [ "$rc" -ne 0 ]; then log "retrying in ${RETRY_S:-300} s"; sleep "${RETRY_S:-300}"; fi
done
