"""One long-lived child of the platform (a replica, Kafka, PostgreSQL, the SMTP sink).

It knows how to start a new incarnation of itself and how to tell that it is ready, and whether
it *should* be running: the supervisor restarts a child that died only while it is wanted, so a
deliberate stop (Ctrl-C, a test holding a service down) is never undone behind its back.
"""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from devstack.processes import stop


@dataclass(eq=False)
class Child:
    name: str
    log_file: Path
    spawn: Callable[[], subprocess.Popen[bytes]]  # starts one incarnation; must not block
    is_ready: Callable[[], bool]  # one quick probe
    stop_signal: int = signal.SIGTERM
    stop_timeout: float = 20
    process: subprocess.Popen[bytes] | None = None
    wanted: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self) -> subprocess.Popen[bytes]:
        """Start a new incarnation (from the main thread or the supervisor's: PR_SET_PDEATHSIG)."""
        with self._lock:
            self.process = self.spawn()
            self.wanted = True
            return self.process

    def restart(self, dead: subprocess.Popen[bytes]) -> bool:
        """Replace the incarnation `dead`, unless it was stopped or started again meanwhile."""
        with self._lock:
            if not self.wanted or self.process is not dead:
                return False
            self.process = self.spawn()
            return True

    def stop(self) -> None:
        """Stop it cleanly and keep it down."""
        process = self._release()
        if process is not None:
            stop(process, sig=self.stop_signal, timeout=self.stop_timeout)

    def kill(self) -> None:
        """SIGKILL it and keep it down (a crash that nobody repairs until `start`)."""
        process = self._release()
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def alive(self) -> bool:
        process = self.process
        return process is not None and process.poll() is None

    def _release(self) -> subprocess.Popen[bytes] | None:
        with self._lock:
            self.wanted = False
            process, self.process = self.process, None
            return process


def stop_together(children: Iterable[Child]) -> None:
    """Stop several children at once: signal them all, then wait for each (kill if too slow)."""
    released = [(child, child._release()) for child in children]
    for child, process in released:
        if process is not None and process.poll() is None:
            process.send_signal(child.stop_signal)
    for child, process in released:
        if process is not None:
            stop(process, sig=child.stop_signal, timeout=child.stop_timeout)
