"""The layer contract holds: `lint-imports` (pyproject's [tool.importlinter]) is kept."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]


def lint_imports(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("lint-imports is not installed (pip install -e '.[dev]')")
    return subprocess.run(
        [exe, *args], cwd=BASE_DIR, capture_output=True, text=True, timeout=120, check=False
    )


def test_layers_are_kept():
    """Input: the whole project's import graph, lazy imports included."""
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    """Input: the same contract with `config` placed above `accounts`: config.urls imports
    accounts.views (ignored in the real contract), so the reversed order must break."""
    config = (BASE_DIR / "pyproject.toml").read_text()
    reversed_layers = config.replace('"audit", "outbox", "config"]', '"audit", "outbox"]')
    reversed_layers = reversed_layers.replace(
        'layers = ["compliance",', 'layers = ["config", "compliance",'
    )
    assert reversed_layers != config
    broken = tmp_path / "pyproject.toml"
    broken.write_text(reversed_layers)
    result = lint_imports("--config", str(broken))
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
