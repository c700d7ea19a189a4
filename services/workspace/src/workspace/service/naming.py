"""Rules for what a user may call a team org (API.md, `POST /v1/orgs`)."""

from __future__ import annotations

import re
import unicodedata

from workspace.errors import InvalidField

# Lowercase letters, digits and hyphens, 3 to 48 characters.
SLUG_PATTERN = "^[a-z0-9-]{3,48}$"
_SLUG = re.compile(SLUG_PATTERN)
# Personal orgs are `personal-<user id>`; nobody may choose a slug that looks like one.
RESERVED_SLUG_PREFIX = "personal-"
NAME_MAX_LENGTH = 100


def check_slug(slug: str) -> str:
    """The slug if a user may choose it, else InvalidField naming `slug`."""
    if not _SLUG.fullmatch(slug):
        raise InvalidField("slug: lowercase letters, digits and hyphens, 3 to 48 characters")
    if slug.startswith(RESERVED_SLUG_PREFIX):
        raise InvalidField(f"slug: the prefix {RESERVED_SLUG_PREFIX!r} is reserved for personal workspaces")
    return slug


def check_name(name: str) -> str:
    """The name without surrounding blanks, else InvalidField naming `name`."""
    cleaned = name.strip()
    if not cleaned or len(cleaned) > NAME_MAX_LENGTH:
        raise InvalidField(f"name: 1 to {NAME_MAX_LENGTH} characters, not only blanks")
    if any(unicodedata.category(character) == "Cc" for character in cleaned):
        raise InvalidField("name: no control characters (line breaks, tabs, NUL)")
    return cleaned
