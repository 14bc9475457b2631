"""The install layout (root folders mapped into ``facebox.*``) and registration on import."""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import gymnasium as gym
import tomllib

import facebox

ROOT = Path(__file__).resolve().parents[1]


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _package_dirs() -> tuple[dict[str, Path], list[str]]:
    config = _setuptools()
    return {name: ROOT / folder for name, folder in config["package-dir"].items()}, config["packages"]


def test_every_subpackage_folder_is_listed():
    mapping, listed = _package_dirs()
    expected = set()
    for name, folder in mapping.items():
        for init in folder.rglob("*.py"):
            if "__pycache__" in init.parts:
                continue
            rel = init.parent.relative_to(folder)
            expected.add(".".join([name, *rel.parts]))
    missing = expected - set(listed)
    assert not missing, f"folders with Python modules missing from [tool.setuptools] packages: {sorted(missing)}"
    assert {"facebox.envs", "facebox.agents", "facebox.perception", "facebox.benchmarks"} <= set(listed)
    for name in listed:
        parent = max((p for p in mapping if name == p or name.startswith(p + ".")), key=len)
        folder = mapping[parent].joinpath(*name[len(parent) :].strip(".").split(".") if name != parent else [])
        data_only = name in _setuptools().get("package-data", {})
        assert data_only or (folder / "__init__.py").is_file(), f"{name} is listed but {folder}/__init__.py is missing"


def test_wheel_holds_every_module_and_the_hyperparameters(tmp_path):
    """A non-editable install gets the mapped folders and the YAML files ``facebox.agents.train`` reads."""
    source = tmp_path / "source"  # built from a copy: setuptools writes build/ and *.egg-info/ beside the sources
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".*", "build", "runs", "results", "*.egg-info"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(source),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("facebox-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    mapping, _ = _package_dirs()
    for package, folder in mapping.items():
        prefix = package.replace(".", "/")
        for path in folder.rglob("*"):
            if path.suffix in (".py", ".yml") and "__pycache__" not in path.parts:
                assert f"{prefix}/{path.relative_to(folder).as_posix()}" in names, f"{path} is not in {wheel.name}"
    assert {"facebox/hyperparams/dqn.yml", "facebox/hyperparams/ppo.yml"} <= names


def test_no_top_level_envs_or_agents_module_installed():
    mapping, listed = _package_dirs()
    assert all(name == "facebox" or name.startswith("facebox.") for name in [*listed, *mapping])


def _printed_by(code: str) -> str:
    """What ``code`` prints in a fresh interpreter: imports and registration as a user's script sees them."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_gym_make_in_a_fresh_process_without_prior_import():
    code = (
        "import gymnasium as gym\n"
        "env = gym.make('facebox:facebox/FaceLocalization-v0')\n"
        "obs, info = env.reset(seed=0)\n"
        "print(sorted(obs))\n"
    )
    assert _printed_by(code) == "['glimpse', 'history']"


def test_envs_never_import_torch():
    code = (
        "import sys, facebox, facebox.envs.localization, facebox.envs.policies, facebox.envs.data\n"
        "import gymnasium as gym\n"
        "for env_id in [e for e in gym.registry if e.startswith('facebox/')]:\n"
        "    gym.make(env_id).reset(seed=0)\n"
        "print([m for m in sys.modules if m == 'torch' or m.startswith('torch.')])\n"
    )
    assert _printed_by(code) == "[]"


def test_registration_is_idempotent():
    before = {k: v for k, v in gym.registry.items() if k.startswith("facebox/")}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        facebox.register_envs()
    assert {k: v for k, v in gym.registry.items() if k.startswith("facebox/")} == before
