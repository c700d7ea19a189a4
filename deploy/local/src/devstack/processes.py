"""Child processes that die with their parent and stop cleanly (no orphan java or postgres)."""

from __future__ import annotations

import ctypes
import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1


# Resolved once, in the parent: the child between fork and exec must not load libraries or read
# /etc/passwd, because another thread of ours may hold a lock those need (children are spawned
# from the supervisor's thread while the main thread keeps working).
_LIBC = ctypes.CDLL("libc.so.6", use_errno=True)


def _preexec(account: pwd.struct_passwd | None, death_signal: int) -> Callable[[], None]:
    def setup() -> None:
        os.setpgrp()  # Ctrl-C reaches the runner only; it stops children in order
        if account is not None:
            os.setgid(account.pw_gid)
            os.setuid(account.pw_uid)
        # After the credential change (which would clear it): die if the runner dies.
        _LIBC.prctl(_PR_SET_PDEATHSIG, death_signal)

    return setup


def spawn(
    argv: Sequence[str],
    *,
    log_file: Path,
    env: dict[str, str] | None = None,
    run_as: str | None = None,
    death_signal: int = signal.SIGTERM,
    cwd: Path | None = None,
    pass_fds: Sequence[int] = (),
) -> subprocess.Popen[bytes]:
    """Start a child whose output goes to `log_file`, killed by `death_signal` if we die.

    The kernel sends the death signal when the *thread* that started the child ends, so start
    long-lived children from the main thread or the supervisor's thread, never from a thread pool.
    `pass_fds` are inherited by the child under the same numbers.
    """
    account = pwd.getpwnam(run_as) if run_as is not None else None
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        return subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            pass_fds=tuple(pass_fds),
            preexec_fn=_preexec(account, death_signal),
        )


def stop(process: subprocess.Popen[bytes], *, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    """Signal a child and wait for it; kill it if it does not stop in time."""
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_until(
    check: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    process: subprocess.Popen[bytes] | None = None,
    log_file: Path | None = None,
) -> None:
    """Poll `check` until it is true; fail with the log's tail if time runs out or the child dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}{_tail(log_file)}")
        if check():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s{_tail(log_file)}")


def port_open(port: int, *, host: str = "127.0.0.1") -> bool:
    """Does something accept TCP connections on `host:port`?"""
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


def ensure_port_free(port: int, *, what: str, hint: str) -> None:
    """Fail clearly when something else already listens where a server of ours must."""
    if port_open(port):
        raise RuntimeError(f"port {port} for {what} is already in use; {hint}")


def _tail(log_file: Path | None, lines: int = 30) -> str:
    if log_file is None or not log_file.exists():
        return ""
    text = log_file.read_text(errors="replace").splitlines()[-lines:]
    return "\n--- " + str(log_file) + " ---\n" + "\n".join(text)
