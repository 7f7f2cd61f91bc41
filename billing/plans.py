"""Plans from configuration (``cluster/plans.yaml``): price, minutes, voices, fine-tunes a month.

A plan limits each metered quantity (``billing/metering.py``'s metrics) per calendar month: call
minutes, audio minutes through ``/v1/audio`` (transcription and speech apart), LLM tokens and
fine-tuning jobs; and how many distinct TTS voices the tenant's personas may use. ``None``
(``null`` in the YAML) is unlimited.
"""

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
    transcription_minutes: int | None = None
    speech_minutes: int | None = None
    llm_tokens: int | None = None

    @property
    def call_ms_limit(self) -> int | None:
        return None if self.minutes is None else self.minutes * 60_000

    def limit(self, metric: str) -> int | None:
        """The monthly limit on one metered quantity, in the metric's unit; None: unlimited."""
        minutes = {"call_ms": self.minutes, "stt_ms": self.transcription_minutes, "tts_ms": self.speech_minutes}
        if metric in minutes:
            return None if minutes[metric] is None else minutes[metric] * 60_000
        if metric == "llm_tokens":
            return self.llm_tokens
        if metric == "finetunes":
            return self.finetunes_per_month
        raise KeyError(f"no limit for metric {metric!r}")


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
        limits = (p.minutes, p.voices, p.finetunes_per_month, p.transcription_minutes, p.speech_minutes, p.llm_tokens)
        if p.price_rub <= 0 or any(v is not None and v < 0 for v in limits):
            raise ValueError(f"plan {p.id!r} has a negative limit or no price")
    return Catalogue(plans, int(data.get("trial_days", 0)))
