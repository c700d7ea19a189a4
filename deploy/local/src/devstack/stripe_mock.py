"""stripe-mock (Stripe's own API mock, a Go program) as a supervised child of the platform.

It is built once with `go install github.com/stripe/stripe-mock@<STRIPE_MOCK_VERSION>` into
`.local/bin` (the Go module proxy serves it; Go must be on the machine) and answers the Stripe API
over HTTP on its own port. billing reaches it through `BILLING_STRIPE_API_BASE`. `make run` starts
it unless a real `BILLING_STRIPE_API_KEY` is set; the test session always does.

Also here: `sign_stripe_payload`, Stripe's webhook signing scheme, for tests and for posting
events by hand.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import subprocess
import time
from pathlib import Path

from billing.settings import DEV_STRIPE_API_KEY
from devstack.child import Child
from devstack.paths import REPO_ROOT, local_dir
from devstack.processes import ensure_port_free, port_open, spawn, wait_until
from devstack.system import Logger
from shared.settings import LEGACY_DEV_STRIPE_API_KEY

STRIPE_MOCK_VERSION = "v0.203.0"
STRIPE_MOCK_MODULE = "github.com/stripe/stripe-mock"
# The development key (billing's settings default: stripe-mock accepts `sk_test_<one word>` and
# nothing else), and the earlier placeholder `sk_test_dev_placeholder`, which stripe-mock refuses:
# still a development key (stripe-mock is started), and `devstack run` hands billing the current
# one instead (devstack.cli.development_env).
LEGACY_DEV_STRIPE_API_KEYS = frozenset({LEGACY_DEV_STRIPE_API_KEY})
DEV_STRIPE_API_KEYS = frozenset({DEV_STRIPE_API_KEY, "", *LEGACY_DEV_STRIPE_API_KEYS})


def stripe_mock_binary() -> Path:
    return local_dir() / "bin" / "stripe-mock"


def ensure_stripe_mock(log: Logger) -> Path:
    """The stripe-mock binary, built with `go install` the first time (a platform with its own
    BACKBONE_LOCAL_DIR reuses the checkout's build)."""
    binary = stripe_mock_binary()
    for built in (binary, REPO_ROOT / ".local" / "bin" / "stripe-mock"):
        if built.exists():
            return built
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        raise RuntimeError(
            "stripe-mock needs Go (`go install`); install Go 1.22+ or set a real BILLING_STRIPE_API_KEY"
        )
    log(f"stripe-mock: go install {STRIPE_MOCK_MODULE}@{STRIPE_MOCK_VERSION} into {binary.parent}")
    binary.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(binary.parent)}
    subprocess.run([go, "install", f"{STRIPE_MOCK_MODULE}@{STRIPE_MOCK_VERSION}"], check=True, env=env)
    return binary


def wants_stripe_mock() -> bool:
    """`make run` uses stripe-mock unless a real Stripe key is configured."""
    return os.environ.get("BILLING_STRIPE_API_KEY", "") in DEV_STRIPE_API_KEYS


class StripeMock:
    """stripe-mock listening for HTTP on 127.0.0.1:`port`."""

    def __init__(self, *, port: int, log_file: Path) -> None:
        self.port = port
        self.child = Child(name="stripe-mock", log_file=log_file, spawn=self._spawn, is_ready=self._listens)
        self._binary: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self) -> subprocess.Popen[bytes]:
        assert self._binary is not None
        return spawn(
            # Its HTTPS listener (unused here) takes a free port the system picks: left to its
            # default, 12112, two platforms on one machine (a run and a test session) collide.
            [str(self._binary), "-http-addr", f"127.0.0.1:{self.port}", "-https-addr", "127.0.0.1:"],
            log_file=self.child.log_file,
        )

    def _listens(self) -> bool:
        return port_open(self.port)

    def start(self, log: Logger) -> None:
        self._binary = ensure_stripe_mock(log)
        ensure_port_free(self.port, what="stripe-mock", hint="stop what holds it")
        process = self.child.start()
        wait_until(
            self._listens, timeout=30, what="stripe-mock", process=process, log_file=self.child.log_file
        )

    def stop(self) -> None:
        self.child.stop()


def sign_stripe_payload(payload: bytes, *, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header Stripe sends: `t=<unix>,v1=<hex HMAC-SHA256(secret, "t.body")>`."""
    moment = int(time.time()) if timestamp is None else timestamp
    signed = f"{moment}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"


def main() -> None:
    """`python -m devstack.stripe_mock`: build stripe-mock into .local/bin if it is not there."""
    print(f"stripe-mock: {ensure_stripe_mock(print)}", flush=True)


if __name__ == "__main__":
    main()
