"""Real clients nobody here wrote, installed from the registry as a user installs them (issue 19, items 4 and 5).

One venv, one install command: this package with async-kinesis, aws-kinesis-agg and pytest-asyncio
(``pip install -c constraints-clients.txt <repo>[clients]``, the versions that resolved together), kept in the
user's cache while those stay the same (this package is reinstalled into it each run). In it:

- docs/client-examples, copied to a separate folder as another repo would hold it: an asyncio producer and
  consumer (1,500 records; a consumer across a 1 -> 2 split) through ``kinesis_endpoint``, KPL-aggregated records
  through Firehose to S3, a Node producer on the AWS SDK for JavaScript;
- the KPL format, ours against aws-kinesis-agg (tests/unit/test_kpl.py, none skipped);
- docs/examples with async-kinesis's own pytest plugin installed: stopped at start by the one-line clash
  message, never a ScopeMismatch or a foreign fixture; with ``-p no:kinesis``, every example passes.

The project's own venv does not hold async-kinesis: its aiobotocore pins an older botocore than constraints.txt's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CLIENT_EXAMPLES = REPO / "docs" / "client-examples"
EXAMPLES = REPO / "docs" / "examples"
CLASH = ("ERROR: pytest-kinesis-limits: the plugin 'kinesis' (async-kinesis *) defines the fixtures kinesis_backend, "
         "kinesis_stream, which would silently replace pytest-kinesis-limits' own. Fix: -p no:kinesis *")


def _run(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AWS_"))}
    env["AWS_EC2_METADATA_DISABLED"] = "true"  # never a credential lookup off this machine
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _copy_sources(source: Path) -> None:
    """The package's sources, copied (setuptools builds in the tree: never in the checkout under test)."""
    for part in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / part, source / part)
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))


def _one_install(venv: Path, source: Path) -> None:
    """The user's one command, from the constraints that resolved together; pip reports no conflict."""
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=120)
    # --no-compile: byte-compiling moto's thousands of files is a fifth of the install, and Python compiles what
    # it imports anyway.
    pip = _run([str(venv / "bin" / "pip"), "install", "-q", "--no-compile", "-c",
                str(REPO / "constraints-clients.txt"), f"{source}[clients]"], cwd=source)
    assert pip.returncode == 0, f"the one install command failed:\n{pip.stdout[-3000:]}\n{pip.stderr[-3000:]}"
    assert "conflict" not in pip.stderr.lower() and "incompatible" not in pip.stderr.lower(), pip.stderr[-3000:]


def _clients_venv(source: Path) -> Iterator[Path]:
    """The clients' venv, kept between runs under the user's cache for as long as what it resolves from is the same
    (constraints-clients.txt and the package's dependencies): the one install command runs whenever they change (a
    conflict can only come from them), and otherwise only this package is reinstalled into it (seconds instead of
    30). Locked while in use: two runs at once take turns. Building a new one prunes the older ones
    (:func:`_prune_clients_venvs`)."""
    import fcntl
    import hashlib

    key = hashlib.sha256((REPO / "constraints-clients.txt").read_bytes() + (REPO / "pyproject.toml").read_bytes()
                         + sys.version.encode()).hexdigest()[:16]
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pytest-kinesis-limits"
    root.mkdir(parents=True, exist_ok=True)
    venv = root / f"clients-venv-{key}"
    with open(root / "clients-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / "resolved").exists():
            _prune_clients_venvs(root, keep=venv)
            _one_install(venv, source)
            (venv / "resolved").write_text("the one install command passed with these constraints\n")
        else:
            (venv / "resolved").touch()  # used now: the newest of the others is the one pruning keeps
            pip = _run([str(venv / "bin" / "pip"), "install", "-q", "--no-compile", "--no-deps", "--force-reinstall",
                        str(source)], cwd=source)
            assert pip.returncode == 0, pip.stderr[-3000:]
        check = _run([str(venv / "bin" / "pip"), "check"], cwd=REPO)
        assert check.returncode == 0, check.stdout
        yield venv


#: Clients' venvs kept in the user's cache besides the one being built (250-350 MB each): a new one is built whenever
#: pyproject.toml or constraints-clients.txt changes, and without pruning a developer's cache held one per change
#: (four, 1.1 GB, on 2026-12-07). One other is kept so that two checkouts used in turn do not rebuild every time.
OTHER_CLIENTS_VENVS_KEPT = 1


def _prune_clients_venvs(root: Path, keep: Path) -> list[Path]:
    """Delete the clients' venvs under ``root`` but ``keep`` and the most recently used others; called with the lock
    held, so no run is using one. Returns what was deleted."""
    others = sorted((path for path in root.glob("clients-venv-*") if path.is_dir() and path != keep),
                    key=lambda path: (path / "resolved").stat().st_mtime if (path / "resolved").exists() else 0.0,
                    reverse=True)
    doomed = others[OTHER_CLIENTS_VENVS_KEPT:]
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    return doomed


def test_an_outdated_clients_venv_is_pruned_and_the_last_used_other_kept(tmp_path: Path) -> None:
    """The cache keeps the venv being built and the most recently used other; older ones (or half-built ones, never
    marked resolved) go."""
    ages = {"old": 300.0, "recent": 10.0, "older": 600.0}
    for name, age in ages.items():
        venv = tmp_path / f"clients-venv-{name}"
        (venv / "bin").mkdir(parents=True)
        (venv / "resolved").write_text("")
        os.utime(venv / "resolved", (1_000_000 - age, 1_000_000 - age))
    (tmp_path / "clients-venv-half-built" / "bin").mkdir(parents=True)
    (tmp_path / "clients-venv.lock").write_text("")
    (tmp_path / "emulators").mkdir()
    current = tmp_path / "clients-venv-current"

    deleted = _prune_clients_venvs(tmp_path, keep=current)

    assert sorted(path.name for path in deleted) == [
        "clients-venv-half-built", "clients-venv-old", "clients-venv-older"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["clients-venv-recent", "clients-venv.lock", "emulators"]


def test_real_clients_installed_beside_the_plugin(tmp_path: Path) -> None:
    """One test (one venv), so that xdist never builds it twice."""
    (tmp_path / "package").mkdir()
    _copy_sources(tmp_path / "package")
    for venv in _clients_venv(tmp_path / "package"):
        _check_the_clients(venv, tmp_path)


def _check_the_clients(venv: Path, tmp_path: Path) -> None:
    pytest_bin = str(venv / "bin" / "pytest")

    # 1. The client examples, from a separate repo.
    repo = tmp_path / "their-repo"
    shutil.copytree(CLIENT_EXAMPLES, repo)
    result = _run([pytest_bin, "-p", "no:cacheprovider", "-q", "-rs"], cwd=repo)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-2000:]
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    node = shutil.which("node") and shutil.which("npm")
    assert summary.startswith("4 passed" if node else "3 passed, 1 skipped"), summary

    # 2. The KPL format, ours against aws-kinesis-agg: nothing skipped here.
    kpl = _run([pytest_bin, "-p", "no:cacheprovider", "-p", "no:kinesis", "-q", "-o", "addopts=",
                str(REPO / "tests" / "unit" / "test_kpl.py")], cwd=REPO)
    assert kpl.returncode == 0, kpl.stdout[-4000:]
    assert "skipped" not in kpl.stdout.strip().splitlines()[-1], kpl.stdout[-2000:]

    # 3. docs/examples with async-kinesis's plugin on: one line at start; with it off, every example passes.
    examples = tmp_path / "examples"
    shutil.copytree(EXAMPLES, examples)
    clash = _run([pytest_bin, "-p", "no:cacheprovider", "-q"], cwd=examples)
    assert clash.returncode == pytest.ExitCode.USAGE_ERROR, clash.stdout[-3000:] + clash.stderr[-3000:]
    pytest.LineMatcher(clash.stderr.splitlines()).fnmatch_lines([CLASH])
    assert "ScopeMismatch" not in clash.stdout + clash.stderr
    passing = _run([pytest_bin, "-p", "no:cacheprovider", "-q", "-p", "no:kinesis"], cwd=examples)
    assert passing.returncode == 0, passing.stdout[-4000:]
    assert "ScopeMismatch" not in passing.stdout
