"""`DEVSTACK_EXAMPLES`: off unless asked, nonsense refused, and the production profile refuses the
examples before it starts anything (they have no Kafka principal, ACLs or login there yet). The
example itself runs in examples/practice-app/tests on the test platform."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from devstack import cli
from devstack.examples import wants_examples


def test_examples_are_off_unless_asked_and_nonsense_is_refused() -> None:
    assert [wants_examples({}), wants_examples({"DEVSTACK_EXAMPLES": "0"})] == [False, False]
    assert wants_examples({"DEVSTACK_EXAMPLES": "1"}) is True
    with pytest.raises(ValueError, match="DEVSTACK_EXAMPLES"):
        wants_examples({"DEVSTACK_EXAMPLES": "maybe"})


@pytest.fixture
def own_signal_handlers() -> Iterator[None]:
    """`devstack run` installs SIGINT/SIGTERM handlers; give the test process its own back."""
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


def test_the_production_profile_refuses_the_examples_before_starting_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], own_signal_handlers: None
) -> None:
    monkeypatch.setenv("DEVSTACK_EXAMPLES", "1")
    monkeypatch.setenv("DEVSTACK_PROFILE", "production")
    assert cli.run() == 2
    said = capsys.readouterr().out
    assert "refused" in said and "development profile only" in said
