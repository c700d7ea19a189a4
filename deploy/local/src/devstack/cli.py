"""`devstack run`: start the whole platform locally and stop it all on Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

import httpx

from billing.settings import DEV_STRIPE_API_KEY
from devstack.examples import (
    EXAMPLES_VARIABLE,
    PRACTICE_APP_PORT,
    ExampleApp,
    start_practice_app,
    wants_examples,
)
from devstack.kafka_cluster import BROKERS_VARIABLE, broker_count
from devstack.partitions import PARTITIONS_VARIABLE, development_partitions, production_partitions
from devstack.paths import local_dir
from devstack.platform import Platform, Ports
from devstack.profiles import (
    ProductionPlatform,
    operator_environment,
    production_platform,
    production_root,
    profile_of,
)
from devstack.prometheus import DEFAULT_PORT as PROMETHEUS_PORT
from devstack.prometheus import PrometheusServer, start_prometheus
from devstack.services import (
    SERVICES,
    Fleet,
    background_niceness,
    replica_counts,
    service_port,
    worker_services,
)
from devstack.status import collect_status, render
from devstack.stripe_mock import LEGACY_DEV_STRIPE_API_KEYS
from devstack.system import Logger
from devstack.trace import as_json, collect_trace
from devstack.trace import render as render_trace
from devstack.webhooks import clerk_user_created, signed_delivery
from shared.messaging.kafka_connection import KafkaConnection
from shared.messaging.replay import list_dead_letters, replay_dead_letters, replay_one
from shared.settings import DEV_OPERATOR_KEY, DEV_SERVICE_KEY, DEV_TOKEN_MINT_KEY

# Every variable the platform reads, with its development default (an environment value wins).
DEFAULTS = {
    "KAFKA_BOOTSTRAP_SERVERS": "(unset: start a local Kafka on 127.0.0.1:9092)",
    "DATABASE_URL": "(unset: start a local PostgreSQL on 127.0.0.1:54329)",
    "PLATFORM_SERVICE_KEY": DEV_SERVICE_KEY,
    "PLATFORM_TOKEN_MINT_KEY": DEV_TOKEN_MINT_KEY,
    "PLATFORM_OPERATOR_KEY": DEV_OPERATOR_KEY,
    "PLATFORM_ENVIRONMENT": "development",
    "SMTP_HOST": "127.0.0.1",
    "SMTP_PORT": "8025",
    "IDENTITY_AUTH_WEBHOOK_SECRET": "whsec_ZGV2LWF1dGgtd2ViaG9vay1zZWNyZXQtMDAwMA==",
    "IDENTITY_SIGNING_KEY_PASSPHRASE": "dev-signing-key-passphrase-change-me",
    "IDENTITY_TOKEN_TTL_SECONDS": "900",
    "IDENTITY_KEY_PUBLISH_DELAY_SECONDS": "120",
    "PLATFORM_JWKS_URL": "http://127.0.0.1:8001/.well-known/jwks.json (moved with DEVSTACK_PORT_OFFSET)",
    "PLATFORM_TOKEN_ISSUER": "backbone-identity",
    "PLATFORM_TOKEN_AUDIENCE": "backbone",
    "PLATFORM_JWKS_REFETCH_INTERVAL_SECONDS": "10",
    "BILLING_STRIPE_WEBHOOK_SECRET": "whsec_dev_stripe_webhook_secret",
    "BILLING_STRIPE_API_KEY": f"{DEV_STRIPE_API_KEY}  (stripe-mock's test key: stripe-mock is started; "
    "set a real key to use Stripe itself)",
    "BILLING_STRIPE_API_BASE": "(unset: stripe-mock's URL, started on 127.0.0.1:12111)",
    "BILLING_PAST_DUE_GRACE_DAYS": "7",
    "SKOOL_INGEST_WEBHOOK_SECRET": "dev-skool-webhook-secret",
}


# How the runner itself behaves (see supervisor.py and services.py).
RUNNER_DEFAULTS = {
    "DEVSTACK_PORT_OFFSET": "0  (shifts every port above, to run a second platform)",
    BROKERS_VARIABLE: "1  (Kafka nodes; 3: a replicated cluster on 9092, 9094, 9096; docs/kafka-cluster.md)",
    PARTITIONS_VARIABLE: "3  (partitions per topic; production profile, compose: 12; docs/partitions.md)",
    "DEVSTACK_REPLICAS": "1  (replicas of every service, all on the service's port)",
    "DEVSTACK_WORKERS": "billing  (services run as API replicas plus a worker process; empty: none)",
    "DEVSTACK_BACKGROUND_NICE": "0  (niceness of every service process but DEVSTACK_WORKERS' API processes)",
    EXAMPLES_VARIABLE: f"0  (1: also the example service examples/practice-app on {PRACTICE_APP_PORT}; "
    "docs/integrating.md)",
    "DEVSTACK_RESTART_MAX_DEATHS": "5  (a child dying more often than this within the window stops all)",
    "DEVSTACK_RESTART_WINDOW_SECONDS": "60",
}


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def print_configuration() -> None:
    _say("configuration (environment values win over these development defaults):")
    for name, default in DEFAULTS.items():
        value = os.environ.get(name)
        shown = f"{value}  (from environment)" if value else default
        print(f"    {name}={shown}", flush=True)
    for spec in SERVICES:
        print(f"    {spec.env_prefix}_PORT={spec.port}")
    for name, default in RUNNER_DEFAULTS.items():
        value = os.environ.get(name)
        print(f"    {name}={value + '  (from environment)' if value else default}")
    per_service = [f"DEVSTACK_REPLICAS_{spec.env_prefix}" for spec in SERVICES]
    for name in [name for name in per_service if os.environ.get(name)]:
        print(f"    {name}={os.environ[name]}  (from environment)")
    print("    DEVSTACK_REPLICAS_<PREFIX>  (replicas of one service, e.g. DEVSTACK_REPLICAS_WORKSPACE=3)")


def development_env(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """What `devstack run` sets for the services beyond the platform's own addresses (broker,
    database, SMTP sink, stripe-mock, JWKS): nothing else, so every other setting is the services'
    own development default, the very defaults `make run` prints. One correction: the earlier
    development Stripe key, which stripe-mock refuses, is replaced by the current one. And it
    says which environment this is: `development`, unless the shell says otherwise (a service
    refuses to start without an explicit PLATFORM_ENVIRONMENT)."""
    env = {"PLATFORM_ENVIRONMENT": environ.get("PLATFORM_ENVIRONMENT") or "development"}
    if environ.get("BILLING_STRIPE_API_KEY") in LEGACY_DEV_STRIPE_API_KEYS:
        env["BILLING_STRIPE_API_KEY"] = DEV_STRIPE_API_KEY
    return env


def development_platform(*, root: Path, offset: int, log: Logger) -> Platform:
    """The platform `make run` starts (ports moved by `offset`, files under `root`); the test of
    the README's flows (tests/e2e/test_make_run_flows.py) starts its own through this too."""
    return Platform(
        root=root,
        ports=Ports().shifted(offset),
        log=log,
        kafka_brokers=broker_count(),
        topic_partitions=development_partitions(),
        replicas=replica_counts(),
        workers=worker_services(),
        background_nice=background_niceness(),
    )


def start_development_platform(platform: Platform) -> Fleet:
    """Kafka, PostgreSQL, the SMTP sink, stripe-mock (unless a real Stripe key is set), then the
    services with `development_env()`."""
    platform.start_infrastructure()
    return platform.start_services(extra_env=development_env())


def run() -> int:
    stop_requested = threading.Event()

    def request_stop(signum: int, _: FrameType | None) -> None:
        _say(f"received {signal.Signals(signum).name}: stopping")
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    offset = int(os.environ.get("DEVSTACK_PORT_OFFSET", "0"))
    try:
        production_partitions() if profile_of() == "production" else development_partitions()
        broker_count()
        examples = wants_examples()
    except ValueError as refused:
        _say(f"refused: {refused}")
        return 2
    production: ProductionPlatform | None = None
    if profile_of() == "production":
        _say("profile: production (Kafka SASL_SSL + ACLs, PostgreSQL password logins, fresh secrets)")
        production = production_platform(root=production_root(), offset=offset, log=_say)
        platform = production.platform
    else:
        print_configuration()
        if development_env().get("BILLING_STRIPE_API_KEY") == DEV_STRIPE_API_KEY:
            _say(
                f"BILLING_STRIPE_API_KEY={os.environ['BILLING_STRIPE_API_KEY']}: the earlier dev key, "
                f"refused by stripe-mock; billing gets {DEV_STRIPE_API_KEY}"
            )
        platform = development_platform(root=local_dir(), offset=offset, log=_say)
    prometheus: PrometheusServer | None = None
    example: ExampleApp | None = None
    try:
        fleet = production.start() if production else start_development_platform(platform)
        if examples:
            _say("examples: starting practice-app")
            if production:
                example = start_practice_app(platform, production=production.secrets)
            else:
                example = start_practice_app(platform, extra_env=development_env())
        prometheus = start_prometheus(
            port=PROMETHEUS_PORT + offset,
            folder=platform.root / "prometheus",
            replicas=fleet.all(),
            log=_say,
        )
        if prometheus is not None:
            platform.supervisor.watch(prometheus.child)
        _say("the platform is up (anything that dies is restarted):")
        if production:
            print(f"    Kafka        {platform.kafka_bootstrap}  (SASL_SSL, SCRAM-SHA-512, ACLs)")
            print(f"    PostgreSQL   127.0.0.1:{platform.ports.postgres}  (password logins, one per service)")
            print(f"    secrets      {production.secrets.path}  (mode 0600: keys, webhook secrets, logins)")
        else:
            print(f"    Kafka        {platform.kafka_bootstrap}")
            print(f"    PostgreSQL   {platform.database_url}")
        print(f"    SMTP sink    127.0.0.1:{platform.ports.smtp} (mail saved in {platform.root / 'mail'})")
        if platform.stripe_mock:
            print(f"    stripe-mock  {platform.stripe_mock.url} (BILLING_STRIPE_API_BASE)")
        if prometheus is not None:
            print(f"    Prometheus   {prometheus.url}  (rules: deploy/prometheus/rules.yml)")
        for name, group in fleet.replicas.items():
            first = group[0]
            print(f"    {name:<12} {first.url}  (docs {first.url}/docs, {len(group)} replica(s))")
            for replica in group:
                pid = replica.process.pid if replica.process else "-"
                alone = f"alone at {replica.own_url}"
                print(f"        {replica.name:<16} pid {pid}, {alone}, log {replica.log_file}")
        if example is not None:
            print(f"    {example.name:<12} {example.url}  (docs {example.url}/docs, log {example.log_file})")
        print("    Press Ctrl-C to stop everything.", flush=True)
        while not stop_requested.wait(0.5):
            if platform.supervisor.failed.is_set():
                _say(f"stopping everything: {platform.supervisor.failure}")
                return 1
        return 0
    except Exception as error:
        _say(f"failed: {error}")
        return 1
    finally:
        if example is not None:
            example.stop()
        if prometheus is not None:
            prometheus.stop()
        platform.stop()
        _say("stopped")


def signup(args: argparse.Namespace) -> int:
    """Send a signed `user.created` to identity and wait for the user's claims."""
    user_id = args.user_id or f"user_{uuid.uuid4().hex[:20]}"
    secret = os.environ.get("IDENTITY_AUTH_WEBHOOK_SECRET", DEFAULTS["IDENTITY_AUTH_WEBHOOK_SECRET"])
    key = os.environ.get("PLATFORM_SERVICE_KEY", DEFAULTS["PLATFORM_SERVICE_KEY"])
    payload = clerk_user_created(
        user_id=user_id, email=args.email, first_name=args.first_name, pending_invitation=args.invitation
    )
    body, headers = signed_delivery(payload, secret=secret)
    started = time.monotonic()
    answer = httpx.post(f"{args.identity}/v1/webhooks/auth", content=body, headers=headers)
    _say(f"POST /v1/webhooks/auth -> {answer.status_code} {answer.text}")
    if answer.status_code != 200:
        return 1
    deadline = started + args.timeout
    while time.monotonic() < deadline:
        claims = httpx.get(
            f"{args.identity}/v1/users/{user_id}/claims", headers={"X-Service-Key": key}
        ).json()
        if claims.get("plan"):
            _say(f"claims after {(time.monotonic() - started) * 1000:.0f} ms: {claims}")
            return 0
        time.sleep(0.02)
    _say(f"no complete claims after {args.timeout}s: {claims}")
    return 1


async def dead_letters(args: argparse.Namespace) -> int:
    """`devstack dlq list|replay TOPIC [--partition P --offset N]`."""
    if args.action == "list":
        letters = await list_dead_letters(kafka=operator_kafka(args.bootstrap), topic=args.topic)
        print(f"{len(letters)} dead letter(s) on {args.topic}.dlq")
        for letter in letters:
            replayed = "replayed" if letter.replayed else "waiting"
            print(
                f"  p{letter.partition}@{letter.offset} from {letter.original} consumer={letter.consumer} "
                f"key={letter.key} type={letter.event_type} attempts={letter.attempts} "
                f"age={letter.age_seconds:.0f}s {replayed}: {letter.error[:160]}"
            )
        return 0
    if (args.partition is None) != (args.offset is None):
        print("give both --partition and --offset, or neither (replay all)")
        return 2
    if args.offset is not None:
        sent = await replay_one(
            kafka=operator_kafka(args.bootstrap),
            topic=args.topic,
            partition=args.partition,
            offset=args.offset,
        )
        print(
            f"replayed p{args.partition}@{args.offset}"
            if sent
            else f"no dead letter at p{args.partition}@{args.offset}"
        )
        return 0 if sent else 1
    count = await replay_dead_letters(kafka=operator_kafka(args.bootstrap), topic=args.topic)
    print(f"replayed {count} dead letter(s) from {args.topic}.dlq to {args.topic}")
    return 0


def trace(args: argparse.Namespace) -> int:
    """`devstack trace ID [--json]`: the id's timeline across the services. Nothing found is no
    error (0); a service that did not answer is (1, after printing what the others said)."""
    offset = args.port_offset
    urls = {spec.name: f"http://127.0.0.1:{service_port(spec, offset)}" for spec in SERVICES}
    bootstrap = args.bootstrap or os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or f"127.0.0.1:{9092 + offset}"
    kafka = operator_kafka(bootstrap)
    collected = collect_trace(args.id, urls=urls, operator_key=args.operator_key, kafka=kafka)
    found = asyncio.run(collected)
    print(as_json(found) if args.json else render_trace(found))
    return 0 if found.complete else 1


def _port_offset() -> int:
    return int(os.environ.get("DEVSTACK_PORT_OFFSET", "0"))


def operator_kafka(bootstrap: str) -> KafkaConnection:
    """The operator tools' connection to `bootstrap`: plaintext, unless KAFKA_SECURITY_PROTOCOL
    says otherwise; then as the `operator` principal (OPERATOR_KAFKA_USERNAME/_PASSWORD, with
    KAFKA_SASL_MECHANISM and KAFKA_SSL_CAFILE)."""
    return KafkaConnection.from_env("OPERATOR", {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap})


def _local_bootstrap() -> str:
    """KAFKA_BOOTSTRAP_SERVERS, else `make run`'s Kafka (moved by DEVSTACK_PORT_OFFSET)."""
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or f"127.0.0.1:{9092 + _port_offset()}"


def main() -> None:
    if sys.argv[1:2] != ["run"]:
        # DEVSTACK_PROFILE=production: the operator commands read the profile's secrets file
        # (its values beneath the shell's), as if it had been sourced.
        os.environ.update(operator_environment())
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start the whole platform; Ctrl-C stops it")
    send = commands.add_parser("signup", help="send a signed user.created and wait for claims")
    send.add_argument("--email", default="ada@example.com")
    send.add_argument("--first-name", default="Ada")
    send.add_argument("--user-id", default=None)
    send.add_argument("--invitation", default=None, help="an invitation-link slug the user signed up with")
    send.add_argument("--identity", default="http://127.0.0.1:8001")
    send.add_argument("--timeout", type=float, default=30)
    status = commands.add_parser("status", help="outbox backlogs, consumer lag, dead letters")
    status.add_argument("--bootstrap", default=_local_bootstrap())
    status.add_argument(
        "--database-url",
        default=os.environ.get("OPERATOR_DATABASE_URL")
        or os.environ.get(
            "DATABASE_URL", f"postgresql://backbone@127.0.0.1:{54329 + _port_offset()}/postgres"
        ),
    )
    dlq = commands.add_parser("dlq", help="dead letters: list them, replay one or all")
    dlq.add_argument("action", choices=["list", "replay"])
    dlq.add_argument("topic", help="the original topic, e.g. identity.users")
    dlq.add_argument("--partition", type=int, default=None, help="with --offset: replay this record only")
    dlq.add_argument("--offset", type=int, default=None)
    dlq.add_argument("--bootstrap", default=_local_bootstrap())
    follow = commands.add_parser("trace", help="one user's, org's, invitation's or Skool member's timeline")
    follow.add_argument("id", help="a user id, org id, email, invitation slug or Skool member id")
    follow.add_argument("--json", action="store_true", help="machine-readable output")
    follow.add_argument(
        "--port-offset",
        type=int,
        default=int(os.environ.get("DEVSTACK_PORT_OFFSET", "0")),
        help="the platform's DEVSTACK_PORT_OFFSET (services on 8001+offset...)",
    )
    follow.add_argument("--bootstrap", default=None, help="Kafka (default 127.0.0.1:9092 + the offset)")
    follow.add_argument(
        "--operator-key",
        default=os.environ.get("PLATFORM_OPERATOR_KEY", DEFAULTS["PLATFORM_OPERATOR_KEY"]),
        help="X-Service-Key for the operator endpoints (PLATFORM_OPERATOR_KEY)",
    )
    args = parser.parse_args()
    if args.command == "trace":
        sys.exit(trace(args))
    if args.command == "dlq":
        sys.exit(asyncio.run(dead_letters(args)))
    if args.command == "status":
        status_of = collect_status(kafka=operator_kafka(args.bootstrap), database_url=args.database_url)
        print(render(asyncio.run(status_of)))
        sys.exit(0)
    sys.exit(run() if args.command == "run" else signup(args))


if __name__ == "__main__":
    main()
