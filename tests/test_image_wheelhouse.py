"""The offline wheelhouse recipe (scripts/wheelhouse.sh) resolves against PyPI for a Pi.

For Bookworm (Python 3.11) and Trixie (Python 3.13) on aarch64, from uv.lock's export (the file
install.sh installs from): every version is the lock's, every wheel chosen runs on that Python
and CPU, onnxruntime is one that does not crash a Pi 4
(≥ 1.22, tagged manylinux_2_28_aarch64), and numpy stays < 2 on Bookworm for its apt picamera2.
Skips with the reason when PyPI cannot be reached.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

import pytest
from packaging.tags import Tag, compatible_tags, cpython_tags, parse_tag
from packaging.utils import parse_wheel_filename
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "wheelhouse.sh"
PYPI = "https://pypi.org/simple"
RELEASES = {"bookworm": "311", "trixie": "313"}


def pypi_reachable() -> str | None:
    try:
        with urllib.request.urlopen(f"{PYPI}/onnxruntime/", timeout=10) as reply:
            reply.read(100)
    except OSError as exc:
        return f"PyPI is not reachable from here ({exc}); the recipe needs it"
    return None


@pytest.fixture(scope="module")
def pip_env() -> dict[str, str]:
    why = pypi_reachable()
    if why:
        pytest.skip(why)
    # PyPI itself, not this machine's pip configuration (local indexes, constraints)
    return {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": PYPI, "PYTHON": sys.executable}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory, pip_env: dict[str, str]) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", str(out), str(REPO)],
        check=True,
        env=pip_env,
        timeout=300,
    )
    return next(out.glob("edge_agent-*.whl"))


@pytest.mark.parametrize("release", sorted(RELEASES))
def test_the_recipe_resolves_for_a_pi(
    release: str, wheel: Path, pip_env: dict[str, str], tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [
            *("bash", str(SCRIPT), "--release", release, "--wheel", str(wheel)),
            *("--out", str(tmp_path / "wh"), "--dry-run", str(report)),
        ],
        capture_output=True,
        text=True,
        env=pip_env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    chosen = {
        item["metadata"]["name"].lower().replace("_", "-"): (
            Version(item["metadata"]["version"]),
            item["download_info"]["url"].rsplit("/", 1)[-1],
        )
        for item in json.loads(report.read_text())["install"]
    }
    print(release, {name: str(v) for name, (v, _) in chosen.items()})
    python = RELEASES[release]
    runs_here = pi_tags(release)
    for name, (_, filename) in chosen.items():
        tags = parse_wheel_filename(filename)[3]
        pi = f"a Pi with Python {python[0]}.{python[1:]}"
        assert tags & runs_here, f"{name}: {filename} does not run on {pi}"
    version, filename = chosen["onnxruntime"]
    assert version >= Version("1.22"), "onnxruntime < 1.22 dies with SIGILL on a Pi 4"
    assert parse_tag(f"cp{python}-cp{python}-manylinux_2_28_aarch64") & set(parse_wheel_filename(filename)[3])
    for name in ("edge-agent", "numpy", "opencv-python-headless", "paho-mqtt", "pydantic"):
        assert name in chosen, name
    if release == "bookworm":  # the apt picamera2 is built against numpy 1.x
        assert chosen["numpy"][0] < Version("2")
    locked = locked_versions(python_full=FULL[release])
    for name, (version, _) in chosen.items():
        if name != "edge-agent":
            assert version == locked[name], f"{name} {version} is not uv.lock's {locked[name]}"


FULL = {"bookworm": "3.11.2", "trixie": "3.13.5"}
GLIBC = {"bookworm": 36, "trixie": 41}  # 2.36, 2.41


def pi_tags(release: str) -> set[Tag]:
    """Every wheel tag pip accepts on that release's Python on an aarch64 Pi (abi3 included)."""
    python = RELEASES[release]
    version = (int(python[0]), int(python[1:]))
    platforms = [f"manylinux_2_{minor}_aarch64" for minor in range(GLIBC[release], 16, -1)]
    platforms += ["manylinux2014_aarch64", "linux_aarch64"]
    tags = set(cpython_tags(version, platforms=platforms))
    return tags | set(compatible_tags(version, platforms=platforms))


def locked_versions(python_full: str) -> dict[str, Version]:
    """uv.lock's version of each package for a Pi (aarch64) with that Python."""
    from packaging.markers import Marker

    env = {"python_full_version": python_full, "python_version": python_full.rsplit(".", 1)[0]}
    env |= {"platform_machine": "aarch64", "sys_platform": "linux"}
    env |= {"platform_python_implementation": "CPython"}
    out: dict[str, Version] = {}
    for pkg in tomllib.loads((REPO / "uv.lock").read_text())["package"]:
        markers = pkg.get("resolution-markers")
        if markers and not any(Marker(m).evaluate(env) for m in markers):
            continue
        out[pkg["name"].lower().replace("_", "-")] = Version(pkg["version"])
    return out
