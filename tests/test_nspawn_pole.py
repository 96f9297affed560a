"""A Debian bookworm pole under a real systemd (helpers for tests/test_nspawn.py; no tests here).

debootstrap, deploy/install.sh, systemd-nspawn --boot. The Debian root (Debian's own packages
only) and the dependency wheels are cached between runs in $EDGE_AGENT_TEST_CACHE (default
/var/cache/edge-agent-tests), keyed by what they are made from; the edge-agent wheel is built from
the checkout every run.
The container shares the host's network, so the agent reaches the test's mosquitto on 127.0.0.1.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("EDGE_AGENT_TEST_CACHE", "/var/cache/edge-agent-tests"))
RELEASE = "bookworm"
PACKAGES = "systemd,systemd-sysv,python3,python3-venv"
MIRROR = os.environ.get("EDGE_AGENT_TEST_MIRROR", "http://deb.debian.org/debian")
DEBIAN_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}
# Commands inside get a clean environment, not this process's (a venv's PATH, pip settings).
CLEAN_ENV = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8")


def skip_unless_possible() -> None:
    """Skip with the reason when a real-systemd container cannot be made here."""
    if os.geteuid() != 0:
        pytest.skip("needs root (debootstrap, systemd-nspawn); CI runs as root")
    for tool, package in (("systemd-nspawn", "systemd-container"), ("debootstrap", "debootstrap")):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            pytest.skip(f"{tool} is not installed (scripts/test.sh installs it: apt install {package})")
    if shutil.which("nsenter") is None:
        pytest.skip("nsenter is not installed (apt install util-linux)")
    if platform.machine() not in DEBIAN_ARCH:
        pytest.skip(f"no Debian root for this CPU ({platform.machine()})")


def _key(*parts: str | Path) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.read_bytes() if isinstance(part, Path) else part.encode())
    return h.hexdigest()[:12]


@contextmanager
def _locked(name: str) -> Iterator[None]:
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def debian_root() -> Path:
    """The cached Debian root (≈ 90 s to make, 300 MB): systemd and python3, no udev."""
    arch = DEBIAN_ARCH[platform.machine()]
    path = CACHE / f"root-{RELEASE}-{arch}-{_key(RELEASE, arch, PACKAGES)}"
    with _locked(path.name):
        if not (path / "usr" / "bin" / "python3").exists():
            partial = path.with_name(path.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            subprocess.run(
                [
                    *("debootstrap", "--variant=minbase", f"--include={PACKAGES}", f"--arch={arch}"),
                    *(RELEASE, str(partial), MIRROR),
                ],
                check=True,
                capture_output=True,
                timeout=900,
            )
            partial.rename(path)
            prune(path)
    return path


def prune(current: Path) -> None:
    """Remove what older keys left in the cache (a root is 300 MB)."""
    prefix = current.name.rsplit("-", 1)[0] + "-"
    for old in CACHE.glob(prefix + "*"):
        if old != current and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


def wheelhouse(out: Path) -> Path:
    """edge-agent's wheel from this checkout, plus its dependencies (cached), for the root's Python."""
    out.mkdir(parents=True, exist_ok=True)
    built = out.parent / "edge-agent-wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", str(built), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(built.glob("edge_agent-*.whl"))
    script, pins = REPO / "scripts" / "wheelhouse.sh", REPO / "deploy" / "requirements-pole.txt"
    deps = CACHE / f"wheels-{RELEASE}-{platform.machine()}-{_key(REPO / 'pyproject.toml', pins, script)}"
    with _locked(deps.name):
        if not (deps / ".complete").exists():
            subprocess.run(
                [
                    *("bash", str(script), "--release", RELEASE, "--arch", platform.machine()),
                    *("--wheel", str(wheel), "--out", str(deps)),
                ],
                check=True,
                capture_output=True,
                env={**os.environ, "PYTHON": sys.executable},
                timeout=600,
            )
            (deps / ".complete").touch()
            prune(deps)
    for dep in deps.glob("*.whl"):
        if not dep.name.startswith("edge_agent-"):
            shutil.copy2(dep, out)
    shutil.copy2(wheel, out)
    return out


def copy_checkout(dest: Path) -> None:
    """The checkout's files (as git sees them, uncommitted ones included)."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        src = REPO / os.fsdecode(name)
        if src.is_file():
            (dest / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / os.fsdecode(name))


class Container:
    """A booted systemd-nspawn container; commands run inside it through nsenter."""

    def __init__(self, root: Path, log: Path) -> None:
        self.root = root
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    *("systemd-nspawn", "--boot", "--register=no", "--keep-unit", "--console=passive"),
                    *("--machine=edge-agent-test", "-D", str(root)),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.leader = 0
        if not self.wait(self._booted, 120):
            raise RuntimeError(f"the container did not boot: {log.read_text(errors='replace')[-2000:]}")

    def _booted(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"systemd-nspawn exited: {self.log.read_text(errors='replace')[-2000:]}")
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        pids = children.read_text().split() if children.exists() else []
        if not pids:
            return False
        self.leader = int(pids[0])
        state = self.run("systemctl", "is-system-running", check=False).stdout.strip()
        return state in ("running", "degraded")

    def run(self, *cmd: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["nsenter", "-t", str(self.leader), "-a", "--", "env", "-i", *CLEAN_ENV, *cmd],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stdout}{proc.stderr}")
        return proc

    def show(self, unit: str, *props: str) -> dict[str, str]:
        out = self.run("systemctl", "show", unit, *(f"--property={p}" for p in props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, unit: str) -> str:
        return self.run("journalctl", "--no-pager", "-q", "-o", "cat", "-u", unit).stdout

    @staticmethod
    def wait(predicate: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.5)
        return False

    def poweroff(self) -> None:
        if self.proc.poll() is None:
            self.run("systemctl", "poweroff", check=False)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.terminate()  # nspawn shuts the container down on SIGTERM
                try:
                    self.proc.wait(30)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(10)
