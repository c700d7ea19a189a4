"""schemathesis over every operation of the five services, on the live test platform.

Each service's OpenAPI document is read from the running service, so whatever operations it lists
at run time are fuzzed (none is named here). Every operation gets generated data that fits its
schema and data that does not, with a valid bearer token and service key where it takes them; a
second round puts a real team org and its admin in the path, so the fuzzing reaches past the
membership checks. The checks: no 5xx, no status the operation does not document, and the body
matches the documented schema. Derandomized, so a CI run is the run you reproduce. What it found
and why it is shaped this way: docs/operations.md, "Contracts: OpenAPI and fuzzing".
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import SCHEMATHESIS_TEST_CASE_HEADER
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from devstack.platform import Platform
from devstack.pytest_plugin import TEST_AUTH_SECRET, TEST_ENV, TEST_SERVICE_KEY
from devstack.scrape import scrape, value
from devstack.services import Fleet
from devstack.stripe_mock import sign_stripe_payload
from devstack.testing import bearer, bearer_token, call_service, new_slug, settled_status, sign_up
from devstack.webhooks import signed_delivery

Operation = schemathesis.APIOperation[Any, Any, Any, Any]
Case = schemathesis.Case[Any]

SERVICES = ("identity", "workspace", "billing", "invites", "skool-ingest")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Per operation, per generation mode and round: 45-odd operations stay well under a minute.
MAX_EXAMPLES = 25
# invites rate-limits its public routes per client address: the fuzzer spends the budget of an
# address of its own (all of 127/8 is loopback), never the one the other tests share.
CLIENT_ADDRESS = "127.0.0.61"
CASE_ID_HEADER = SCHEMATHESIS_TEST_CASE_HEADER


@dataclass(frozen=True)
class Caller:
    """A signed-up user who administers a team org, and the platform's service key."""

    user_id: str
    token: str
    team_org_id: str

    def headers_for(self, operation: Operation) -> dict[str, str]:
        """The service key where the operation takes it (a header parameter, or its only
        security scheme), and a bearer token where it takes one."""
        raw = operation.definition.raw
        schemes = {name for requirement in raw.get("security", []) for name in requirement}
        parameters = {parameter.get("name", "").lower() for parameter in raw.get("parameters", [])}
        found: dict[str, str] = {}
        if "x-service-key" in parameters or schemes == {"APIKeyHeader"}:
            found["X-Service-Key"] = TEST_SERVICE_KEY
        if "HTTPBearer" in schemes:
            found.update(bearer(self.token))
        return found

    def known_path_parameters(self, operation: Operation) -> dict[str, str]:
        """The team org and its admin, for the path parameters that name an org or a user."""
        known = {"org_id": self.team_org_id, "user_id": self.user_id}
        names = {parameter.name for parameter in operation.path_parameters}
        return {name: value for name, value in known.items() if name in names}


async def _team_admin(fleet: Fleet) -> Caller:
    user_id, _ = await sign_up(fleet)
    token = await bearer_token(fleet, user_id)
    created = await call_service(
        fleet,
        "workspace",
        "POST",
        "/v1/orgs",
        token=token,
        json={"name": "Fuzz Team", "slug": new_slug("fuzz")},
    )
    assert created.status_code == 201, created.text
    return Caller(user_id=user_id, token=token, team_org_id=created.json()["id"])


@pytest.fixture(scope="module")
def caller(services: Fleet) -> Caller:
    return asyncio.run(_team_admin(services))


async def _dead_letters(fleet: Fleet) -> float:
    """Records every consumer of the platform has dead-lettered so far (summed over replicas)."""
    return sum([value(await scrape(fleet, service), "backbone_dead_letters_total") for service in SERVICES])


@dataclass(frozen=True)
class Before:
    """Where the platform stood when the fuzzing began: dead letters so far, and how far each
    replica's log had been written."""

    dead_letters: float
    log_sizes: dict[Path, int]

    def new_log_lines(self) -> dict[str, list[str]]:
        """What each replica logged since, by log file name."""
        written = {}
        for path, size in self.log_sizes.items():
            with path.open("rb") as log:
                log.seek(size)
                written[path.name] = log.read().decode(errors="replace").splitlines()
        return written


@pytest.fixture(scope="module")
def before_fuzzing(services: Fleet, platform: Platform) -> Before:
    """Taken once everything sent before the fuzzing has been consumed."""
    asyncio.run(settled_status(platform, timeout=90))
    logs = [replica.log_file for replicas in services.replicas.values() for replica in replicas]
    return Before(
        dead_letters=asyncio.run(_dead_letters(services)),
        log_sizes={path: path.stat().st_size for path in logs},
    )


@contextmanager
def _client() -> Iterator[httpx.Client]:
    transport = httpx.HTTPTransport(local_address=CLIENT_ADDRESS)
    with httpx.Client(transport=transport, timeout=15) as client:
        yield client


@dataclass
class Sender:
    """Sends the cases of one operation as schemathesis serializes them, from the fuzzer's own
    address, each distinct request once (with its credentials fixed, many cases of an operation
    whose only parameter is the service key are one and the same request)."""

    client: httpx.Client
    base_url: str
    headers: dict[str, str]
    sent: set[str] = field(default_factory=set)

    def __call__(self, case: Case) -> httpx.Response | None:
        request = case.as_transport_kwargs(base_url=self.base_url, headers=self.headers)
        body: dict[str, Any] = {}
        if "json" in request:
            body["content"] = json.dumps(request["json"], allow_nan=False).encode()
        elif "data" in request:
            body["content"] = request["data"]
        method, url, params = request["method"], request["url"], request.get("params")
        headers = {name.lower(): value for name, value in request["headers"].items()}
        headers.pop(CASE_ID_HEADER.lower(), None)
        seen = repr((method, url, sorted(headers.items()), params, body))
        if seen in self.sent:
            return None
        self.sent.add(seen)
        sign = SIGNERS.get((case.operation.method.upper(), case.operation.path))
        if sign is not None and "content" in body:
            content = body["content"]
            request["headers"].update(sign(content.encode() if isinstance(content, str) else content))
        return self.client.request(method, url, headers=request["headers"], params=params, **body)


def _skool_headers(body: bytes) -> dict[str, str]:
    stamp = int(time.time())
    secret = TEST_ENV["SKOOL_INGEST_WEBHOOK_SECRET"].encode()
    digest = hmac.new(secret, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Skool-Signature": f"t={stamp},v1={digest}"}


def _svix_headers(body: bytes) -> dict[str, str]:
    # Svix signs text; a body that is not UTF-8 goes with the signature of its closest text.
    _, headers = signed_delivery(body.decode(errors="replace").encode(), secret=TEST_AUTH_SECRET)
    return headers


def _stripe_headers(body: bytes) -> dict[str, str]:
    return {"Stripe-Signature": sign_stripe_payload(body, secret=TEST_ENV["BILLING_STRIPE_WEBHOOK_SECRET"])}


# Webhook bodies are signed as their senders sign them, so a fuzzed body is parsed and applied,
# not refused unread for its signature.
SIGNERS: dict[tuple[str, str], Callable[[bytes], dict[str, str]]] = {
    ("POST", "/v1/webhooks/auth"): _svix_headers,
    ("POST", "/v1/webhooks/stripe"): _stripe_headers,
    ("POST", "/v1/webhooks/skool"): _skool_headers,
}


@dataclass
class Findings:
    """What the fuzzing of one service saw: distinct failures, and the statuses of each operation."""

    failures: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))

    def report(self) -> str:
        seen = "\n".join(
            f"  {label}: {dict(sorted(counts.items()))}" for label, counts in self.statuses.items()
        )
        found = "\n\n".join(f"{title}\n{detail}" for title, detail in self.failures.items())
        return f"{len(self.failures)} failure(s):\n\n{found}\n\nstatuses seen:\n{seen}"


def _fuzz(
    operation: Operation,
    *,
    send: Callable[[Case], httpx.Response | None],
    mode: GenerationMode,
    path_parameters: dict[str, str],
    findings: Findings,
) -> None:
    """Run `operation`'s checks over `MAX_EXAMPLES` generated cases, collecting what fails."""
    statuses = findings.statuses[operation.label]

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters or None))
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # collected, not raised: nothing to shrink
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case) -> None:
        title = f"{operation.label} [{mode.value}]"
        try:
            response = send(case)
        except httpx.TransportError as error:
            findings.failures.setdefault(f"{title}: no answer ({error!r})", case.as_curl_command())
            return
        if response is None:  # the same request as an earlier case
            return
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (Failure, FailureGroup) as failure:
            for each in failure.exceptions if isinstance(failure, FailureGroup) else (failure,):
                findings.failures.setdefault(f"{title}: {each.title}", str(failure)[:1500])

    try:
        run()
    except Unsatisfiable:
        # Negative mode on an operation without anything that could be invalid (no parameter
        # or body, or only unconstrained strings): nothing to send.
        if mode is GenerationMode.POSITIVE:
            raise


@pytest.mark.parametrize("service", SERVICES)
def test_no_operation_answers_a_server_error_or_an_undocumented_status(
    services: Fleet, caller: Caller, before_fuzzing: Before, service: str
) -> None:
    base_url = services[service].url
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations: list[Operation] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"{service}: an operation cannot be read: {result.err()}"
        operations.append(result.ok())
    assert operations, f"{service} lists no operation"

    findings = Findings()
    authenticated: list[str] = []
    with _client() as client:
        for operation in operations:
            headers = caller.headers_for(operation)
            if headers:
                authenticated.append(operation.label)

            send = Sender(client, base_url, headers)
            known = caller.known_path_parameters(operation)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz(operation, send=send, mode=mode, path_parameters={}, findings=findings)
                if known:
                    _fuzz(operation, send=send, mode=mode, path_parameters=known, findings=findings)

    assert not findings.failures, findings.report()
    # The credentials worked: every operation that takes them answered something besides 401.
    refused = [label for label in authenticated if set(findings.statuses[label]) <= {401}]
    assert not refused, f"only 401 from {refused}\n{findings.report()}"


def test_what_the_fuzzing_sent_failed_nowhere_after_its_answer(
    services: Fleet, platform: Platform, before_fuzzing: Before
) -> None:
    """The HTTP checks end at the answer. What the requests set going after it — the events they
    announced, in every consumer group; background tasks such as an invitation's email — failed
    nowhere: no dead letter, no traceback or error in any replica's log. (An invitation stored with
    a 201 whose email then failed on a control character in the address was first found by reading
    these logs by hand; this reads them every run. That case is pinned in test_fuzzing_findings.)"""
    asyncio.run(settled_status(platform, timeout=90))

    assert asyncio.run(_dead_letters(services)) == before_fuzzing.dead_letters
    failures = {
        name: [line for line in lines if "Traceback" in line or " ERROR " in line]
        for name, lines in before_fuzzing.new_log_lines().items()
    }
    assert not any(failures.values()), {name: lines for name, lines in failures.items() if lines}
