"""`pip install ./clients/python` in a fresh virtual environment: the kit installs on its own (none
of the platform's packages) and its modules import. Slow (about a minute: a real install)."""

from __future__ import annotations

import subprocess
import venv
from pathlib import Path

KIT = Path(__file__).resolve().parents[1]
CONSTRAINTS = KIT.parents[1] / "constraints.txt"
MODULES = ("events", "kafka", "subscriber", "client", "errors", "models", "tokens", "testing")


def test_the_kit_installs_alone_in_a_fresh_venv_and_imports(tmp_path: Path) -> None:
    venv.create(tmp_path / "venv", with_pip=True)
    python = str(tmp_path / "venv" / "bin" / "python")
    install = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-c", str(CONSTRAINTS)]
    subprocess.run([*install, str(KIT)], check=True, timeout=600)
    imports = "; ".join(f"import backbone_client.{module}" for module in MODULES)
    probe = f"{imports}; import importlib.util as u; print(u.find_spec('shared'), u.find_spec('devstack'))"
    found = subprocess.run(
        [python, "-c", probe], check=True, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert found.stdout.split() == ["None", "None"]  # no platform package came along
    listed = subprocess.run([python, "-m", "pip", "list"], check=True, capture_output=True, text=True)
    assert "backbone-client" in listed.stdout and "backbone-shared" not in listed.stdout
