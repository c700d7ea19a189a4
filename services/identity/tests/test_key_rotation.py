"""Rotation: new tokens carry the new kid, old tokens verify until their key leaves the JWKS,
and a verifier holding the old JWKS picks the new kid up by refetching."""

from __future__ import annotations

import asyncio
import os
import sys

import httpx
import jwt

from devstack.platform import Platform
from devstack.pytest_plugin import TEST_ENV, TEST_OPERATOR_KEY
from devstack.services import Fleet
from devstack.testing import bearer_token, eventually, fetch, service_db, sign_up
from shared.auth import JwksKeySource, TokenVerifier
from shared.errors import InvalidToken

ISSUER, AUDIENCE = "backbone-identity", "backbone"


def verifier(fleet: Fleet, *, refetch_interval: float = 0.0) -> tuple[TokenVerifier, JwksKeySource]:
    keys = JwksKeySource(
        url=f"{fleet['identity'].url}/.well-known/jwks.json", refetch_interval=refetch_interval
    )
    return TokenVerifier(keys=keys, issuer=ISSUER, audience=AUDIENCE), keys


async def rotate(fleet: Fleet) -> dict[str, str | None]:
    async with httpx.AsyncClient(base_url=fleet["identity"].url, timeout=10) as client:
        response = await client.post("/v1/signing-keys/rotate", headers={"X-Service-Key": TEST_OPERATOR_KEY})
    assert response.status_code == 200, response.text
    answer: dict[str, str | None] = response.json()
    return answer


async def published_kids(fleet: Fleet) -> list[str]:
    async with httpx.AsyncClient(base_url=fleet["identity"].url, timeout=10) as client:
        return [key["kid"] for key in (await client.get("/.well-known/jwks.json")).json()["keys"]]


async def test_tokens_signed_before_a_rotation_verify_until_their_key_expires(
    services: Fleet, platform: Platform
) -> None:
    user_id, _ = await sign_up(services)
    old_token = await bearer_token(services, user_id)
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    # Refetches at most once a second, as the services do in tests (PLATFORM_JWKS_REFETCH_...).
    cached, keys = verifier(services, refetch_interval=1)
    assert (await cached.verify(old_token)).user_id == user_id
    fetches_before = keys.fetches

    rotated = await rotate(services)

    new_kid = rotated["kid"]
    assert rotated["retired_kid"] == old_kid
    assert new_kid != old_kid
    # Published at once, but the old key keeps signing until the new one activates (2 s here).
    assert set(await published_kids(services)) >= {old_kid, new_kid}
    assert jwt.get_unverified_header(await bearer_token(services, user_id))["kid"] == old_kid
    new_token = await eventually(
        lambda: bearer_token(services, user_id),
        until=lambda token: jwt.get_unverified_header(token)["kid"] == new_kid,
        interval=0.2,
        what="tokens signed by the new key",
    )
    # The verifier only knew the old key: the new kid makes it refetch, once, and never 401s,
    # because the key was published longer ago than its refetch interval.
    assert (await cached.verify(new_token)).user_id == user_id
    assert keys.fetches == fetches_before + 1
    assert (await cached.verify(old_token)).user_id == user_id

    # Once every token the old key signed has expired (retired longer ago than TTL + leeway),
    # the key leaves the JWKS, and a verifier that fetches afresh no longer accepts it.
    await fetch(
        service_db(platform, "identity"),
        "UPDATE signing_keys SET retired_at = now() - interval '1 hour' WHERE kid = $1 RETURNING kid",
        old_kid,
    )
    assert old_kid not in await published_kids(services)
    fresh, _ = verifier(services)
    assert (await fresh.verify(new_token)).user_id == user_id
    try:
        await fresh.verify(old_token)
    except InvalidToken as error:
        assert "unknown key" in error.message
    else:
        raise AssertionError("a token of a key no longer published was accepted")


async def test_the_rotate_command_adds_a_new_active_key(services: Fleet, platform: Platform) -> None:
    before = (await published_kids(services))[0]
    env = {
        **os.environ,
        **TEST_ENV,
        "IDENTITY_DATABASE_URL": service_db(platform, "identity"),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "identity.keys",
        "rotate",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()

    kids = await published_kids(services)
    assert kids[0] != before  # newest first: the new active key
    assert f"retired: {before}" in out.decode()
    assert kids[0] in out.decode()
    assert before in kids  # still published: its tokens are still valid
    active = await fetch(
        service_db(platform, "identity"), "SELECT kid FROM signing_keys WHERE retired_at IS NULL"
    )
    assert [row["kid"] for row in active] == [kids[0]]
