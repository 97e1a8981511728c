"""A wheel built from the repository, installed non-editable into a fresh virtualenv, runs
`flytt build`: the dbt project travels inside the package (`flytt/dbt_project`), and nothing in
the product reaches for the checkout.

The fresh virtualenv gets the wheel itself with pip (`--no-deps`) and finds the third-party
dependencies through a `.pth` line naming this virtualenv's site-packages: installing them again
from the index would take minutes. A `.pth` line only adds a path, so this virtualenv's editable
finders for flytt are not active there: `import flytt` is the wheel's copy (asserted).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import sqlalchemy as sa

from flytt.warehouse import Warehouse
from loaders.pipeline import run_load
from sandbox.a2.generate import generate_a2
from tests.conftest import cli_env, settings_for

ROOT = Path(__file__).resolve().parent.parent


def _build_wheel(folder: Path) -> Path:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
         str(folder), str(ROOT)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = folder.glob("flytt-*.whl")
    return wheel


def _fresh_venv(folder: Path, wheel: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "-q", str(wheel)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    (Path(site) / "flytt_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return folder


def test_the_wheel_carries_the_dbt_project_and_no_build_output(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path / "dist")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n.removeprefix("flytt/dbt_project/") for n in names if "/dbt_project/" in n}
    checkout = {
        str(p.relative_to(ROOT / "dbt_project"))
        for p in (ROOT / "dbt_project").rglob("*")
        if p.is_file()
        and p.suffix in {".sql", ".yml", ".csv", ".md"}
        and p.relative_to(ROOT / "dbt_project").parts[0] not in {"target", "logs", "dbt_packages"}
    }
    assert shipped == checkout
    assert not any(n.startswith(("sandbox/", "benchmarks/", "tests/")) for n in names)


def test_a_non_editable_install_runs_flytt_build(
    fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    settings = settings_for(fresh_warehouse, tmp_path / "state")
    generate_a2(settings, size=60, seed=31)
    run_load(settings, fresh_warehouse)
    venv = _fresh_venv(tmp_path / "venv", _build_wheel(tmp_path / "dist"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FLYTT_", "DBT_", "PG"))},
        **cli_env(fresh_warehouse, tmp_path / "state"),
        "HOME": str(tmp_path / "home"),
    }
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import flytt.dbt; print(flytt.dbt.PROJECT_DIR)"],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=True,
    ).stdout.strip()  # fmt: skip
    assert Path(where).is_relative_to(venv), where
    built = subprocess.run(
        [str(venv / "bin" / "flytt"), "build"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900, check=False,
    )  # fmt: skip
    assert built.returncode == 0, (built.stdout[-3000:], built.stderr[-3000:])
    with fresh_warehouse.engine.connect() as conn:
        mapped: int = conn.execute(sa.text("select count(*) from a3.correspondences")).scalar_one()
    assert mapped > 0
