"""`python -m invites.legacy_codes`: turn the old 8-character invite codes into invitation links.

    python -m invites.legacy_codes --csv FILE [--cutover YYYY-MM-DD]
    python -m invites.legacy_codes --database-url URL [--cutover YYYY-MM-DD]

Input columns: code, org_id, role, max_uses, current_uses, expires_at (the old `invite_codes`
table). Each usable code becomes one link (a new random slug; the code is kept on it, so
`GET /invite/{code}` redirects like the link until the cut-over, midnight UTC of that date; without
`--cutover`, 90 days after the migration, printed in the report). A
code already migrated is not migrated again and is reported as migrated with the same link, so a
second run prints the same report. Expired or used-up codes are skipped; rows that cannot be read
(bad org id, role, numbers, date) fail. Exit status 1 when any row failed.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text

from invites.service.access import LEGACY_CREATOR, ROLES
from invites.service.links import DEFAULT_LEGACY_CUTOVER, insert_link
from invites.settings import InvitesSettings
from shared.db.migrations import prepare_database
from shared.db.session import Database, create_database
from shared.db.tenancy import app_role, set_tenant
from shared.settings import as_libpq_url, load_settings

MIGRATED_BY = LEGACY_CREATOR
# A code without an expiry becomes a link that lives as long as the longest new link (the cut-over
# ends only the code's own redirect, not the link).
NO_EXPIRY_LIFETIME = timedelta(days=30)
_COLUMNS = ("code", "org_id", "role", "max_uses", "current_uses", "expires_at")


class BadRow(ValueError):
    """A row that cannot be migrated as it stands."""


@dataclass(frozen=True)
class LegacyCode:
    code: str
    org_id: uuid.UUID
    role: str
    max_uses: int
    current_uses: int
    expires_at: datetime | None


@dataclass
class Report:
    migrated: dict[str, str] = field(default_factory=dict)  # code -> slug
    skipped: dict[str, str] = field(default_factory=dict)  # code -> why
    failed: dict[str, str] = field(default_factory=dict)  # code -> why
    cutover: date | None = None
    cutover_is_default: bool = False

    def lines(self, public_url: str) -> list[str]:
        base = public_url.rstrip("/")
        out = [
            f"migrated: {len(self.migrated)}",
            f"skipped: {len(self.skipped)}",
            f"failed: {len(self.failed)}",
        ]
        if self.cutover is not None:
            why = " (the default: 90 days from today; --cutover to choose)" if self.cutover_is_default else ""
            out.append(
                f"cut-over: {self.cutover.isoformat()}{why}; codes migrated now stop working at "
                "midnight UTC of that day, their links keep working until they expire"
            )
        out += [f"migrated {code} -> {base}/invite/{slug}" for code, slug in sorted(self.migrated.items())]
        out += [f"skipped {code}: {why}" for code, why in sorted(self.skipped.items())]
        out += [f"failed {code}: {why}" for code, why in sorted(self.failed.items())]
        return out


def _parse_time(value: Any) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError as error:
            raise BadRow(f"expires_at {value!r} is not an ISO 8601 time") from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_int(name: str, value: Any, minimum: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError as error:
        raise BadRow(f"{name} {value!r} is not a whole number") from error
    if number < minimum:
        raise BadRow(f"{name} {number} is below {minimum}")
    return number


def parse_row(row: dict[str, Any]) -> LegacyCode:
    """One input row, checked; BadRow says what is wrong."""
    code = str(row.get("code") or "").strip()
    if not code:
        raise BadRow("no code")
    try:
        org_id = uuid.UUID(str(row.get("org_id")).strip())
    except ValueError as error:
        raise BadRow(f"org_id {row.get('org_id')!r} is not a UUID") from error
    role = str(row.get("role") or "").strip().lower()
    if role not in ROLES:
        raise BadRow(f"role {role!r} is not one of {', '.join(sorted(ROLES))}")
    return LegacyCode(
        code=code,
        org_id=org_id,
        role=role,
        max_uses=_parse_int("max_uses", row.get("max_uses"), 1),
        current_uses=_parse_int("current_uses", row.get("current_uses"), 0),
        expires_at=_parse_time(row.get("expires_at")),
    )


def read_csv(path: Path) -> list[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


async def read_table(url: str) -> list[dict[str, Any]]:
    connection = await asyncpg.connect(as_libpq_url(url))
    try:
        rows = await connection.fetch(f"SELECT {', '.join(_COLUMNS)} FROM invite_codes ORDER BY code")
    finally:
        await connection.close()
    return [dict(row) for row in rows]


async def _existing_slug(database: Database, code: str) -> str | None:
    async with database.unit_of_work() as session:
        org_id = (
            await session.execute(text("SELECT org_id FROM invitation_directory WHERE key = :c"), {"c": code})
        ).scalar_one_or_none()
        if org_id is None:
            return None
        await set_tenant(session, org_id)
        slug: str | None = (
            await session.execute(
                text("SELECT slug FROM invitation_links WHERE legacy_code = :c"), {"c": code}
            )
        ).scalar_one_or_none()
        return slug


def default_cutover(today: date) -> date:
    """The cut-over of a migration run without `--cutover`: 90 days after it."""
    return today + DEFAULT_LEGACY_CUTOVER


async def migrate(database: Database, rows: Iterable[dict[str, Any]], *, cutover: date | None) -> Report:
    """Migrate every row (one transaction each); idempotent. Without a cut-over, the default one
    (codes already migrated keep the cut-over they were given)."""
    now = datetime.now(UTC)
    chosen = cutover or default_cutover(now.date())
    report = Report(cutover=chosen, cutover_is_default=cutover is None)
    until = datetime.combine(chosen, time(0), tzinfo=UTC)
    for number, row in enumerate(rows, start=1):
        label = str(row.get("code") or f"row {number}").strip() or f"row {number}"
        try:
            legacy = parse_row(row)
        except BadRow as error:
            report.failed[label] = str(error)
            continue
        slug = await _existing_slug(database, legacy.code)
        if slug is not None:
            report.migrated[legacy.code] = slug
            continue
        if legacy.expires_at is not None and legacy.expires_at <= now:
            report.skipped[legacy.code] = "expired"
            continue
        if legacy.current_uses >= legacy.max_uses:
            report.skipped[legacy.code] = "used up"
            continue
        expires_at = legacy.expires_at or now + NO_EXPIRY_LIFETIME
        async with database.unit_of_work() as session:
            link = await insert_link(
                session,
                org_id=legacy.org_id,
                role=legacy.role,
                max_uses=legacy.max_uses,
                current_uses=legacy.current_uses,
                expires_at=expires_at,
                created_by=MIGRATED_BY,
                legacy_code=legacy.code,
                legacy_until=until,
            )
        report.migrated[legacy.code] = link.slug
    return report


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m invites.legacy_codes", description=__doc__.split("\n")[0]
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", type=Path, help="a CSV file with the invite_codes columns")
    source.add_argument("--database-url", help="a PostgreSQL URL whose invite_codes table is read")
    parser.add_argument(
        "--cutover",
        type=date.fromisoformat,
        help="legacy codes work until this date (UTC); default: 90 days after this run",
    )
    return parser.parse_args(argv)


async def run(argv: list[str] | None = None) -> int:
    arguments = _arguments(argv)
    settings = load_settings(InvitesSettings)
    rows = read_csv(arguments.csv) if arguments.csv else await read_table(arguments.database_url)
    # Migrations as the owner login when one is set (<PREFIX>_DATABASE_MIGRATION_URL), the
    # import itself as the traffic login, like the service.
    await prepare_database(settings, script_location=Path(__file__).parent / "migrations")
    database = create_database(settings.effective_database_url, pool_size=2, session_role=app_role("invites"))
    try:
        report = await migrate(database, rows, cutover=arguments.cutover)
    finally:
        await database.dispose()
    print("\n".join(report.lines(settings.public_url)))
    return 1 if report.failed else 0


def main() -> None:
    sys.exit(asyncio.run(run()))


if __name__ == "__main__":
    main()
