"""The bench's peer: what a team would write instead of this platform (issue 17).

One Python process on the same stack (FastAPI, uvicorn with uvloop and httptools, asyncpg) and the
same PostgreSQL server. It verifies the auth provider's Svix webhook and, in one transaction, runs
seed 000's `create_personal_org()`, the user row (as the seed's webhook does) and a claims row:
the signup is complete when the webhook is answered. It answers `GET /v1/users/{id}/claims` (with
`X-Service-Key`) as identity does, so `make bench` drives it with the very phases it drives the
platform with (steady 50/s and 200/s, the burst) and prints both, with the ratio.

It is deliberately what such a team would ship: no outbox, no events, no retries, no tenancy. A
duplicate delivery is answered `duplicate` (the user row is unique).

`python -m devstack.bench.peer --port P --database-url URL --webhook-secret S --service-key K`.
"""

from __future__ import annotations

import argparse
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import uvicorn
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from svix.webhooks import Webhook, WebhookVerificationError

from devstack.bench.seed_design import create_seed_database

DATABASE = "monolith_peer"
CLAIMS_TABLE_SQL = """
CREATE TABLE user_claims (
  user_id TEXT PRIMARY KEY,
  org_id UUID NOT NULL,
  org_role TEXT NOT NULL,
  is_personal_org BOOLEAN NOT NULL,
  plan TEXT NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""
# What the bench counts as complete for the peer (the platform's is client.COMPLETE_CLAIMS_SQL).
COMPLETE_CLAIMS_SQL = "SELECT count(*) FROM user_claims WHERE user_id = ANY($1::text[])"
PLAN = "individual_free"


async def create_peer_database(server_url: str) -> str:
    """A fresh database with the seed design's schema and the claims table; its URL."""
    return await create_seed_database(server_url, DATABASE, extra_sql=CLAIMS_TABLE_SQL)


def _primary_email(data: dict[str, Any]) -> str | None:
    primary = data.get("primary_email_address_id")
    for address in data.get("email_addresses") or []:
        if address.get("id") == primary:
            return str(address.get("email_address"))
    return None


def create_app(*, database: str, webhook_secret: str, service_key: str) -> FastAPI:
    pool: dict[str, Any] = {}
    verifier = Webhook(webhook_secret)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool["connections"] = await asyncpg.create_pool(database, min_size=4, max_size=20)
        try:
            yield
        finally:
            await pool["connections"].close()

    app = FastAPI(title="monolith peer", lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/webhooks/auth", response_model=None)
    async def auth_webhook(request: Request) -> dict[str, str] | JSONResponse:
        body = await request.body()
        try:
            verifier.verify(body, dict(request.headers))
        except WebhookVerificationError:
            return JSONResponse({"error": {"code": "invalid_signature"}}, status_code=401)
        payload: dict[str, Any] = json.loads(body)
        if payload.get("type") != "user.created":
            return {"status": "ignored"}
        data = payload["data"]
        user_id, first_name = str(data["id"]), str(data.get("first_name") or "")
        email = _primary_email(data)
        async with pool["connections"].acquire() as connection, connection.transaction():
            if await connection.fetchval("SELECT 1 FROM users WHERE clerk_user_id = $1", user_id):
                return {"status": "duplicate"}
            org_id = await connection.fetchval(
                "SELECT create_personal_org($1, $2, $3, $4)", user_id, first_name, email, PLAN
            )
            await connection.execute(
                "INSERT INTO users (clerk_user_id, org_id, role, email, first_name, last_name, is_active)"
                " VALUES ($1, $2, 'trainee', $3, $4, '', true)",
                user_id,
                org_id,
                email,
                first_name,
            )
            await connection.execute(
                "INSERT INTO user_claims (user_id, org_id, org_role, is_personal_org, plan)"
                " VALUES ($1, $2, 'trainee', true, $3)",
                user_id,
                org_id,
                PLAN,
            )
        return {"status": "processed"}

    @app.get("/v1/users/{user_id}/claims", response_model=None)
    async def claims(user_id: str, x_service_key: str = Header(default="")) -> dict[str, Any] | JSONResponse:
        if not hmac.compare_digest(x_service_key.encode(), service_key.encode()):
            return JSONResponse({"error": {"code": "unauthorized"}}, status_code=401)
        row = await pool["connections"].fetchrow(
            "SELECT org_id, org_role, is_personal_org, plan FROM user_claims WHERE user_id = $1", user_id
        )
        if row is None:
            return {"user_id": user_id, "org_id": None, "org_role": None, "plan": None}
        return {
            "user_id": user_id,
            **{key: value for key, value in row.items()},
            "org_id": str(row["org_id"]),
        }

    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.bench.peer", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--webhook-secret", required=True)
    parser.add_argument("--service-key", required=True)
    args = parser.parse_args()
    app = create_app(
        database=args.database_url, webhook_secret=args.webhook_secret, service_key=args.service_key
    )
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", loop="uvloop", http="httptools")


if __name__ == "__main__":
    main()
