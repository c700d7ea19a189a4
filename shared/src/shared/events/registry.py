"""Every event type the code declares: the EventData subclasses of `shared.events.schemas`.

Derived from the schema modules themselves (each is imported, then the subclasses are walked),
so a new payload class is known as soon as it is written; nothing keeps a second list.
"""

from __future__ import annotations

import importlib
import pkgutil

from shared.events import schemas
from shared.events.envelope import EventData
from shared.events.topics import topic_for


def event_schemas() -> dict[str, type[EventData]]:
    """Each event type's payload schema, by event type (sorted)."""
    for module in pkgutil.iter_modules(schemas.__path__):
        importlib.import_module(f"{schemas.__name__}.{module.name}")
    found: dict[str, type[EventData]] = {}
    for schema in _subclasses(EventData):
        # Only the declared schemas: a test may define its own EventData for a made-up event.
        if not schema.__module__.startswith(f"{schemas.__name__}."):
            continue
        if schema.event_type in found:
            raise ValueError(
                f"{schema.event_type!r} is declared twice: {found[schema.event_type]} and {schema}"
            )
        found[schema.event_type] = schema
    return dict(sorted(found.items()))


def schemas_on(topic: str) -> list[type[EventData]]:
    """The payload schemas of the events `topic` carries, by event type."""
    return [schema for event_type, schema in event_schemas().items() if topic_for(event_type) == topic]


def _subclasses(cls: type[EventData]) -> list[type[EventData]]:
    direct = cls.__subclasses__()
    return direct + [grandchild for child in direct for grandchild in _subclasses(child)]
