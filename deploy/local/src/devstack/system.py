"""Installing what the machine lacks (Debian packages) and finding programs."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from collections.abc import Callable

Logger = Callable[[str], None]
_apt_updated = False


def apt_install(package: str) -> None:
    """Install a Debian package (as root); the error says what to do when that is impossible."""
    global _apt_updated
    if os.geteuid() != 0 and shutil.which("sudo") is None:
        raise RuntimeError(f"{package} is missing; install it (apt-get install {package})")
    prefix = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        subprocess.run([*prefix, "apt-get", "update", "-qq"], check=True, env=env)
        _apt_updated = True
    subprocess.run([*prefix, "apt-get", "install", "-y", "-qq", package], check=True, env=env)


def ensure_command(command: str, *, apt_package: str) -> str:
    found = shutil.which(command)
    if found is None:
        apt_install(apt_package)
        found = shutil.which(command)
    if found is None:
        raise RuntimeError(f"{command} is still missing after installing {apt_package}")
    return found


def postgres_bindir() -> str:
    """The directory holding `postgres` and `initdb` (Debian's postgresql, installed if missing)."""
    for _ in range(2):
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), reverse=True)
        if candidates:
            return os.path.dirname(candidates[0])
        found = shutil.which("postgres")
        if found:
            return os.path.dirname(os.path.realpath(found))
        apt_install("postgresql")
    raise RuntimeError("PostgreSQL server binaries not found")
