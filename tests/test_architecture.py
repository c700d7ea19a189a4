"""Checked contracts about the code's shape: import boundaries and one shape for every service."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SERVICES = {
    "identity": "identity",
    "workspace": "workspace",
    "billing": "billing",
    "invites": "invites",
    "skool-ingest": "skool_ingest",
}


def test_import_boundaries_hold() -> None:
    """import-linter: no service imports another, `shared` imports no service, the client kit and
    the example import nothing of the platform (pyproject.toml)."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 kept, 0 broken" in result.stdout


def test_the_boundary_check_catches_the_client_kit_importing_the_platform() -> None:
    """The kit installs on its own: a module in it importing `shared` breaks the contract."""
    offender = REPO / "clients/python/src/backbone_client/_boundary_probe.py"
    offender.write_text("import shared.events  # noqa: F401\n")
    try:
        lint_imports = Path(sys.executable).with_name("lint-imports")
        result = subprocess.run([str(lint_imports), "--no-cache"], cwd=REPO, capture_output=True, text=True)
    finally:
        offender.unlink()
    assert result.returncode != 0
    assert "backbone_client._boundary_probe -> shared.events" in result.stdout


def test_the_boundary_check_catches_a_service_importing_another(tmp_path: Path) -> None:
    """The contract is live: a module in workspace importing identity breaks it."""
    offender = REPO / "services/workspace/src/workspace/_boundary_probe.py"
    offender.write_text("import identity.models  # noqa: F401\n")
    try:
        lint_imports = Path(sys.executable).with_name("lint-imports")
        result = subprocess.run([str(lint_imports), "--no-cache"], cwd=REPO, capture_output=True, text=True)
    finally:
        offender.unlink()
    assert result.returncode != 0
    assert "workspace._boundary_probe -> identity.models" in result.stdout


@pytest.mark.parametrize("directory,package", SERVICES.items())
def test_every_service_has_the_same_shape(directory: str, package: str) -> None:
    root = REPO / "services" / directory
    source = root / "src" / package
    for name in (
        "app.py",
        "settings.py",
        "deps.py",
        "api.py",
        "handlers.py",
        "models.py",
        "schemas.py",
        "errors.py",
        "__main__.py",
        "service/__init__.py",
        "migrations/env.py",
        "migrations/versions/0001_initial.py",
    ):
        assert (source / name).is_file(), f"{directory} lacks {name}"
    assert (root / "pyproject.toml").is_file()
    assert (root / "tests").is_dir()


def test_the_project_never_reads_the_reference_folder_beside_it() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "*.py", "Makefile", ".ci/run", "*.yaml", "*.toml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    needle = "../" + "shared"
    offenders = [path for path in tracked if needle in (REPO / path).read_text(errors="ignore")]
    assert offenders == []
