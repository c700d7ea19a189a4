"""`devstack run` (what `make run` starts): comes up, serves a signup, stops clean on Ctrl-C."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

from devstack.kafka import libs_dir

OFFSET = 200  # Kafka 9292, PostgreSQL 54529, SMTP 8225, services 8201-8205


def read_until(process: subprocess.Popen[str], marker: str, *, timeout: float) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if marker in line:
            return lines
    raise AssertionError(f"{marker!r} not printed in {timeout}s:\n" + "\n".join(lines))


def leftover_processes(root: Path) -> list[str]:
    result = subprocess.run(["pgrep", "-af", str(root)], capture_output=True, text=True)
    return [line for line in result.stdout.splitlines() if "pgrep" not in line]


def test_run_starts_everything_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    root = tmp_path / "local"
    (root / "kafka").mkdir(parents=True)
    (root / "kafka" / "libs").symlink_to(libs_dir())  # reuse the jars the session resolved
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "PLATFORM_ENVIRONMENT"}
    }
    env |= {"BACKBONE_LOCAL_DIR": str(root), "DEVSTACK_PORT_OFFSET": str(OFFSET), "PYTHONUNBUFFERED": "1"}
    devstack = Path(sys.executable).with_name("devstack")
    process = subprocess.Popen(
        [str(devstack), "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        output = read_until(process, "Press Ctrl-C", timeout=180)
        assert any("KAFKA_BOOTSTRAP_SERVERS=" in line for line in output)  # settings are printed
        assert any("identity     http://127.0.0.1:8201" in line for line in output)

        signup = subprocess.run(
            [str(devstack), "signup", "--identity", "http://127.0.0.1:8201"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert signup.returncode == 0, signup.stdout + signup.stderr
        assert "'plan': 'individual_free'" in signup.stdout

        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "hi"
        message.set_content("welcome")
        with smtplib.SMTP("127.0.0.1", 8025 + OFFSET) as smtp:
            smtp.send_message(message)
        saved = list((root / "mail").glob("*.eml"))
        assert len(saved) == 1 and b"Subject: hi" in saved[0].read_bytes()
    finally:
        process.send_signal(signal.SIGINT)
        remaining, _ = process.communicate(timeout=90)
    assert process.returncode == 0, remaining
    assert "stopped" in remaining
    assert leftover_processes(root) == []
