"""A local SMTP server that keeps every message it receives as a `.eml` file.

It runs as a child process of the platform (`python -m devstack.smtp_sink --port --folder`), so
it can die and be restarted like every other piece.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from devstack.child import Child
from devstack.processes import port_open, spawn, wait_until


class _SaveToFolder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        content: Any = envelope.original_content or envelope.content or b""
        data = content if isinstance(content, bytes) else str(content).encode()
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        header = f"X-Envelope-From: {envelope.mail_from}\r\nX-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        (self.folder / name).write_bytes(header.encode() + data)
        return "250 Message accepted for delivery"


class SmtpSink:
    """The sink as a supervised child process listening on 127.0.0.1:`port`."""

    def __init__(self, *, port: int, folder: Path, log_file: Path) -> None:
        self.folder = folder
        self.port = port
        self.child = Child(name="smtp-sink", log_file=log_file, spawn=self._spawn, is_ready=self._listens)

    def _spawn(self) -> subprocess.Popen[bytes]:
        command = [
            sys.executable,
            "-m",
            "devstack.smtp_sink",
            "--port",
            str(self.port),
            "--folder",
            str(self.folder),
        ]
        return spawn(command, log_file=self.child.log_file)

    def _listens(self) -> bool:
        return port_open(self.port)

    def start(self) -> None:
        process = self.child.start()
        wait_until(self._listens, timeout=30, what="SMTP sink", process=process, log_file=self.child.log_file)

    def stop(self) -> None:
        self.child.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="save every message received over SMTP as a .eml file")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--folder", type=Path, required=True)
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    # Blocked before the server's thread starts (threads inherit the mask): only sigwait sees them.
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    controller = Controller(_SaveToFolder(args.folder), hostname="127.0.0.1", port=args.port)
    controller.start()
    print(f"SMTP sink on 127.0.0.1:{args.port}, saving to {args.folder}", flush=True)
    signal.sigwait(stop_signals)
    controller.stop()


if __name__ == "__main__":
    main()
