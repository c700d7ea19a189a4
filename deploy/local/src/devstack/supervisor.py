"""Restart whatever child of the platform dies, with backoff, until one keeps dying.

Policy: a child that exits while it is wanted is started again after 0.5 s, the delay doubling
with each death still inside the window (at most 10 s). More than 5 deaths of one child within
60 s and the supervisor gives up: it sets `failed`, and `devstack run` then stops everything and
exits non-zero. `DEVSTACK_RESTART_MAX_DEATHS` and `DEVSTACK_RESTART_WINDOW_SECONDS` change the
limits. Each death and each return ("kafka is back after 6.2s") is logged and kept in
`recoveries`, which the chaos runs report.

Restarts are spawned from the supervisor's own thread, which lives exactly as long as the
platform: children carry PR_SET_PDEATHSIG, which the kernel fires when the *thread* that forked
them ends, so a restart spawned from a short-lived thread would be killed moments later.
Readiness probes (which may block for seconds) run in a small pool and never spawn anything.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from devstack.child import Child
from devstack.system import Logger


@dataclass(frozen=True)
class RestartPolicy:
    first_delay: float = 0.5
    max_delay: float = 10.0
    max_deaths: int = 5  # more deaths than this within `window` seconds: give up
    window: float = 60.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> RestartPolicy:
        return cls(
            max_deaths=int(environ.get("DEVSTACK_RESTART_MAX_DEATHS", cls.max_deaths)),
            window=float(environ.get("DEVSTACK_RESTART_WINDOW_SECONDS", cls.window)),
        )

    def delay(self, recent_deaths: int) -> float:
        return min(self.max_delay, self.first_delay * 2.0 ** max(recent_deaths - 1, 0))


@dataclass
class Recovery:
    """One outage of a child: when it was found dead, how many starts it took, when it was ready."""

    name: str
    exit_code: int | None
    died_at: float  # time.monotonic()
    restarts: int = 0
    ready_at: float | None = None

    @property
    def seconds(self) -> float | None:
        return None if self.ready_at is None else self.ready_at - self.died_at


@dataclass(eq=False)
class _Watch:
    child: Child
    deaths: deque[float] = field(default_factory=deque)
    restarts: int = 0
    dead: subprocess.Popen[bytes] | None = None  # the incarnation waiting to be replaced
    restart_at: float = 0.0
    recovery: Recovery | None = None  # open from a death until the child is ready again
    probe: Future[bool] | None = None
    given_up: bool = False


class Supervisor:
    def __init__(self, *, log: Logger, policy: RestartPolicy | None = None, interval: float = 0.1) -> None:
        self.log = log
        self.policy = policy or RestartPolicy.from_env()
        self.interval = interval
        self.recoveries: list[Recovery] = []
        self.failed = threading.Event()
        self.failure = ""
        self._watches: list[_Watch] = []
        self._watches_lock = threading.Lock()
        self._holding = False
        self._closing = threading.Event()
        self._probes = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readiness")
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def watch(self, child: Child) -> None:
        with self._watches_lock:
            self._watches.append(_Watch(child))

    def unwatch(self, child: Child) -> None:
        with self._watches_lock:
            self._watches = [watch for watch in self._watches if watch.child is not child]

    def hold(self) -> None:
        """Restart nothing any more (an orderly stop is coming); the thread keeps running."""
        self._holding = True

    def close(self) -> None:
        """End the thread: call it after every child it may have started is stopped."""
        self._holding = True
        self._closing.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._probes.shutdown(wait=False, cancel_futures=True)

    def recovery_of(self, name: str, *, since: float) -> Recovery | None:
        """The first outage of `name` noticed after `since` (a time.monotonic() value)."""
        return next((r for r in list(self.recoveries) if r.name == name and r.died_at >= since), None)

    def _run(self) -> None:
        while not self._closing.wait(self.interval):
            self.tend()

    def tend(self) -> None:
        """One pass over every child (the thread does this every `interval`; tests may call it)."""
        with self._watches_lock:
            watches = list(self._watches)
        for watch in watches:
            try:
                self._tend(watch)
            except Exception as error:  # one child's trouble must not end supervision
                self.log(f"supervisor: {watch.child.name}: {error!r}")

    def _tend(self, watch: _Watch) -> None:
        child, now = watch.child, time.monotonic()
        process = child.process
        if watch.given_up or self._holding:
            return
        if process is None or not child.wanted:  # stopped on purpose: nothing to repair
            watch.dead, watch.recovery, watch.probe = None, None, None
            return
        if watch.dead is not None and process is not watch.dead:
            watch.dead = None  # someone else (a test's `start`) started it again meanwhile
        if process.poll() is None:
            self._probe_recovery(watch, now)
        elif watch.dead is None:
            self._record_death(watch, process, now)
        elif now >= watch.restart_at:
            try:
                restarted = child.restart(process)
            except Exception as error:
                self.log(f"{child.name} could not be started: {error!r}")
                watch.dead = None
                self._record_death(watch, process, now)
                return
            if restarted:
                watch.dead = None

    def _record_death(self, watch: _Watch, process: subprocess.Popen[bytes], now: float) -> None:
        name, policy = watch.child.name, self.policy
        watch.deaths.append(now)
        while watch.deaths and watch.deaths[0] < now - policy.window:
            watch.deaths.popleft()
        if len(watch.deaths) > policy.max_deaths:
            watch.given_up = True
            self.failure = f"{name} died {len(watch.deaths)} times within {policy.window:.0f}s; giving up"
            self.log(f"{self.failure} (see {watch.child.log_file})")
            self.failed.set()
            return
        delay = policy.delay(len(watch.deaths))
        watch.restarts += 1
        if watch.recovery is None:
            watch.recovery = Recovery(name=name, exit_code=process.returncode, died_at=now)
            self.recoveries.append(watch.recovery)
        watch.recovery.restarts += 1
        watch.dead, watch.restart_at, watch.probe = process, now + delay, None
        self.log(
            f"{name} exited with {process.returncode}; restarting in {delay:.1f}s (restart {watch.restarts})"
        )

    def _probe_recovery(self, watch: _Watch, now: float) -> None:
        if watch.recovery is None:
            return
        if watch.probe is None:
            watch.probe = self._probes.submit(_quietly, watch.child)
            return
        if not watch.probe.done():
            return
        ready, watch.probe = watch.probe.result(), None
        if ready:
            watch.recovery.ready_at = now
            self.log(f"{watch.child.name} is back after {now - watch.recovery.died_at:.1f}s")
            watch.recovery = None


def _quietly(child: Child) -> bool:
    try:
        return child.is_ready()
    except Exception:
        return False
