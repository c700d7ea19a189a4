"""What a chaos run did and found: the kills and recoveries, the webhooks, the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

from devstack.svix_sender import BurstResult

# DESIGN §10: a service back within 10 s, Kafka or PostgreSQL within 30 s.
SLOW_STARTERS = {"kafka": 30.0, "postgres": 30.0}
SERVICE_BOUND = 10.0


@dataclass(frozen=True)
class Kill:
    target: str
    at: float  # seconds after the run started
    pid: int
    back_after: float | None  # seconds from the kill until ready again; None: never came back
    restarts: int

    @property
    def bound(self) -> float:
        return SLOW_STARTERS.get(self.target, SERVICE_BOUND)

    @property
    def back_at(self) -> float:
        return self.at + (self.back_after if self.back_after is not None else float("inf"))

    def overlaps(self, other: Kill) -> bool:
        return other is not self and other.at < self.back_at and other.back_at > self.at

    def line(self) -> str:
        back = "NOT BACK" if self.back_after is None else f"back after {self.back_after:5.1f}s"
        return (
            f"{self.at:6.1f}s  kill -9 {self.target:<16} pid {self.pid:<7} {back} ({self.restarts} start(s))"
        )


@dataclass
class ChaosReport:
    kills: list[Kill]
    burst: BurstResult
    problems: dict[str, str]  # user id -> what is not exactly once
    dead_letters: int  # records that reached any .dlq during the run
    seconds: float
    not_ready: list[str] = field(default_factory=list)  # pieces still not ready at the end

    def alone(self, kill: Kill) -> bool:
        """Was nothing else down meanwhile? Only then is its recovery time its own."""
        return not any(kill.overlaps(other) for other in self.kills)

    def slow(self) -> list[Kill]:
        """Kills recovered alone, yet slower than DESIGN §10 allows."""
        return [
            k for k in self.kills if self.alone(k) and k.back_after is not None and k.back_after > k.bound
        ]

    def failures(self, *, recovery_bounds: bool = True) -> list[str]:
        found = [f"{kill.target} did not come back" for kill in self.kills if kill.back_after is None]
        if recovery_bounds:
            found += [f"{k.target} took {k.back_after:.1f}s (bound {k.bound:.0f}s)" for k in self.slow()]
        if self.burst.abandoned:
            found.append(f"{len(self.burst.abandoned)} deliveries never accepted")
        if self.problems:
            found.append(f"{len(self.problems)} signups not provisioned exactly once")
        if self.dead_letters:
            found.append(f"{self.dead_letters} records dead-lettered")
        if self.not_ready:
            found.append(f"not ready at the end: {', '.join(self.not_ready)}")
        return found

    def render(self, *, recovery_bounds: bool = True) -> str:
        lines = [f"chaos run: {self.seconds:.0f}s, {len(self.kills)} kills (time, target, recovery)"]
        for kill in sorted(self.kills, key=lambda k: k.at):
            alone = f"alone; bound {kill.bound:.0f}s" if self.alone(kill) else "overlapping another outage"
            lines.append(f"  {kill.line()}  [{alone}]")
        lines.append(f"webhooks: {self.burst.summary()}")
        verdict = "every accepted signup exactly once" if not self.problems else "NOT exactly once:"
        lines.append(f"provisioning ({len(self.burst.accepted)} users, counted per user): {verdict}")
        lines += [f"  {user}: {problem}" for user, problem in list(self.problems.items())[:20]]
        lines.append(f"dead letters during the run: {self.dead_letters}")
        failures = self.failures(recovery_bounds=recovery_bounds)
        lines.append("PASS" if not failures else "FAIL: " + "; ".join(failures))
        return "\n".join(lines)
