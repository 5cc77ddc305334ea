"""The distribution installs as swapwatch.* from a regular (not editable) wheel, and the light
``instrumentation`` extra does not pull in the detector's dependencies."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"collector": "swapwatch.collector", "detector": "swapwatch.detector",
           "instrumentation": "swapwatch.instrumentation"}


def test_every_package_folder_is_listed_in_pyproject() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found = set()
    for folder, name in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *rel.parts]) if rel.parts else name)
    assert found - listed == set(), "add these to [tool.setuptools] packages"


@pytest.mark.slow
def test_regular_install_imports_and_light_extra(tmp_path: Path) -> None:
    wheel_dir = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheel_dir),
                    str(ROOT)], check=True)
    wheel = next(wheel_dir.glob("swapwatch-*.whl"))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(target), str(wheel)], check=True)
    code = ("import swapwatch.detector, swapwatch.collector, swapwatch.instrumentation;"
            "import swapwatch.detector.calls as c; print(c.__file__)")
    out = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(target)},
                         capture_output=True, text=True, check=True).stdout
    assert str(target) in out

    report = tmp_path / "report.json"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--dry-run", "--ignore-installed",
                    "--report", str(report), f"{wheel}[instrumentation]"], check=True)
    names = {item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]}
    assert "opentelemetry-sdk" in names
    assert not names & {"river", "kafka-python", "numpy", "scipy"}, names
