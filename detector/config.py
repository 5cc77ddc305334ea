"""The one typed configuration of swapwatch, loaded from YAML and the environment.

Each stage owns its section's model (``ingest``, ``detection``, ``alerts``, ``runtime``); this
module only assembles them and loads them. Defaults live in the section models, nowhere else.
Environment variables override the file: ``SWAPWATCH__ALERTS__SLACK__WEBHOOK_URL=...`` sets
``alerts.slack.webhook_url`` (double underscore between levels).

>>> cfg = load_config(None, environ={"SWAPWATCH__INGEST__TENANT_ATTRIBUTES": '["org.id"]'})
>>> cfg.ingest.tenant_attributes
['org.id']
>>> load_config(None, environ={"SWAPWATCH__NOPE": "1"})
Traceback (most recent call last):
...
swapwatch.detector.config.ConfigError: invalid swapwatch configuration:
  nope: Extra inputs are not permitted
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from swapwatch.detector.alerts.config import AlertsConfig
from swapwatch.detector.detection.config import DetectionConfig
from swapwatch.detector.ingest.config import IngestConfig
from swapwatch.detector.runtime.config import RuntimeConfig

ENV_PREFIX = "SWAPWATCH__"


class ConfigError(ValueError):
    """The configuration does not validate; the message lists every problem."""


class SwapwatchConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ingest: IngestConfig = Field(default_factory=IngestConfig)
    detection: DetectionConfig = Field(default_factory=DetectionConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX):].split("__") if p]
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return tree


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_config(
    path: str | Path | None, environ: Mapping[str, str] | None = None
) -> SwapwatchConfig:
    """Load and validate; raise :class:`ConfigError` with every problem at once."""
    data: dict[str, Any] = {}
    if path is not None:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping")
        data = loaded
    data = _merge(data, _env_overrides(os.environ if environ is None else environ))
    try:
        return SwapwatchConfig.model_validate(data)
    except ValidationError as err:
        lines = [f"  {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()]
        raise ConfigError("invalid swapwatch configuration:\n" + "\n".join(lines)) from None
