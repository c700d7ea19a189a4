"""The supervisor restarts what dies, leaves alone what was stopped, and gives up on a crash loop."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devstack.child import Child
from devstack.processes import spawn
from devstack.supervisor import RestartPolicy, Supervisor

IMMEDIATE = RestartPolicy(first_delay=0.0, max_delay=0.0, max_deaths=3, window=60)


def child_running(name: str, command: list[str], folder: Path) -> Child:
    log_file = folder / f"{name}.log"
    return Child(
        name=name, log_file=log_file, spawn=lambda: spawn(command, log_file=log_file), is_ready=lambda: True
    )


def until(
    condition: Callable[[], bool], *, step: Callable[[], None] = lambda: None, timeout: float = 10
) -> None:
    """Call `step` until `condition` holds (polling, with a deadline)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        step()
        time.sleep(0.01)


@pytest.fixture
def messages() -> list[str]:
    return []


@pytest.fixture
def supervisor(messages: list[str]) -> Iterator[Supervisor]:
    supervisor = Supervisor(log=messages.append, policy=IMMEDIATE)
    yield supervisor
    supervisor.close()


def test_a_killed_child_is_started_again_and_its_recovery_recorded(
    supervisor: Supervisor, messages: list[str], tmp_path: Path
) -> None:
    child = child_running("sleeper", ["sleep", "300"], tmp_path)
    supervisor.watch(child)
    first = child.start()
    try:
        killed_at = time.monotonic()
        os.kill(first.pid, signal.SIGKILL)

        def back() -> bool:
            recovery = supervisor.recovery_of("sleeper", since=killed_at)
            return recovery is not None and recovery.seconds is not None

        until(back, step=supervisor.tend)
        assert child.process is not None and child.process.pid != first.pid and child.alive()
        assert messages[0] == "sleeper exited with -9; restarting in 0.0s (restart 1)"
        assert messages[1].startswith("sleeper is back after")
    finally:
        child.stop()


def test_a_child_stopped_on_purpose_is_left_down(
    supervisor: Supervisor, messages: list[str], tmp_path: Path
) -> None:
    child = child_running("sleeper", ["sleep", "300"], tmp_path)
    supervisor.watch(child)
    child.start()
    child.kill()  # a test holding it down
    for _ in range(3):
        supervisor.tend()
    assert child.process is None and messages == []


def test_a_child_that_keeps_dying_makes_it_give_up(
    supervisor: Supervisor, messages: list[str], tmp_path: Path
) -> None:
    child = child_running("crasher", ["sh", "-c", "exit 3"], tmp_path)
    supervisor.watch(child)
    child.start()
    until(supervisor.failed.is_set, step=supervisor.tend)
    assert supervisor.failure == "crasher died 4 times within 60s; giving up"
    assert [m for m in messages if "restarting" in m] == [
        f"crasher exited with 3; restarting in 0.0s (restart {n})" for n in (1, 2, 3)
    ]
    gave_up_on = child.process
    for _ in range(3):
        supervisor.tend()
    assert child.process is gave_up_on  # not started again


def test_children_it_restarted_die_with_its_thread(messages: list[str], tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG follows the thread that spawned: restarts come from the supervisor's own
    thread, so they live exactly as long as it does (and no longer: no orphans)."""
    supervisor = Supervisor(log=messages.append, policy=IMMEDIATE, interval=0.02)
    child = child_running("sleeper", ["sleep", "300"], tmp_path)
    supervisor.watch(child)
    first = child.start()
    supervisor.start()
    try:
        os.kill(first.pid, signal.SIGKILL)
        until(lambda: child.process is not first and child.alive())
        restarted = child.process
        assert restarted is not None
    finally:
        supervisor.close()
    until(lambda: restarted.poll() is not None)
    assert restarted.returncode == -signal.SIGTERM
