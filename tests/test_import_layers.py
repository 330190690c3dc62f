"""Imports run one way: each package imports only its own modules and packages of lower
layers. A new package gets a layer here; an import that runs upward is a failure that names
the module, the line and what it imported."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. Same layer: no imports between them either.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"body", "kernels", "language", "calibration", "education"}),
    frozenset({"exercises", "vision", "device_bridge", "speech", "storage"}),
    frozenset({"session", "access"}),
    frozenset({"recording", "assessment"}),
    frozenset({"clinic"}),  # programmes, visits, pain and progression
    frozenset({"feedback"}),  # the station screens
    frozenset({"dashboard"}),  # the therapist browser
    frozenset({"app"}),
    frozenset({"devtools"}),  # previews, demo data, soak drivers: for development only
    frozenset({"bench"}),
    frozenset({"main", "tests"}),
)
LAYER = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}


def _packages() -> set[str]:
    found = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    return found | {"main", "bench", "tests"}


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Lines under ``if TYPE_CHECKING:``: annotations only, never imported at run time."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for sub in node.body:
                lines.update(range(sub.lineno, (sub.end_lineno or sub.lineno) + 1))
    return lines


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    out = []
    for node in ast.walk(tree):
        if node.lineno in skip if hasattr(node, "lineno") else False:
            continue
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
    return out


def _owner(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def test_every_package_has_a_layer():
    missing = sorted(p for p in _packages() if p not in LAYER)
    assert not missing, f"packages without a layer in {Path(__file__).name}: {missing}"


def test_imports_run_downward():
    packages = _packages()
    wrong = []
    files = [*ROOT.glob("*/**/*.py"), ROOT / "main.py"]
    for path in files:
        if ".venv" in path.parts or "build" in path.parts[:1]:
            continue
        owner = _owner(path)
        if owner not in LAYER:
            continue
        for line, module in _imports(path):
            target = module.split(".")[0]
            if target == owner or target not in packages:
                continue
            if LAYER.get(target, len(LAYERS)) >= LAYER[owner]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not wrong, "imports that run upward or sideways:\n" + "\n".join(wrong)
