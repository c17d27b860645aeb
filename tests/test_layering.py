"""The package reads as the pipeline: a stage imports only the stages before it, files stay small.

Walks every module of `explorer/` with `ast` (imports inside functions count too, relative ones resolved)
and fails on a back edge: synth < data < models < evaluate < match < app. `explorer.cli` belongs to no
stage and may import none.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "explorer"
STAGES = ("synth", "data", "models", "evaluate", "match", "app")
MAX_LINES = 300
LINE_EXCEPTIONS: dict[str, int] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, at any depth."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((node.lineno, mod))
            # `from explorer import data` / `from explorer.evaluate import metrics` name submodules
            out += [(node.lineno, f"{mod}.{a.name}") for a in node.names if a.name != "*"]
    return out


def stage_of(module: str) -> int | None:
    """Index of the stage `module` belongs to; -1 for `explorer.cli` and `explorer` itself; None outside."""
    parts = module.split(".")
    if parts[0] != "explorer":
        return None
    if len(parts) == 1 or parts[1] == "cli":
        return -1
    return STAGES.index(parts[1]) if parts[1] in STAGES else None


def python_files() -> list[Path]:
    return sorted(PKG.rglob("*.py"))


def test_every_module_belongs_to_a_stage():
    strays = [str(p.relative_to(ROOT)) for p in python_files() if stage_of(module_name(p)) is None]
    assert not strays, f"modules outside the stage packages: {strays}"


def test_no_back_edges():
    errors = []
    for path in python_files():
        mine = stage_of(module_name(path))
        for line, mod in imported_modules(path):
            theirs = stage_of(mod)
            if theirs is None or (theirs == -1 and mod != "explorer.cli" and not mod.startswith("explorer.cli.")):
                continue  # third-party, or the bare `explorer` package
            if mine == -1 and theirs >= 0:
                errors.append(f"{path.relative_to(ROOT)}:{line} imports {mod}: explorer.cli imports no stage")
            elif mine >= 0 and theirs > mine:
                allowed = ", ".join(STAGES[:mine]) or "no other stage"
                errors.append(f"{path.relative_to(ROOT)}:{line} imports {mod}: stage {STAGES[mine]} may import "
                              f"{allowed}")
    assert not errors, "back edges:\n" + "\n".join(errors)


def test_the_walker_sees_lazy_and_relative_imports():
    src = PKG / "models" / "checkpoint.py"
    mods = {m for _, m in imported_modules(src)}
    assert "explorer.models" in mods
    found = {m for _, m in imported_modules(PKG / "app" / "engine.py")}
    assert "explorer.models.checkpoint" in found  # imported inside a method


def test_files_stay_small():
    big = {}
    for path in python_files():
        rel = str(path.relative_to(ROOT))
        n = len(path.read_text().splitlines())
        if n > LINE_EXCEPTIONS.get(rel, MAX_LINES):
            big[rel] = n
    assert not big, f"over {MAX_LINES} lines: {big}"
    assert len((ROOT / "app.py").read_text().splitlines()) < 100
