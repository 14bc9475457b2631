"""The package's layers import only downwards: envs (0) <- perception (1) <- agents (2) <- benchmarks (3).

A lower layer that imports a higher one drags the higher one's dependencies (torch, SB3, rl_zoo3) and import time
into every user of the lower one, and makes the two impossible to change apart. Every import statement of every
module counts — at module level, inside functions, under ``if TYPE_CHECKING`` or ``try`` — and so does a call such
as ``importlib.import_module("facebox.x")`` with a literal name, because each is a dependency all the same.

``facebox`` (``src/facebox/__init__.py``), ``facebox.config`` and ``facebox.runs`` are package-level helpers that
every layer may import; they themselves may import only each other and ``facebox.envs.registration`` (the package's
``__init__`` registers the environments). Being importable from the envs layer, they obey its third-party rules too.
Third-party rules: ``facebox.envs`` works without the ``agents`` extra (no torch, torchvision, stable_baselines3,
rl_zoo3), and ``facebox.perception`` is backbones without RL (no stable_baselines3, rl_zoo3).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Source folder -> the package it is installed as (pyproject.toml's [tool.setuptools.package-dir]).
PACKAGE_DIRS = {
    "envs": "facebox.envs",
    "perception": "facebox.perception",
    "agents": "facebox.agents",
    "benchmarks": "facebox.benchmarks",
    "src/facebox": "facebox",
}
LAYERS = {"facebox.envs": 0, "facebox.perception": 1, "facebox.agents": 2, "facebox.benchmarks": 3}
HELPERS = frozenset({"facebox", "facebox.config", "facebox.interrupts", "facebox.runs"})
HELPERS_MAY_IMPORT = HELPERS | {"facebox.envs.registration"}
_ENVS_FORBIDDEN = frozenset({"torch", "torchvision", "stable_baselines3", "rl_zoo3"})
FORBIDDEN = {  # layer -> third-party top-level packages it must not import
    "facebox.envs": _ENVS_FORBIDDEN,
    "facebox.perception": frozenset({"stable_baselines3", "rl_zoo3"}),
    "helpers": _ENVS_FORBIDDEN,
}
_DYNAMIC = frozenset({"import_module", "__import__"})


def module_name(path: Path) -> str:
    """``envs/data/video/otb.py`` -> ``facebox.envs.data.video.otb``; a package's ``__init__.py`` is the package."""
    rel = path.relative_to(ROOT)
    for folder, package in PACKAGE_DIRS.items():
        base = ROOT / folder
        if path.is_relative_to(base):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            return ".".join([package, *parts])
    raise ValueError(f"{rel} is in no package folder of {sorted(PACKAGE_DIRS)}")


def source_files() -> list[Path]:
    return sorted(p for folder in PACKAGE_DIRS for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


KNOWN_MODULES = frozenset(module_name(p) for p in source_files())


def _layer_of(name: str) -> str | None:
    """``"helpers"``, the layer package that ``name`` is in, or None (not a facebox module we know)."""
    if name in HELPERS:
        return "helpers"
    return next((layer for layer in LAYERS if name == layer or name.startswith(layer + ".")), None)


def _package_of(module: str, is_package: bool) -> str:
    return module if is_package else module.rpartition(".")[0]


def imported_names(tree: ast.AST, module: str, is_package: bool, known: frozenset[str]) -> list[tuple[int, str]]:
    """``(line, absolute module name)`` of every import in ``tree``, relative ones resolved against ``module``.

    ``from X import a`` counts as importing ``X.a`` when that is a module (``from facebox import benchmarks``
    imports the benchmarks package), else as importing ``X``.
    """
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package_of(module, is_package)
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                source = ".".join(part for part in (base, node.module) if part)
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                out.append((node.lineno, sub if sub in known else source))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in _DYNAMIC and isinstance(node.args[0].value, str) and not node.args[0].value.startswith("."):
                out.append((node.lineno, node.args[0].value))
    return sorted(set(out))


def violations(
    source: str, path: str, module: str, is_package: bool = False, known: frozenset[str] = KNOWN_MODULES
) -> list[str]:
    """Every import of ``source`` (the text of ``module``, shown as ``path``) that breaks the layering, as
    ``path:line: <module> imports <name>`` plus the rule it breaks.
    """
    own = _layer_of(module)
    if own is None:
        raise ValueError(f"{path}: module {module} is in no layer and is not a package-level helper")
    found = []
    for line, name in imported_names(ast.parse(source, filename=path), module, is_package, known):
        top = name.partition(".")[0]
        where = f"{path}:{line}: {module} imports {name}"
        if top != "facebox":
            if top in FORBIDDEN.get(own, ()):
                found.append(f"{where} (forbidden in {own}: {', '.join(sorted(FORBIDDEN[own]))})")
            continue
        target = _layer_of(name)
        if target is None:
            found.append(f"{where} (not a facebox module in any layer: give it a layer)")
        elif own == "helpers":
            if name not in HELPERS_MAY_IMPORT:
                found.append(f"{where} (helpers may import only {', '.join(sorted(HELPERS_MAY_IMPORT))})")
        elif target != "helpers" and LAYERS[target] > LAYERS[own]:
            found.append(f"{where} (upward: layer {LAYERS[own]} {own} -> layer {LAYERS[target]} {target})")
    return found


FILES = source_files()


def test_package_dirs_match_pyproject():
    tomllib = pytest.importorskip("tomllib")
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    assert {package: folder for folder, package in PACKAGE_DIRS.items()}.items() <= mapping.items()


def test_every_layer_has_modules():
    layers = {_layer_of(module_name(p)) for p in FILES}
    assert layers == {"helpers", *LAYERS}, layers
    assert {"facebox", "facebox.config", "facebox.runs"} <= KNOWN_MODULES


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_imports_only_downwards(path: Path):
    found = violations(
        path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)), module_name(path), path.name == "__init__.py"
    )
    assert not found, "imports against the layering:\n" + "\n".join(found)


def test_checker_finds_an_upward_import_inside_a_function_and_a_relative_one():
    source = (
        "from __future__ import annotations\n"
        "import numpy as np\n"
        "from typing import TYPE_CHECKING\n"
        "from .boxes import iou\n"  # sideways: fine
        "if TYPE_CHECKING:\n"
        "    import torch\n"  # forbidden in envs, even for type checking only
        "\n"
        "def helper():\n"
        "    from facebox.agents.models import Something\n"  # upward, hidden in a function
        "    from .. import benchmarks\n"  # upward, relative
        "    return Something\n"
    )
    known = KNOWN_MODULES | {"facebox.agents.models", "facebox.envs.boxes"}
    found = violations(source, "envs/fake.py", "facebox.envs.fake", known=known)
    assert [f.split(" (")[0] for f in found] == [
        "envs/fake.py:6: facebox.envs.fake imports torch",
        "envs/fake.py:9: facebox.envs.fake imports facebox.agents.models",
        "envs/fake.py:10: facebox.envs.fake imports facebox.benchmarks",
    ]
    assert "upward: layer 0 facebox.envs -> layer 2 facebox.agents" in found[1]


def test_checker_keeps_the_helpers_to_each_other_and_the_registration():
    source = "import facebox.envs.registration\nfrom facebox import runs\nfrom facebox.envs.boxes import iou\n"
    found = violations(source, "src/facebox/config.py", "facebox.config")
    assert [f.split(" (")[0] for f in found] == ["src/facebox/config.py:3: facebox.config imports facebox.envs.boxes"]
