"""Read the services' `/metrics` (Prometheus text format) the way Prometheus does: for tests and
tools. Counters are per process, so a service's value is the sum over its replicas' addresses."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from devstack.services import Fleet

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape_text(url: str) -> str:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"{url}/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def parse(text: str, into: Samples | None = None) -> Samples:
    """Every sample of a scrape by name and labels, added to `into` (summing replicas)."""
    samples: Samples = {} if into is None else into
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            samples[key] = samples.get(key, 0.0) + sample.value
    return samples


async def scrape(fleet: Fleet, service: str) -> Samples:
    """Every sample of every replica of `service`, summed by name and labels."""
    samples: Samples = {}
    for replica in fleet.replicas[service]:
        parse(await scrape_text(replica.own_url), into=samples)
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)
