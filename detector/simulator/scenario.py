"""A benchmark scenario as data: keys, their traffic, what serves them, and what changes when.

A :class:`KeySpec` is one series the detector should watch (service, surface, provider,
request model, environment, tenant) with its traffic and the :class:`Arm` s (model profiles and
shares) that serve it. A :class:`ServingChange` replaces a key's arms at an offset from the
start (with an optional linear ramp, for a drifting router); ``truth`` says whether the
detector must catch it (``change``) or must stay quiet (``benign``). Provider incidents and
prompt growth are benign events; divergences are reported separately.

>>> from swapwatch.detector.simulator.profiles import load_catalog
>>> gpt4o = load_catalog().model("openai/gpt-4o")
>>> key = KeySpec(service="api", surface="chat", provider="openai", request_model="gpt-4o",
...               arms=(Arm(gpt4o),))
>>> key.name, key.truth_key()
('api/chat/gpt-4o/prod', {'surface': 'chat', 'request_model': 'gpt-4o'})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from swapwatch.detector.simulator.profiles import ModelProfile

DEFAULT_START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
TruthKind = Literal["change", "benign"]


@dataclass(frozen=True)
class Arm:
    """A model profile serving a share of a key's requests; ``reported_model`` is the
    ``response.model`` the API shows (``None``: the profile's own served model)."""

    profile: ModelProfile
    share: float = 1.0
    reported_model: str | None = None

    @property
    def label(self) -> str:
        return f"{self.profile.id}->{self.reported_model or self.profile.served_model}"


@dataclass(frozen=True)
class KeySpec:
    """One series key with its traffic shape and the arms serving it at the start."""

    service: str
    surface: str
    provider: str
    request_model: str
    arms: tuple[Arm, ...]
    environment: str = "prod"
    tenant: str | None = None
    rate_per_day: float = 1000.0
    traffic: str = "azure-conv"
    server_address: str = "api.openai.com"
    max_tokens: int | None = 1024
    stream_share: float = 0.8
    tool_share: float = 0.0
    eval_share: float = 0.05
    evaluation_name: str = "relevance"
    chars_per_token: float = 4.0  # characters of prompt text per token of the trace
    peak_hour: float = 15.0
    # keys whose truth must name the environment / service to be unambiguous
    truth_fields: tuple[str, ...] = ("surface", "request_model")

    @property
    def name(self) -> str:
        parts = [self.service, self.surface, self.request_model, self.environment]
        if self.tenant:
            parts.append(self.tenant)
        return "/".join(parts)

    def truth_key(self) -> dict[str, str]:
        values = {
            "service": self.service, "surface": self.surface, "provider": self.provider,
            "request_model": self.request_model, "environment": self.environment,
            "tenant": self.tenant or "",
        }
        return {f: values[f] for f in self.truth_fields if values[f]}

    def full_key(self) -> dict[str, str | None]:
        return {
            "service": self.service, "surface": self.surface, "provider": self.provider,
            "request_model": self.request_model, "environment": self.environment,
            "tenant": self.tenant,
        }


@dataclass(frozen=True)
class ServingChange:
    """From ``at_s`` (seconds after the start) the key is served by ``arms``."""

    key: str  # KeySpec.name
    at_s: float
    arms: tuple[Arm, ...]
    kind: str
    note: str
    truth: TruthKind = "change"
    ramp_s: float = 0.0  # shares move linearly from the old arms to the new over this time


@dataclass(frozen=True)
class ProviderIncident:
    """Every model of ``provider`` slows down ``slowdown`` times (benign: an incident)."""

    provider: str
    at_s: float
    duration_s: float
    slowdown: float = 2.0
    error_factor: float = 1.0
    kind: str = "provider-incident"


@dataclass(frozen=True)
class PromptGrowth:
    """From ``at_s`` the key's prompts are ``factor`` times longer (benign: a traffic mix)."""

    key: str
    at_s: float
    factor: float = 2.0
    kind: str = "traffic-mix"


@dataclass(frozen=True)
class Divergence:
    """Two environments of one request model get different artifacts from ``from_s`` on."""

    request_model: str
    environments: tuple[str, ...]
    from_s: float
    note: str
    kind: str = "eval-vs-prod"


@dataclass(frozen=True)
class Scenario:
    name: str
    variant: str
    seed: int
    description: str
    keys: tuple[KeySpec, ...]
    days: float
    start: datetime = DEFAULT_START
    changes: tuple[ServingChange, ...] = ()
    incidents: tuple[ProviderIncident, ...] = ()
    prompt_growth: tuple[PromptGrowth, ...] = ()
    divergences: tuple[Divergence, ...] = ()
    provider_peak_hours: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [k.name for k in self.keys]
        if len(set(names)) != len(names):
            raise ValueError(f"scenario {self.name}: duplicate keys")
        known = set(names)
        for key_name in [c.key for c in self.changes] + [g.key for g in self.prompt_growth]:
            if key_name not in known:
                raise ValueError(f"scenario {self.name}: unknown key {key_name!r}")

    @property
    def start_s(self) -> float:
        return self.start.timestamp()

    @property
    def end_s(self) -> float:
        return self.start_s + self.days * 86400.0

    def key(self, name: str) -> KeySpec:
        return next(k for k in self.keys if k.name == name)
