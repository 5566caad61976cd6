"""The fresh-machine story: the Makefile installs torch from TORCH_INDEX_URL when given, and README says why."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def dry_run(*args: str) -> str:
    """What `make -n -B ...` would run (nothing is run or installed)."""
    done = subprocess.run(["make", "-n", "-B", *args], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_the_makefile_takes_torch_from_torch_index_url_only_when_set() -> None:
    pin = re.search(r'"(torch==[^"]+)"', (REPO / "pyproject.toml").read_text()).group(1)
    chosen = dry_run("install", f"TORCH_INDEX_URL={CPU_INDEX}").splitlines()
    torch_line = next(line for line in chosen if "--index-url" in line)
    assert torch_line.endswith(f"install --quiet --disable-pip-version-check --index-url {CPU_INDEX} '{pin}'")
    assert chosen.index(torch_line) < next(i for i, line in enumerate(chosen) if "-e '.[test]'" in line)
    assert "--index-url" not in dry_run("install")  # default: everything from PyPI, as before
    assert "-m bot browse" in dry_run("browse")


def test_readme_says_what_a_fresh_linux_machine_downloads_and_how_to_choose_cpu() -> None:
    readme = (REPO / "README.md").read_text()
    assert "CUDA build" in readme and "nvidia-*" in readme
    assert f"make run TORCH_INDEX_URL={CPU_INDEX}" in readme
    assert "make run    #" in readme and "make test   #" in readme  # still the two commands
