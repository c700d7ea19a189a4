"""`make bench`: signup latency (webhook to complete claims), burst throughput and service memory.

Starts its own platform on the test ports (data in `.local/bench-run`), prints numbers, stops.
Numbers are observations on this machine, not assertions.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import time
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer

from devstack.paths import local_dir
from devstack.platform import Platform
from devstack.pytest_plugin import TEST_ENV, TEST_PORTS, TEST_SERVICE_KEY
from devstack.services import Fleet
from devstack.testing import new_user_id, signup_delivery

SEQUENTIAL = 50
BURST = int(__import__("os").environ.get("BENCH_BURST", "200"))


async def one_signup(client: httpx.AsyncClient, fleet: Fleet, *, poll_seconds: float = 0.005) -> float:
    user_id = new_user_id()
    body, headers = signup_delivery(user_id=user_id)
    started = time.perf_counter()
    response = await client.post(f"{fleet['identity'].url}/v1/webhooks/auth", content=body, headers=headers)
    response.raise_for_status()
    while True:
        claims = (
            await client.get(
                f"{fleet['identity'].url}/v1/users/{user_id}/claims",
                headers={"X-Service-Key": TEST_SERVICE_KEY},
            )
        ).json()
        if claims.get("plan"):
            return time.perf_counter() - started
        if time.perf_counter() - started > 60:
            raise TimeoutError(f"no claims for {user_id}")
        await asyncio.sleep(poll_seconds)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def webhook_to_kafka(
    client: httpx.AsyncClient, fleet: Fleet, bootstrap: str
) -> tuple[list[float], list[float]]:
    """Seconds from posting a signup webhook until its `user.created` is readable on Kafka
    (HTTP + commit + NOTIFY wake-up + relay publish)."""
    consumer = AIOKafkaConsumer("identity.users", bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        await consumer.seek_to_end()
        answered, published = [], []
        for _ in range(SEQUENTIAL):
            user_id = new_user_id()
            body, headers = signup_delivery(user_id=user_id)
            started = time.perf_counter()
            response = await client.post(
                f"{fleet['identity'].url}/v1/webhooks/auth", content=body, headers=headers
            )
            response.raise_for_status()
            answered.append(time.perf_counter() - started)
            while True:
                record = await asyncio.wait_for(consumer.getone(), timeout=30)
                if record.key == user_id.encode():
                    published.append(time.perf_counter() - started)
                    break
    finally:
        await consumer.stop()
    return answered, published


def _summary(seconds: list[float]) -> str:
    ms = sorted(value * 1000 for value in seconds)
    return (
        f"p50 {statistics.median(ms):.1f} ms   p95 {ms[int(len(ms) * 0.95) - 1]:.1f} ms   max {ms[-1]:.1f} ms"
    )


async def measure(fleet: Fleet, bootstrap: str) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        await one_signup(client, fleet)  # warm-up: consumer groups joined, pools filled
        answered, published = await webhook_to_kafka(client, fleet, bootstrap)
        print(f"webhook answered (verified, stored, committed), {SEQUENTIAL} one after another:")
        print(f"    {_summary(answered)}")
        print("webhook -> its user.created read back from Kafka:")
        print(f"    {_summary(published)}")
        latencies = [await one_signup(client, fleet) for _ in range(SEQUENTIAL)]
        print(f"signup, webhook -> complete claims, {SEQUENTIAL} one after another:")
        print(f"    {_summary(latencies)}")
        started = time.perf_counter()
        # Slower polling here, or 200 pollers would measure the claims endpoint, not the flow.
        burst = await asyncio.gather(*(one_signup(client, fleet, poll_seconds=0.2) for _ in range(BURST)))
        elapsed = time.perf_counter() - started
        print(
            f"signup burst, {BURST} at once: all complete in {elapsed:.2f} s "
            f"({BURST / elapsed:.0f} signups/s); each: {_summary(burst)}"
        )
    print("resident memory per service after the burst:")
    for name, service in fleet.services.items():
        if service.process is not None:
            print(f"    {name:<12} {rss_mib(service.process.pid):.0f} MiB")


def main() -> None:
    root = local_dir() / "bench-run"
    shutil.rmtree(root, ignore_errors=True)
    platform = Platform(
        root=root, ports=TEST_PORTS, durable=False, fresh=True, log=lambda m: print(f"[bench] {m}")
    )
    try:
        platform.start_infrastructure()
        fleet = platform.start_services(extra_env=TEST_ENV)
        asyncio.run(measure(fleet, platform.kafka_bootstrap))
    finally:
        platform.stop()


if __name__ == "__main__":
    main()
