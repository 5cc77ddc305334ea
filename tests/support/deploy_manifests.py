"""Reading the deployment files the way their tools do: compose interpolation, Kubernetes
``$(VAR)`` expansion, image references, and the swapwatch subcommands they invoke.

Shared by ``tests/test_deploy_*.py``.
"""

from __future__ import annotations

import argparse
import importlib
import re
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from swapwatch.detector.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_DIR = DEPLOY / "compose"
K8S_DIR = DEPLOY / "k8s"
OTELCOL_CONFIG = DEPLOY / "otelcol" / "config.yaml"
BUILDER_CONFIG = DEPLOY / "otelcol-build" / "builder-config.yaml"


def project_version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def kafka_version() -> str:
    """The one Kafka version of the project: deploy/kafka/pom.xml's ``kafka.version``."""
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>",
                      (DEPLOY / "kafka" / "pom.xml").read_text())
    assert match, "deploy/kafka/pom.xml sets no kafka.version"
    return match.group(1)


def collector_build_version() -> str:
    return str(yaml.safe_load(BUILDER_CONFIG.read_text())["dist"]["version"])


# --- images ---------------------------------------------------------------------------------
# [registry[:port]/]path[:tag][@sha256:digest], path components lower case
_IMAGE = re.compile(
    r"^(?:(?P<registry>[a-z0-9.-]+(?::\d+)?)/)?"
    r"(?P<path>[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
_VERSION_TAG = re.compile(r"^v?\d+\.\d+(?:\.\d+)?(?:[-.][A-Za-z0-9.]+)*$")


def image_parts(reference: str) -> tuple[str, str]:
    """``(name, tag)`` of an image reference pinned to a version tag; AssertionError if not.

    >>> image_parts("otel/opentelemetry-collector-contrib:0.155.0")
    ('otel/opentelemetry-collector-contrib', '0.155.0')
    """
    match = _IMAGE.match(reference)
    assert match, f"malformed image reference {reference!r}"
    tag = match.group("tag")
    assert tag is not None, f"{reference}: no tag (that means :latest)"
    assert tag != "latest" and _VERSION_TAG.match(tag), f"{reference}: not a version tag"
    name = match.group("path")
    if match.group("registry"):
        name = f"{match.group('registry')}/{name}"
    return name, tag


# --- docker compose -------------------------------------------------------------------------
_INTERPOLATION = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
                            r"(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})")


def interpolate(value: Any, environ: Mapping[str, str]) -> Any:
    """Compose's variable interpolation of every string in ``value`` (``$$`` escapes ``$``).

    >>> interpolate({"a": "${X:-1}", "b": ["$${Y}", "${X}"]}, {"X": "2"})
    {'a': '2', 'b': ['${Y}', '2']}
    """
    if isinstance(value, dict):
        return {k: interpolate(v, environ) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, environ) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        current = environ.get(name)
        if op in (":-", "-"):
            unset = current is None or (op == ":-" and current == "")
            return arg if unset else str(current)
        if op in (":?", "?"):
            assert current, f"compose needs ${name}: {arg}"
        return current or ""

    return _INTERPOLATION.sub(one, value)


def load_compose(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The compose file as ``docker compose config`` sees it: anchors merged, interpolated."""
    raw = yaml.safe_load((COMPOSE_DIR / "docker-compose.yaml").read_text())
    assert isinstance(raw, dict)
    return dict(interpolate(raw, environ or {}))


def compose_environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def compose_mounts(service: Mapping[str, Any]) -> dict[str, Path | str]:
    """Container path -> host path (bind mounts, resolved) or volume name."""
    mounts: dict[str, Path | str] = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        mounts[target] = (COMPOSE_DIR / source).resolve() if source.startswith(".") else source
    return mounts


# --- Kubernetes -----------------------------------------------------------------------------
def k8s_documents() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(K8S_DIR.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            if document is not None:
                yield path, document


def k8s_objects() -> dict[tuple[str, str], dict[str, Any]]:
    """``(kind, name)`` -> object, for every manifest of deploy/k8s."""
    objects: dict[tuple[str, str], dict[str, Any]] = {}
    for path, document in k8s_documents():
        key = (document["kind"], document["metadata"]["name"])
        assert key not in objects, f"{path.name}: {key} defined twice"
        objects[key] = document
    return objects


def expand_k8s(text: str, environ: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion in command and args (``$$`` escapes)."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else environ.get(m.group(1), m.group(0)),
                  text)


# --- swapwatch's command line ---------------------------------------------------------------
def parse_swapwatch(argv: list[str]) -> tuple[Any, argparse.Namespace]:
    """``(subcommand module, parsed args)`` exactly as ``swapwatch`` parses ``argv``."""
    name, rest = argv[0], argv[1:]
    assert name in COMMANDS, f"swapwatch has no subcommand {name!r}"
    module = importlib.import_module(COMMANDS[name][0])
    parser = argparse.ArgumentParser(prog=f"swapwatch {name}", exit_on_error=False)
    module.add_arguments(parser)
    try:
        return module, parser.parse_args(rest)
    except SystemExit as err:  # argparse exits on unknown flags even with exit_on_error off
        raise AssertionError(f"swapwatch {' '.join(argv)}: arguments do not parse") from err


def endpoint_port(endpoint: str | None) -> int:
    assert endpoint is not None
    return int(endpoint.rpartition(":")[2])
