"""The layout shows the flow: op names are spelled only in ``gradcheck/ops``, and no module
imports back up the stages ops -> adapters -> cases -> oracles -> judge -> run -> report."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from gradcheck.ops import SPECS

PACKAGE = Path(__file__).resolve().parent.parent / "gradcheck"

#: Folders exempt from the op-name rule, and why.
NAME_EXEMPT = {
    "ops": "the op table itself",
    "ledger": "the seed's equations transcribed as printed (their functions are the seed's, not the harness's ops)",
}
#: Single literals that spell an op's name for another reason.
NAME_ALLOWED = {("report/latex.py", "tanh"): "LaTeX's \\tanh operator"}

#: The stages in the order data flows through them; a module may import its own stage and
#: those before it. Modules at the top of the package (records, dtypes, tolerances, config,
#: argtypes) are shared vocabulary: any stage may import them, they import only each other and ops.
STAGES = ("ops", "adapters", "cases", "oracles", "judge", "run", "report", "ledger", "bench", "entry")
SHARED = {"records", "dtypes", "tolerances", "config", "argtypes"}
ENTRY = {"cli", "plugin", "api", "__init__", "__main__"}


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _docstring_nodes(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                out.add(id(body[0].value))
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            out.add(id(node.value))  # a bare string (an attribute's docstring)
    return out


def op_name_literals(path: Path) -> list[tuple[int, str]]:
    """``(line, name)`` for every string literal (docstrings aside) naming an op as a word."""
    tree = ast.parse(path.read_text())
    docs = _docstring_nodes(tree)
    names = set(SPECS)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", node.value):
                if word in names and (_rel(path), word) not in NAME_ALLOWED:
                    found.append((node.lineno, word))
    return found


def test_op_names_are_spelled_only_in_the_op_table():
    spelled = {f"{_rel(p)}:{line}": name for p in _modules() if _rel(p).split("/")[0] not in NAME_EXEMPT
               for line, name in op_name_literals(p)}
    assert spelled == {}


def test_the_name_check_finds_a_name():
    """The check above is not vacuous: it sees a name where one is spelled."""
    conv = PACKAGE / "ops" / "conv.py"
    assert any(name == "conv2d" for _, name in op_name_literals(conv))


def _stage(module: str) -> str | None:
    """The stage of a dotted ``gradcheck.*`` module, ``"shared"``, or ``None``."""
    parts = module.split(".")
    if parts[0] != "gradcheck":
        return None
    if len(parts) == 1:
        return "entry"
    head = parts[1]
    if head in SHARED:
        return "shared"
    if head in ENTRY:
        return "entry"
    return head if head in STAGES else "entry"


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):  # lazy imports inside functions count as much as top-level ones
        if isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{_rel(path)}:{node.lineno}: relative import"
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
    return out


def upward_imports() -> list[str]:
    bad = []
    for path in _modules():
        rel = _rel(path)
        here = _stage("gradcheck." + rel[:-3].replace("/", ".").removesuffix(".__init__"))
        for line, module in _imports(path):
            there = _stage(module)
            if there is None or there == here:
                continue
            if here == "shared":
                ok = there in ("shared", "ops")
            elif there == "shared":
                ok = True
            else:
                ok = STAGES.index(there) <= STAGES.index(here)
            if not ok:
                bad.append(f"{rel}:{line} ({here}) imports {module} ({there})")
    return bad


def test_no_module_imports_back_up_the_flow():
    assert upward_imports() == []


@pytest.mark.parametrize("path", _modules(), ids=_rel)
def test_modules_stay_small_or_say_why(path: Path):
    """No module over ~300 lines without a reason stated in its docstring ("Long because ...")."""
    text = path.read_text()
    lines = text.count("\n")
    doc = ast.get_docstring(ast.parse(text)) or ""
    assert lines <= 320 or "Long because" in doc, f"{_rel(path)} has {lines} lines and its docstring says not why"
