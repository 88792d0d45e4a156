"""The install stays fast and complete: uv builds the project itself, and the wheel holds all of ``bot/``.

``make run`` installs the project with ``uv pip install -e .``; uv builds it in-process, in milliseconds,
only while pyproject.toml's ``uv_build`` range admits the locked uv (else it falls back to a build
environment that fetches ``uv_build``, as pip does). See ``bench/fresh_clone.py`` for the timing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _locked_uv() -> str:
    found = re.findall(r"^uv==(\S+)", (ROOT / "requirements/uv.txt").read_text(), flags=re.MULTILINE)
    assert len(found) == 1, "requirements/uv.txt pins no uv (or several)"
    return found[0]


def test_the_build_backend_is_the_locked_uvs_own() -> None:
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    [requirement] = [Requirement(r) for r in build["requires"]]
    assert build["build-backend"] == "uv_build"
    assert canonicalize_name(requirement.name) == "uv-build"
    # After `make lock-upgrade` moves uv on, move this range with it (same minor release).
    assert requirement.specifier.contains(_locked_uv()), (
        f"uv {_locked_uv()} is outside {requirement}: uv would build the project in a build environment")


def test_the_wheel_holds_every_file_of_the_package(tmp_path: Path) -> None:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.fail("uv not found beside this Python or on PATH: `make install-dev` links it into .venv/bin",
                    pytrace=False)
    # --offline: the in-process build needs nothing from a registry.
    subprocess.run([uv, "build", "--quiet", "--offline", "--wheel", "--out-dir", str(tmp_path), str(ROOT)],
                   check=True, timeout=60)
    [wheel] = tmp_path.glob("clue_bot-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packed = {name for name in archive.namelist() if name.startswith("bot/") and not name.endswith("/")}
    on_disk = {p.relative_to(ROOT).as_posix() for p in (ROOT / "bot").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert "bot/dev/playground/static/index.html" in on_disk
    assert packed == on_disk
