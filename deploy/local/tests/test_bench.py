"""`make bench`'s pure helpers, its /proc scan and its seed-design SQL (no timing is asserted)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.bench.burst import burst_sample
from devstack.bench.client import Signup, refusals, wait_complete
from devstack.bench.config import AUTH_SECRET, SERVICE_KEY, BenchConfig
from devstack.bench.memory import ProcessMemory, kind_of, platform_processes
from devstack.bench.quota import CONSUME_PATH, quota_figure, route_missing
from devstack.bench.quota_burst import NAME as DURING_BURST
from devstack.bench.quota_burst import with_quotas
from devstack.bench.report import Figure, Target, machine_cpu_ticks, percentile, render, steal_share
from devstack.bench.seed_design import (
    create_seed_database,
    drop_seed_database,
    parse_pgbench,
    rows_written,
    run_pgbench,
)
from devstack.bench.steady import poll_interval, sample_every
from devstack.bench.versus import PEER_PORT, as_peer, ratios, running_peer
from devstack.platform import Platform
from devstack.pytest_plugin import TEST_PORTS
from devstack.webhooks import new_signup, signed_delivery

PGBENCH_OUTPUT = """\
pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: seed_signup.sql
scaling factor: 1
query mode: prepared
number of clients: 4
number of threads: 2
maximum number of tries: 1
duration: 3 s
number of transactions actually processed: 10405
number of failed transactions: 0 (0.000%)
latency average = 1.152 ms
initial connection time = 11.031 ms
tps = 3471.381206 (without initial connection time)
"""


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7
    assert percentile([3.0, 1.0, 2.0], 0) == 1


def test_a_figure_line_shows_value_target_verdict_and_conditions() -> None:
    met = Figure("webhook → claims p99 @ 50/s", 42.5, "ms", "1 in 5 sampled", Target("≤", 100))
    missed = Figure("end-to-end signups/s (burst)", 25.3, "/s", "2,000 signups", Target("≥", 300))
    absent = Figure("quota consume p99", None, "ms", "not measured — endpoint not built yet", Target("≤", 5))

    assert "42.5 ms" in met.line() and "≤ 100 ms" in met.line() and " ok " in met.line()
    assert "25.3 /s" in missed.line() and "≥ 300 /s" in missed.line() and "MISS" in missed.line()
    assert "not measured" in absent.line() and "endpoint not built yet" in absent.line()
    assert render([met, missed, absent]).count("\n") == 4  # header, rule, three figures


def test_pgbench_summary_is_parsed() -> None:
    result = parse_pgbench(PGBENCH_OUTPUT)

    assert result.tps == 3471.381206
    assert result.transactions == 10405
    assert result.latency_ms == 1.152
    assert result.failed == 0


def test_the_burst_sample_is_every_fiftieth_and_each_senders_last() -> None:
    signups = [Signup(f"user_{i}", b"", {}) for i in range(200)]
    lanes = [signups[i::32] for i in range(32)]

    sample = [int(s.user_id.split("_")[1]) for s in burst_sample(lanes, signups)]

    assert sample == sorted({49, 99, 149, 199, *range(168, 200)})


def test_answers_that_were_not_2xx_are_counted_by_status() -> None:
    def answered(*statuses: int) -> list[Signup]:
        return [Signup(f"user_{i}", b"", {}, status=status) for i, status in enumerate(statuses)]

    assert refusals(answered(200, 202)) == "all 2xx"
    assert refusals(answered(200, 500, 500, 0)) == "3 not 2xx (no answer in 30 s: 1, 500: 2)"


def test_steady_sampling_and_polling_back_off() -> None:
    assert (sample_every(50), sample_every(200)) == (5, 10)
    assert poll_interval(0.01) == poll_interval(0.05) == 0.005
    assert poll_interval(0.25) == 0.025
    assert poll_interval(60) == 1.0


def test_processes_are_told_apart_by_their_command_line() -> None:
    def process(pid: int, *args: str) -> ProcessMemory:
        return ProcessMemory(pid, 1, list(args), 1024, None)

    assert kind_of(process(10, "/venv/bin/python", "-m", "skool_ingest"), set()) == "service:skool-ingest"
    assert (
        kind_of(process(11, "java", "-Xmx512m", "-cp", "libs/*", "kafka.Kafka", "x.properties"), set())
        == "kafka"
    )
    assert kind_of(process(12, "postgres: backbone identity 127.0.0.1(5) idle"), {12}) == "postgres"
    assert kind_of(process(13, "/venv/bin/python", "-m", "pytest"), set()) == "other"


def test_the_platform_started_by_this_process_is_found_in_proc(platform: Platform) -> None:
    groups = platform_processes()

    assert len(groups["kafka"]) == 1
    assert len(groups["postgres"]) >= 2  # postmaster and its background workers
    assert all(p.rss_kib > 0 for p in groups["kafka"] + groups["postgres"])


def test_the_quota_endpoint_counts_as_missing_only_when_billing_does_not_list_it() -> None:
    listed: dict[str, Any] = {"paths": {CONSUME_PATH: {"post": {}}}}

    assert route_missing(404, {"paths": {}})
    assert route_missing(405, {"paths": {}})
    assert route_missing(404, None)
    assert not route_missing(200, {"paths": {}})
    assert not route_missing(402, {"paths": {}})
    assert not route_missing(404, listed)  # built: a 404 then means "no such org"


async def test_the_seed_design_loads_and_its_pgbench_script_runs(platform: Platform) -> None:
    url = await create_seed_database(platform.database_url)
    try:
        result = run_pgbench(url, transactions=1)  # one signup per pgbench client

        assert result.failed == 0
        assert await rows_written(url) == (result.transactions, result.transactions)
        assert result.transactions >= 1
    finally:
        await drop_seed_database(platform.database_url)


def test_host_steal_is_the_stolen_share_of_all_ticks_between_two_readings() -> None:
    assert steal_share((10, 100), (30, 200)) == 0.2
    assert steal_share((5, 50), (5, 50)) == 0.0
    stolen, total = machine_cpu_ticks()
    assert 0 <= stolen <= total


def test_the_peer_provisions_a_signed_signup_in_one_answer_and_refuses_a_forgery(
    platform: Platform, tmp_path: Path
) -> None:
    """The monolith peer (devstack.bench.peer) as `make bench` races it: a signed `user.created`
    is complete once answered, counted by the bench's own SQL; a duplicate changes nothing; a
    forged signature and a missing service key are refused."""
    port = TEST_PORTS.service_offset + PEER_PORT
    with running_peer(server_url=platform.database_url, port=port, log_file=tmp_path / "peer.log") as peer:
        user_id, payload = new_signup()
        body, headers = signed_delivery(payload, secret=AUTH_SECRET)
        first = httpx.post(f"{peer.identity_url}/v1/webhooks/auth", content=body, headers=headers)
        again = httpx.post(f"{peer.identity_url}/v1/webhooks/auth", content=body, headers=headers)
        forged_body, forged = signed_delivery(
            new_signup()[1], secret="whsec_" + "Zm9yZ2VkLXNlY3JldC0wMDAwMDAwMDAwMDA="
        )
        refused = httpx.post(f"{peer.identity_url}/v1/webhooks/auth", content=forged_body, headers=forged)
        claims = httpx.get(
            f"{peer.identity_url}/v1/users/{user_id}/claims", headers={"X-Service-Key": SERVICE_KEY}
        )
        no_key = httpx.get(f"{peer.identity_url}/v1/users/{user_id}/claims")

        assert (first.status_code, first.json()["status"]) == (200, "processed")
        assert again.json()["status"] == "duplicate"
        assert refused.status_code == 401
        assert claims.json()["plan"] == "individual_free" and claims.json()["is_personal_org"] is True
        assert no_key.status_code == 401
        done, _ = asyncio.run(wait_complete(peer, [user_id], deadline=5))
        assert done == 1


def test_the_race_prints_the_peers_figures_and_the_platform_over_the_peer() -> None:
    ours = [
        Figure("end-to-end signups/s (burst)", 150.0, "/s", ""),
        Figure("webhook → claims p99 @ 50/s", 1000.0, "ms", ""),
    ]
    theirs = as_peer(
        [
            Figure("end-to-end signups/s (burst)", 300.0, "/s", "", Target("≥", 300)),
            Figure("webhook → claims p99 @ 50/s", 20.0, "ms", ""),
        ]
    )

    compared = {figure.name: figure for figure in ratios(ours + theirs)}

    assert [figure.name for figure in theirs] == [
        "peer: end-to-end signups/s (burst)",
        "peer: webhook → claims p99 @ 50/s",
    ]
    assert all(figure.target is None for figure in theirs)
    assert compared["platform ÷ peer, burst signups/s"].value == 0.5
    assert compared["platform ÷ peer, burst signups/s"].verdict == "MISS"
    assert compared["platform ÷ peer, claims p99 @ 50/s"].value == 50.0
    assert "platform ÷ peer, claims p99 @ 200/s" not in compared  # neither run measured it


def test_quotas_during_a_burst_report_p99_p50_max_and_every_status() -> None:
    durations = [0.001 * n for n in range(1, 101)]  # 1 … 100 ms
    statuses = Counter({200: 99, 402: 1})

    figure = quota_figure(DURING_BURST, durations, statuses, rate=500, orgs=7, how_long="for 0.2 s")
    nothing = quota_figure(DURING_BURST, [], Counter(), rate=500, orgs=7, how_long="for 0 s")

    assert (figure.name, figure.value, figure.verdict) == ("quota consume p99 during a burst", 99, "MISS")
    assert "100 consumes at 500/s" in figure.conditions and "over 7 orgs" in figure.conditions
    assert "200: 99, 402: 1" in figure.conditions
    assert "p50 50.0 ms" in figure.conditions and "max 100.0 ms" in figure.conditions
    assert nothing.value is None


def test_the_burst_beside_quotas_never_stands_in_for_the_burst_alone() -> None:
    """Its figures get names of their own: the burst alone's CPU per signup and the peer ratio
    keep reading the burst without quota traffic."""
    alone = Figure("end-to-end signups/s (burst)", 150.0, "/s", "", Target("≥", 300))
    beside = with_quotas([Figure("end-to-end signups/s (burst)", 90.0, "/s", "", Target("≥", 300))])
    peer = as_peer([Figure("end-to-end signups/s (burst)", 300.0, "/s", "")])

    assert [f.name for f in beside] == ["with quotas: end-to-end signups/s (burst)"]
    assert beside[0].target == alone.target
    compared = {figure.name: figure for figure in ratios([*beside, alone, *peer])}
    assert compared["platform ÷ peer, burst signups/s"].value == 0.5


def test_the_quota_burst_phase_runs_unless_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert BenchConfig.from_env().quota_during_burst
    monkeypatch.setenv("BENCH_QUOTA_BURST", "0")
    assert not BenchConfig.from_env().quota_during_burst
