"""The swapwatch image (the repository's Dockerfile) against the project it packages.

No Docker engine runs here: the Dockerfile is read instruction by instruction and every
reference is checked against pyproject.toml, the source tree, .dockerignore and the ports
and paths that the deployment files and the code use.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet
from support.deploy_manifests import (
    ROOT,
    compose_mounts,
    endpoint_port,
    image_parts,
    load_compose,
)
from swapwatch.collector.config import CollectorConfig
from swapwatch.detector.runtime.config import RuntimeConfig

PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = (line.strip() for line in text.splitlines())
    return [(word.upper(), rest.strip()) for word, _, rest in
            (line.partition(" ") for line in lines if line and not line.startswith("#"))]


def _one(instruction: str) -> str:
    found = [args for name, args in _instructions() if name == instruction]
    assert len(found) == 1, f"expected one {instruction}, found {found}"
    return found[0]


def _copied_sources() -> list[str]:
    sources = []
    for name, args in _instructions():
        if name == "COPY":
            sources += [s.rstrip("/") for s in args.split()[:-1] if not s.startswith("--")]
    return sources


def test_base_image_is_a_pinned_python_the_project_supports() -> None:
    name, tag = image_parts(_one("FROM"))
    assert (name, tag) == ("python", "3.11-slim")
    assert SpecifierSet(PYPROJECT["project"]["requires-python"]).contains(tag.split("-")[0])


def test_the_image_copies_exactly_what_the_install_needs() -> None:
    sources = _copied_sources()
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    package_dirs = set(PYPROJECT["tool"]["setuptools"]["package-dir"].values())
    assert package_dirs <= set(sources)
    assert {"pyproject.toml", PYPROJECT["project"]["readme"]} <= set(sources)
    # .dockerignore ignores everything else; each copied source must be let through
    ignore = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    for source in sources:
        verdict = False
        for pattern in ignore:
            negated = pattern.startswith("!")
            if fnmatch.fnmatch(source, pattern.lstrip("!").rstrip("/")):
                verdict = not negated
        assert verdict is False, f"{source} is excluded by .dockerignore"


def test_install_uses_extras_and_entry_point_that_exist() -> None:
    run = " ".join(args for name, args in _instructions() if name == "RUN")
    extras = re.search(r"pip install '\.\[([a-z,-]+)\]'", run)
    assert extras, "the image must pip install the project with its extras"
    declared = set(PYPROJECT["project"]["optional-dependencies"])
    assert set(extras.group(1).split(",")) == {"detector", "collector"} <= declared
    entrypoint = json.loads(_one("ENTRYPOINT"))
    assert entrypoint[0] in PYPROJECT["project"]["scripts"]


def test_exposed_ports_and_writable_state_match_the_deployment() -> None:
    exposed = {int(port) for port in _one("EXPOSE").split()}
    collect = CollectorConfig()
    metrics_port = RuntimeConfig().metrics_port
    assert exposed == {endpoint_port(collect.grpc_endpoint),
                       endpoint_port(collect.http_endpoint), metrics_port}
    user = _one("USER")
    assert user not in ("root", "0")
    run = " ".join(args for name, args in _instructions() if name == "RUN")
    created = re.search(r"mkdir -p (\S+) && chown -R " + re.escape(f"{user}:{user}") +
                        r" (\S+)", run)
    assert created, "the image must create its state directory owned by its user"
    # compose mounts its state volume there, so the volume starts owned by the image's user
    detect = load_compose()["services"]["detect"]
    assert created.group(1) in compose_mounts(detect)
    assert created.group(1).startswith(created.group(2))


@pytest.mark.parametrize("reference", [
    "python", "python:latest", "otel/opentelemetry-collector-contrib:main", "Swapwatch:0.1.0",
    "apache/kafka:", "swapwatch:0.1.0@sha256:abc",
])
def test_image_check_rejects_unpinned_or_malformed_references(reference: str) -> None:
    with pytest.raises(AssertionError):
        image_parts(reference)


@pytest.mark.parametrize(("reference", "parts"), [
    ("python:3.11-slim", ("python", "3.11-slim")),
    ("ghcr.io/acme/swapwatch:0.1.0", ("ghcr.io/acme/swapwatch", "0.1.0")),
    ("registry.local:5000/swapwatch:v1.2.3-rc.1", ("registry.local:5000/swapwatch", "v1.2.3-rc.1")),
])
def test_image_check_reads_pinned_references(reference: str, parts: tuple[str, str]) -> None:
    assert image_parts(reference) == parts
