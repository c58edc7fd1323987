"""Checks of a self-hosted runner from inside a job: is it the runner this job needs, and
can the job reach nothing it must not? (`bot doctor --runner pr|release`; docs/security.md)

A PR runner (`gpu` label) must see main's state only read-only (the published copy),
never the release volume, no registration credential and no Kubernetes token, and must
not be able to change its runner's installation. A release runner must hold main's state,
writable and marked as the release volume. Each finding fails loudly: the job stops
before it touches a GPU or PR data.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from bot.doctor.result import Result

ROLES = ("pr", "release")
MARKER = ".taxonomy-release-volume"  # at the root of the release runners' state volume
CREDENTIALS = (
    "/etc/taxonomy-runner/github-token",  # runners/systemd: the long-lived registration token
    "/var/run/secrets/kubernetes.io/serviceaccount/token",  # a pod's Kubernetes credential
)


def writable(path: Path) -> bool:
    """Could this process create files in `path`? A read-only mount never; else access(2)."""
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return False
    except OSError:
        return False
    return os.access(path, os.W_OK)


def readable(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            f.read(1)
    except OSError:
        return False
    return True


def role(expected: str, environ: Mapping[str, str]) -> Result:
    have = environ.get("BOT_RUNNER_ROLE", "")
    if have != expected:
        return Result(
            "runner role",
            "fail",
            f"this runner is {have or 'unlabelled'} (BOT_RUNNER_ROLE); the job needs a "
            f"{expected} runner",
            "check the job's runs-on labels and the scale set's (or unit's) BOT_RUNNER_ROLE",
        )
    return Result("runner role", "pass", f"a {expected} runner")


def credentials(environ: Mapping[str, str]) -> Result:
    """No credential of the runner's installation is readable by the job."""
    extra = [p for p in environ.get("BOT_CREDENTIAL_PATHS", "").split(os.pathsep) if p]
    found = [str(p) for p in _credential_files(environ, [*CREDENTIALS, *extra]) if readable(p)]
    if environ.get("CREDENTIALS_DIRECTORY"):
        found.insert(0, "$CREDENTIALS_DIRECTORY")
    if found:
        return Result(
            "runner credentials",
            "fail",
            f"the job can read {', '.join(found)}",
            "run jobs as another user than the one holding the credential "
            "(runners/systemd/run-ephemeral.sh); automountServiceAccountToken: false in pods",
        )
    return Result("runner credentials", "pass", "no registration credential or token readable")


def _credential_files(environ: Mapping[str, str], paths: list[str]) -> Iterator[Path]:
    for raw in [*paths, environ.get("CREDENTIALS_DIRECTORY", "")]:
        if not raw:
            continue
        path = Path(raw)
        try:
            inside = list(path.iterdir()) if path.is_dir() else [path]
        except OSError:  # a folder this job may not even look into: nothing readable there
            continue
        yield from inside


def state(expected: str, environ: Mapping[str, str]) -> Result:
    """PR jobs: main's state read-only at most; release jobs: main's state, writable, marked."""
    name = "runner state"
    main = environ.get("BOT_STATE", "")
    if expected == "release":
        if not main or not Path(main, MARKER).is_file() or not writable(Path(main)):
            return Result(
                name,
                "fail",
                f"BOT_STATE ({main or 'unset'}) is not main's writable state volume "
                f"(no {MARKER} there, or read-only)",
                f"mount the release state volume read-write and create {MARKER} at its root",
            )
        return Result(name, "pass", f"main's state at {main}, writable")
    wrong = [p for p in (main, environ.get("BOT_PUBLISHED", "")) if p and writable(Path(p))]
    if wrong:
        return Result(
            name,
            "fail",
            f"a PR job can write {', '.join(wrong)}: what it leaves would reach main's "
            "retrain and releases",
            "mount the published state read-only (readOnly: true) and main's state not at all",
        )
    return Result(name, "pass", "main's state is not writable from this job")


def release_volume(
    environ: Mapping[str, str], mounts: Path = Path("/proc/self/mountinfo")
) -> Result:
    """A PR job must not reach the release volume: no mount point (or listed path) holds the
    marker readable."""
    places = [p for p in environ.get("BOT_RELEASE_PATHS", "").split(os.pathsep) if p]
    places += mount_points(mounts)
    seen = [p for p in places if readable(Path(p, MARKER))]
    if seen:
        return Result(
            "release volume",
            "fail",
            f"the release volume is reachable from a PR job at {seen[0]}",
            "remove the release state volume from the PR scale set (runners/arc/values.yaml) "
            "or make it unreadable to the PR job user",
        )
    return Result("release volume", "pass", f"not reachable ({len(places)} places looked at)")


def mount_points(mounts: Path) -> list[str]:
    try:
        lines = mounts.read_text("utf-8", "replace").splitlines()
    except OSError:
        return []
    # mountinfo's fifth field; octal escapes (\040 for a space) as the kernel writes them
    out = [line.split()[4] for line in lines if len(line.split()) > 4]
    return [p.encode().decode("unicode_escape") if "\\" in p else p for p in out]


def install(environ: Mapping[str, str]) -> Result:
    """The runner's installation cannot be changed by the job (nothing persists to the next)."""
    name = "runner install"
    kind = environ.get("BOT_RUNNER_KIND", "")
    if kind == "pod":
        return Result(name, "pass", "an ephemeral pod: deleted after its one job")
    if kind != "systemd":
        return Result(
            name,
            "fail",
            f"unknown runner kind {kind or '(BOT_RUNNER_KIND unset)'}",
            "use runners/arc (pods) or runners/systemd, which set BOT_RUNNER_KIND",
        )
    folder = Path(environ.get("BOT_RUNNER_DIR") or "/nonexistent")
    try:
        owner = folder.stat().st_uid
    except OSError:
        return Result(name, "fail", f"runner folder {folder} not found", "set BOT_RUNNER_DIR")
    if owner != 0 or writable(folder):
        return Result(
            name,
            "fail",
            f"{folder} is owned by uid {owner} or writable by this job: a job could change "
            "the runner for the next one",
            "runners/systemd/run-ephemeral.sh: a root-owned copy per job",
        )
    return Result(name, "pass", f"{folder}: root's, read-only to this job, removed after it")


def checks(expected: str, environ: Mapping[str, str]) -> list[Result]:
    found = [role(expected, environ), credentials(environ), state(expected, environ)]
    if expected == "pr":
        found.append(release_volume(environ))
    return [*found, install(environ)]
