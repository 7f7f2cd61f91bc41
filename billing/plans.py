"""Plans from configuration (``cluster/plans.yaml``): price, minutes, voices, fine-tunes a month."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from infra.settings import PROJECT_ROOT

DEFAULT_PATH = PROJECT_ROOT / "cluster" / "plans.yaml"


@dataclass(frozen=True)
class Plan:
    id: str
    title: str
    price_rub: int
    minutes: int | None  # None: unlimited
    voices: int | None
    finetunes_per_month: int | None
    stripe_price_id: str | None = None

    @property
    def call_ms_limit(self) -> int | None:
        return None if self.minutes is None else self.minutes * 60_000


@dataclass(frozen=True)
class Catalogue:
    plans: dict[str, Plan]
    trial_days: int

    def get(self, plan_id: str) -> Plan:
        try:
            return self.plans[plan_id]
        except KeyError:
            raise KeyError(f"no plan {plan_id!r}; plans: {', '.join(self.plans)}") from None

    def by_stripe_price(self, price_id: str) -> Plan | None:
        return next((p for p in self.plans.values() if p.stripe_price_id == price_id), None)


def load_plans(path: Path | None = None) -> Catalogue:
    data = yaml.safe_load(Path(path or DEFAULT_PATH).read_text(encoding="utf-8"))
    plans = {pid: Plan(id=pid, **spec) for pid, spec in data["plans"].items()}
    for p in plans.values():
        if p.price_rub <= 0 or any(v is not None and v < 0 for v in (p.minutes, p.voices, p.finetunes_per_month)):
            raise ValueError(f"plan {p.id!r} has a negative limit or no price")
    return Catalogue(plans, int(data.get("trial_days", 0)))
