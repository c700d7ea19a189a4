"""`DEVSTACK_EXAMPLES`: off unless asked, nonsense refused; the example's Kafka principal gets only
what it needs. The example itself runs in examples/practice-app/tests (development and production)."""

from __future__ import annotations

import pytest

from devstack.examples import example_acls, wants_examples
from devstack.kafka_acls import desired_acls


def test_examples_are_off_unless_asked_and_nonsense_is_refused() -> None:
    assert [wants_examples({}), wants_examples({"DEVSTACK_EXAMPLES": "0"})] == [False, False]
    assert wants_examples({"DEVSTACK_EXAMPLES": "1"}) is True
    with pytest.raises(ValueError, match="DEVSTACK_EXAMPLES"):
        wants_examples({"DEVSTACK_EXAMPLES": "maybe"})


def test_the_examples_principal_may_read_its_topic_in_its_group_and_write_its_dead_letters_only() -> None:
    granted = {(acl.principal, acl.resource_type, acl.resource_name, acl.operation) for acl in example_acls()}
    assert granted == {
        ("User:practice-app", "TOPIC", "billing.subscriptions", "READ"),
        ("User:practice-app", "TOPIC", "billing.subscriptions", "DESCRIBE"),
        ("User:practice-app", "GROUP", "practice-app", "READ"),
        ("User:practice-app", "TOPIC", "billing.subscriptions.dlq", "WRITE"),
        ("User:practice-app", "TOPIC", "billing.subscriptions.dlq", "DESCRIBE"),
    }
    assert not {acl.principal for acl in desired_acls()} & {"User:practice-app"}  # not the platform's
