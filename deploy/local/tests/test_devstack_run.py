"""`devstack run` (what `make run` starts): comes up, serves a signup, restarts what is killed,
stops clean on Ctrl-C."""

from __future__ import annotations

import os
import signal
import smtplib
import stat
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

from devstack.kafka import libs_dir

# Beside the test session's own platform (offset 10000), on ports no other session takes:
# Kafka 19142, PostgreSQL 64379, SMTP 18075, services 18051-18055 (+ DEVSTACK_TEST_PORT_OFFSET).
OFFSET = 10050 + int(os.environ.get("DEVSTACK_TEST_PORT_OFFSET", "0"))


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


def replica_pids(output: list[str]) -> dict[str, int]:
    """`        workspace-2      pid 1234, alone at ...` lines, as {"workspace-2": 1234}."""
    found = {}
    for line in output:
        words = line.split()
        if len(words) > 2 and words[1] == "pid":
            found[words[0]] = int(words[2].rstrip(","))
    return found


def leftover_processes(root: Path) -> list[str]:
    """Processes that carry the run's folder in their environment: everything the runner started."""
    marker = f"BACKBONE_LOCAL_DIR={root}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "environ").read_bytes().split(b"\0"):
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                found.append(f"{entry.name} {command}")
        except OSError:  # gone meanwhile
            continue
    return found


DEVSTACK = Path(sys.executable).with_name("devstack")
# A developer's shell: none of the settings the test session itself runs on.
NOT_IN_A_SHELL = {"KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "PLATFORM_ENVIRONMENT"}
NOT_IN_A_SHELL_PREFIXES = ("PLATFORM_", "IDENTITY_", "BILLING_", "SKOOL_INGEST_", "OPERATOR_")


def start_run(
    tmp_path: Path, offset: int, **settings: str
) -> tuple[Path, dict[str, str], subprocess.Popen[str]]:
    """`devstack run` in a folder of its own (reusing the session's Kafka jars) on ports moved by
    `offset`, with `settings` in its environment: the folder, the environment, the process."""
    root = tmp_path / "local"
    (root / "kafka").mkdir(parents=True)
    (root / "kafka" / "libs").symlink_to(libs_dir())  # reuse the jars the session resolved
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in NOT_IN_A_SHELL and not k.startswith(NOT_IN_A_SHELL_PREFIXES)
    }
    env |= {
        "BACKBONE_LOCAL_DIR": str(root),
        "DEVSTACK_PORT_OFFSET": str(offset),
        "PYTHONUNBUFFERED": "1",
        **settings,
    }
    process = subprocess.Popen(
        [str(DEVSTACK), "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    return root, env, process


def test_run_starts_everything_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    root, env, process = start_run(tmp_path, OFFSET, DEVSTACK_REPLICAS_WORKSPACE="2")
    try:
        output = read_until(process, "Press Ctrl-C", timeout=180)
        assert any("KAFKA_BOOTSTRAP_SERVERS=" in line for line in output)  # settings are printed
        assert any(f"identity     http://127.0.0.1:{8001 + OFFSET}" in line for line in output)
        pids = replica_pids(output)
        expected = {"identity-1", "workspace-1", "workspace-2", "billing-1", "invites-1", "skool-ingest-1"}
        assert set(pids) == expected | {"billing-worker-1"}  # DEVSTACK_WORKERS' default: billing

        os.kill(pids["workspace-2"], signal.SIGKILL)
        read_until(process, "workspace-2 exited with -9; restarting in 0.5s (restart 1)", timeout=10)
        read_until(process, "workspace-2 is back after", timeout=90)
        sink = int(subprocess.check_output(["pgrep", "-f", f"devstack.smtp_sink --port {8025 + OFFSET}"]))
        os.kill(sink, signal.SIGKILL)
        read_until(process, "smtp-sink is back after", timeout=60)

        signup = subprocess.run(
            [str(DEVSTACK), "signup", "--identity", f"http://127.0.0.1:{8001 + OFFSET}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert signup.returncode == 0, signup.stdout + signup.stderr
        assert "'plan': 'individual_free'" in signup.stdout  # billing's consumers ran: in its worker
        logs = root / "logs"
        assert "connected (no consumers here)" in (logs / "billing-1.log").read_text()
        assert "consumers connected" in (logs / "billing-worker-1.log").read_text()

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


# The production profile beside it: Kafka 19242, PostgreSQL 64479, services 18151-18155.
PRODUCTION_OFFSET = 10150 + int(os.environ.get("DEVSTACK_TEST_PORT_OFFSET", "0"))


def test_the_production_profile_runs_serves_a_signup_and_the_operator_tools_and_stops_clean(
    tmp_path: Path,
) -> None:
    """`DEVSTACK_PROFILE=production make run`: what it prints, the secrets file it writes, a
    signup signed with the generated secret, `devstack status` on the operator's logins."""
    root, env, process = start_run(tmp_path, PRODUCTION_OFFSET, DEVSTACK_PROFILE="production")
    secrets = root / "production" / "secrets.env"
    try:
        output = read_until(process, "Press Ctrl-C", timeout=240)
        assert any(f"secrets      {secrets}" in line for line in output), output
        assert any("(SASL_SSL, SCRAM-SHA-512, ACLs)" in line for line in output)
        assert not any("backbone:" in line for line in output)  # no superuser password printed
        assert stat.S_IMODE(secrets.stat().st_mode) == 0o600

        identity = f"http://127.0.0.1:{8001 + PRODUCTION_OFFSET}"
        signup = subprocess.run(
            [str(DEVSTACK), "signup", "--identity", identity],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert signup.returncode == 0, signup.stdout + signup.stderr
        assert "'plan': 'individual_free'" in signup.stdout
        status = subprocess.run(
            [str(DEVSTACK), "status"], env=env, capture_output=True, text=True, timeout=60
        )
        assert status.returncode == 0, status.stdout + status.stderr
        assert "identity.users" in status.stdout
    finally:
        process.send_signal(signal.SIGINT)
        remaining, _ = process.communicate(timeout=90)
    assert process.returncode == 0, remaining
    assert "stopped" in remaining
    assert leftover_processes(root) == []
