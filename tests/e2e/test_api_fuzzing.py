"""schemathesis over every operation of the five services, on the live test platform.

Each service's OpenAPI document is read from the running service, so whatever operations it lists
at run time are fuzzed (none is named here). Every operation gets generated data that fits its
schema and data that does not, with a valid bearer token and the key of its purpose where it takes
them; a second round puts real ids in the path — a team org and its admin, a link, an email
invitation and its token — so the fuzzing reaches past the membership checks and the 404s.
The checks: no 5xx, no status the operation does not document, and the body matches the
documented schema; then, after the fuzzing, no dead letter and no traceback in any replica's log.

The seed changes with every commit (derived from `git rev-parse HEAD`; `FUZZ_SEED` overrides it)
and is printed first, so a failure replays with `FUZZ_SEED=<seed>`. `FUZZ_EXAMPLES` (default 100;
`make fuzz`: 1,000) is the number of examples per operation and mode (half of them with real path
ids where the path has any). What it found and
why it is shaped this way: docs/operations.md, "Contracts: OpenAPI and fuzzing".
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import random
import re
import subprocess
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
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

from devstack.paths import REPO_ROOT
from devstack.platform import Platform
from devstack.pytest_plugin import (
    TEST_AUTH_SECRET,
    TEST_ENV,
    TEST_OPERATOR_KEY,
    TEST_SERVICE_KEY,
    TEST_TOKEN_MINT_KEY,
)
from devstack.scrape import scrape, value
from devstack.services import Fleet
from devstack.stripe_mock import sign_stripe_payload
from devstack.testing import (
    bearer,
    bearer_token,
    call_service,
    eventually,
    mails_to,
    new_slug,
    settled_status,
    sign_up,
)
from devstack.webhooks import signed_delivery

Operation = schemathesis.APIOperation[Any, Any, Any, Any]
Case = schemathesis.Case[Any]

SERVICES = ("identity", "workspace", "billing", "invites", "skool-ingest")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Per operation and generation mode (positive, negative), shared by the rounds with generated and
# with real path ids (`make fuzz`: FUZZ_EXAMPLES=1000).
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
# The key each purpose's security scheme names (shared/http/deps.py): API.md's three keys.
KEYS_BY_SCHEME = {
    "PLATFORM_SERVICE_KEY": TEST_SERVICE_KEY,
    "PLATFORM_TOKEN_MINT_KEY": TEST_TOKEN_MINT_KEY,
    "PLATFORM_OPERATOR_KEY": TEST_OPERATOR_KEY,
}
# invites rate-limits its public routes per client address: the fuzzer spends the budget of
# addresses of its own (all of 127/8 is loopback), never the one the other tests share, and one per
# operation, mode and round (127.61.<operation>.<round>), so a round's cases are answered, not 429.
CASE_ID_HEADER = SCHEMATHESIS_TEST_CASE_HEADER


def _seed() -> tuple[int, str]:
    """`FUZZ_SEED`, else one derived from the commit being tested (a new one every commit), else
    (no git) a random one; and where it came from."""
    override = os.environ.get("FUZZ_SEED")
    if override:
        return int(override), "FUZZ_SEED"
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True)
    if head.returncode == 0 and head.stdout.strip():
        commit = head.stdout.strip()
        return int(commit[:16], 16), f"commit {commit[:12]}"
    return random.SystemRandom().getrandbits(63), "random: no git commit"


SEED, SEED_SOURCE = _seed()
REPLAY = f"FUZZ_SEED={SEED} FUZZ_EXAMPLES={MAX_EXAMPLES} (seed from {SEED_SOURCE})"


@pytest.fixture(scope="module", autouse=True)
def announce_seed(request: pytest.FixtureRequest) -> None:
    """The seed and the example count, printed before the fuzzing starts (even under capture)."""
    replay = f"{REPLAY.split(' (')[0]} pytest tests/e2e/test_api_fuzzing.py"
    line = f"API fuzzing: {REPLAY}; replay with: {replay}"
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\n{line}")
    print(line, flush=True)


@dataclass(frozen=True)
class Caller:
    """A signed-up user who administers a team org, with a link and a pending email invitation of
    that org: the real ids the second round puts in the path."""

    user_id: str
    token: str
    team_org_id: str
    link_slug: str
    invitation_id: str
    invitation_token: str

    def headers_for(self, operation: Operation) -> dict[str, str]:
        """The key of the operation's purpose where it takes one (its security scheme; a plain
        `X-Service-Key` header parameter gets the product backends' key), and a bearer token
        where it takes one."""
        raw = operation.definition.raw
        schemes = {name for requirement in raw.get("security", []) for name in requirement}
        parameters = {parameter.get("name", "").lower() for parameter in raw.get("parameters", [])}
        found: dict[str, str] = {}
        keys = [KEYS_BY_SCHEME[name] for name in sorted(schemes) if name in KEYS_BY_SCHEME]
        if keys:
            found["X-Service-Key"] = keys[0]
        elif "x-service-key" in parameters:
            found["X-Service-Key"] = TEST_SERVICE_KEY
        if "HTTPBearer" in schemes:
            found.update(bearer(self.token))
        return found

    def known_path_parameters(self, operation: Operation) -> dict[str, str]:
        """Real ids for the path parameters that name an org, a user, a link or an invitation."""
        known = {
            "org_id": self.team_org_id,
            "user_id": self.user_id,
            "slug": self.link_slug,
            "invitation_id": self.invitation_id,
            "token": self.invitation_token,
        }
        names = {parameter.name for parameter in operation.path_parameters}
        return {name: value for name, value in known.items() if name in names}


async def _team_admin(fleet: Fleet, platform: Platform) -> Caller:
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
    org_id = created.json()["id"]
    link = await call_service(
        fleet,
        "invites",
        "POST",
        f"/v1/orgs/{org_id}/invitation-links",
        token=token,
        json={"role": "trainee", "max_uses": 1000, "expires_in_days": 30},
    )
    assert link.status_code == 201, link.text
    address = f"fuzz-invitee-{uuid.uuid4().hex[:12]}@example.com"
    invited = await call_service(
        fleet,
        "invites",
        "POST",
        f"/v1/orgs/{org_id}/invitations",
        token=token,
        json={"email": address, "role": "trainee"},
    )
    assert invited.status_code == 201, invited.text

    async def mailed() -> list[str]:
        found = []
        for message in mails_to(platform, address):
            body = message.get_payload(decode=True)
            match = re.search(rb"\?token=([\w-]+)", body if isinstance(body, bytes) else b"")
            if match:
                found.append(match.group(1).decode())
        return found

    tokens = await eventually(mailed, until=bool, what=f"the invitation mailed to {address}")
    return Caller(
        user_id=user_id,
        token=token,
        team_org_id=org_id,
        link_slug=link.json()["slug"],
        invitation_id=invited.json()["id"],
        invitation_token=tokens[0],
    )


@pytest.fixture(scope="module")
def caller(services: Fleet, platform: Platform) -> Caller:
    return asyncio.run(_team_admin(services, platform))


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
def _client(address: str) -> Iterator[httpx.Client]:
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(transport=transport, timeout=15) as client:
        yield client


@dataclass
class Sender:
    """Sends the cases of one operation as schemathesis serializes them, from the round's own
    address, each distinct request once (with its credentials fixed, many cases of an operation
    whose only parameter is the service key are one and the same request)."""

    base_url: str
    headers: dict[str, str]
    client: httpx.Client | None = None  # the client of the round (its own source address)
    sent: set[str] = field(default_factory=set)
    last: str = ""  # the last request, as sent (method, URL, query, headers, body), for a report

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
        content = body.get("content")
        self.last = f"{method} {url} params={params!r} headers={request['headers']!r} body={content!r:.2000}"
        assert self.client is not None
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
        return f"{len(self.failures)} failure(s) with {REPLAY}:\n\n{found}\n\nstatuses seen:\n{seen}"


def _fuzz(
    operation: Operation,
    *,
    send: Sender,
    mode: GenerationMode,
    path_parameters: dict[str, str],
    examples: int,
    findings: Findings,
) -> None:
    """Run `operation`'s checks over `examples` generated cases, collecting what fails."""
    statuses = findings.statuses[operation.label]

    @seed(SEED)
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters or None))
    @settings(
        max_examples=examples,
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
            findings.failures.setdefault(f"{title}: no answer ({error!r})", f"sent: {send.last}")
            return
        if response is None:  # the same request as an earlier case
            return
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (Failure, FailureGroup) as failure:
            found = failure.exceptions if isinstance(failure, FailureGroup) else (failure,)
            kinds = ", ".join(sorted({each.title for each in found}))
            findings.failures.setdefault(f"{title}: {kinds}", f"{str(failure)[:1500]}\nsent: {send.last}")

    try:
        run()
    except Unsatisfiable:
        # Negative mode on an operation without anything that could be invalid (no parameter
        # or body, or only unconstrained strings): nothing to send.
        if mode is GenerationMode.POSITIVE:
            raise


def _replaces_real_ids(operation: Operation) -> int:
    """0 for most operations; then resending (a new token); last, revoking and removing."""
    if operation.method.upper() == "DELETE":
        return 2
    return 1 if operation.path.endswith("/resend") else 0


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
    # What revokes or replaces a real id goes last: a link or an invitation revoked early would
    # answer 410 to everything after it, and a resend replaces the invitation's token (404 after).
    # (sort is stable: the schema's order otherwise)
    operations.sort(key=_replaces_real_ids)
    for index, operation in enumerate(operations):
        # A token minted for each operation: a run at `make fuzz`'s 1,000 examples outlives one
        # (15 minutes), and every bearer call after that answered 401.
        caller = replace(caller, token=asyncio.run(bearer_token(services, caller.user_id)))
        headers = caller.headers_for(operation)
        if headers:
            authenticated.append(operation.label)

        send = Sender(base_url, headers)
        known = caller.known_path_parameters(operation)
        # The examples of a mode are shared between generated path ids and the real ones.
        rounds = [{}, known] if known else [{}]
        examples = -(-MAX_EXAMPLES // len(rounds))
        for mode_index, mode in enumerate((GenerationMode.POSITIVE, GenerationMode.NEGATIVE)):
            for round_index, path_parameters in enumerate(rounds):
                with _client(f"127.61.{index}.{2 * mode_index + round_index + 1}") as send.client:
                    _fuzz(
                        operation,
                        send=send,
                        mode=mode,
                        path_parameters=path_parameters,
                        examples=examples,
                        findings=findings,
                    )

    print(f"{service}: {findings.report()}")  # shown with -rP: what each operation answered
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
