"""Rules that keep the architecture honest, checked on the source itself.

1. The pure core (`hpn_router/core/`) does no I/O of its own: no module it imports, directly or
   through the package's own modules, is mitmproxy, aiohttp or loguru. Time, keys and bodies are
   passed in, so the core is tested without sockets, clocks or a proxy. The config
   (`hpn_router/config/`) is held to the same rule: it reads a file and the environment, nothing
   more.
2. Every module of the package has a test file of its own, found by one mapping rule (see
   `expected_test_file`), so a new module cannot land untested.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "addons"  # the folder that holds the package hpn_router
PACKAGE = SOURCES / "hpn_router"
TESTS = ROOT / "tests"

FORBIDDEN_IN_CORE = ("mitmproxy", "aiohttp", "loguru")


@dataclass(frozen=True)
class Import:
    module: str  # dotted name, absolute
    file: Path  # the module that imports it
    line: int


def module_name(path: Path, sources: Path) -> str:
    parts = path.relative_to(sources).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_file(name: str, sources: Path) -> Path | None:
    """The package's own file for a dotted name, or None (a third-party or stdlib module)."""
    base = sources.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@cache  # each module is parsed once, however many core modules reach it
def imports_of(path: Path, sources: Path) -> tuple[Import, ...]:
    """Every import in a module, anywhere in it (functions and `if TYPE_CHECKING:` blocks too),
    relative ones made absolute. `from a import b` also yields `a.b` when the package has a
    module of that name."""
    own = module_name(path, sources)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [Import(alias.name, path, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.append(Import(base, path, node.lineno))
            found += [Import(f"{base}.{a.name}", path, node.lineno) for a in node.names if module_file(f"{base}.{a.name}", sources)]
    return tuple(found)


def with_parents(name: str) -> list[str]:
    """Importing a.b.c runs a/__init__.py and a/b/__init__.py first."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def forbidden_imports(start: Path, sources: Path, forbidden: tuple[str, ...] = FORBIDDEN_IN_CORE) -> list[str]:
    """Each forbidden import reachable from `start` through the package's own modules (never
    into third-party ones), as 'file:line imports module (via a -> b)'."""
    seen: set[Path] = set()
    name = module_name(start, sources)
    queue: list[tuple[Path, list[str]]] = [(start, [name])]
    queue += [(own, [name, parent]) for parent in with_parents(name)[:-1] if (own := module_file(parent, sources))]
    problems: set[str] = set()
    while queue:
        path, chain = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        for imp in imports_of(path, sources):
            if imp.module.split(".")[0] in forbidden:
                via = f" (via {' -> '.join(chain)})" if len(chain) > 1 else ""
                problems.add(f"{imp.file.relative_to(sources).as_posix()}:{imp.line} imports {imp.module}{via}")
                continue
            for name in with_parents(imp.module):
                if (own := module_file(name, sources)) is not None and own not in seen:
                    queue.append((own, [*chain, name]))
    return sorted(problems)


def test_the_pure_core_and_the_config_import_no_mitmproxy_aiohttp_or_loguru():
    core = sorted(PACKAGE.glob("core/**/*.py"))
    config = sorted(PACKAGE.glob("config/**/*.py"))
    assert len(core) > 10 and len(config) > 4, "the core or config modules were not found"
    problems = sorted({p for path in core + config for p in forbidden_imports(path, SOURCES)})
    assert not problems, "The pure core must do no I/O; move that code to an addon or the I/O edge:\n" + "\n".join(problems)


def test_the_import_rule_sees_direct_relative_indirect_nested_and_package_imports(tmp_path):
    """The rule itself can fail: a small package whose core reaches the forbidden modules in
    each way an import can hide."""
    pkg = tmp_path / "pkg"
    (pkg / "core").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "core" / "__init__.py").write_text("")
    (pkg / "edge.py").write_text("import json\n\nimport aiohttp.web\n")
    (pkg / "core" / "clean.py").write_text("import json\nfrom collections import deque\n")
    (pkg / "core" / "relative.py").write_text("from __future__ import annotations\nfrom . import helper\n")
    (pkg / "core" / "helper.py").write_text("def f():\n    from loguru import logger\n")
    (pkg / "core" / "indirect.py").write_text("from pkg import edge\n")
    (pkg / "core" / "direct.py").write_text("x = 1\nimport mitmproxy.http\n")
    assert forbidden_imports(pkg / "core" / "clean.py", tmp_path) == []
    assert forbidden_imports(pkg / "core" / "relative.py", tmp_path) == [
        "pkg/core/helper.py:2 imports loguru (via pkg.core.relative -> pkg.core.helper)"
    ]
    assert forbidden_imports(pkg / "core" / "indirect.py", tmp_path) == [
        "pkg/edge.py:3 imports aiohttp.web (via pkg.core.indirect -> pkg.edge)"
    ]
    assert forbidden_imports(pkg / "core" / "direct.py", tmp_path) == ["pkg/core/direct.py:2 imports mitmproxy.http"]
    (pkg / "__init__.py").write_text("import loguru\n")  # a package's __init__ runs before any module in it
    imports_of.cache_clear()  # the file changed under the cache
    assert forbidden_imports(pkg / "core" / "clean.py", tmp_path) == ["pkg/__init__.py:1 imports loguru (via pkg.core.clean -> pkg)"]


# Modules that need no test file of their own, each with the reason. Keep it short: a module
# with logic gets a test file.
NO_TEST_FILE_NEEDED = {
    "addons/meta.py": "names of the flow.metadata entries: constants and a one-line membership check, exercised by every addon test",
}


def expected_test_file(module: Path, package: Path = PACKAGE, tests: Path = TESTS) -> Path:
    """The mapping rule: a module's test file mirrors its place in the package.

        hpn_router/core/X.py    -> tests/core/test_X.py
        hpn_router/addons/X.py  -> tests/addons/test_X.py
        hpn_router/X.py         -> tests/test_X.py      (__main__.py -> tests/test_main.py)

    Package `__init__.py` files are left out (they hold no code). More test files for one
    module (tests/core/test_keypool_state.py) are welcome beside the one named after it.
    """
    relative = module.relative_to(package)
    return tests.joinpath(*relative.parts[:-1], f"test_{relative.stem.strip('_')}.py")


def modules_without_test_files(package: Path = PACKAGE, tests: Path = TESTS, allowed: dict[str, str] = NO_TEST_FILE_NEEDED) -> list[str]:
    missing = []
    for module in sorted(package.rglob("*.py")):
        relative = module.relative_to(package).as_posix()
        if module.name == "__init__.py" or relative in allowed:
            continue
        if not (expected := expected_test_file(module, package, tests)).is_file():
            missing.append(f"{relative} -> {expected.relative_to(tests.parent).as_posix()}")
    return missing


def test_every_module_has_a_test_file_of_its_own():
    missing = modules_without_test_files()
    assert not missing, "Modules without a test file of their own (module -> expected test file):\n" + "\n".join(missing)


def test_the_test_file_rule_names_each_module_missing_one(tmp_path):
    package, tests = tmp_path / "pkg", tmp_path / "tests"
    for path in ("core/__init__.py", "core/pure.py", "addons/hook.py", "edge.py", "__main__.py", "names.py"):
        (package / path).parent.mkdir(parents=True, exist_ok=True)
        (package / path).write_text("")
    (tests / "core").mkdir(parents=True)
    (tests / "core" / "test_pure.py").write_text("")
    (tests / "test_hook.py").write_text("")  # in the wrong folder: does not count
    assert modules_without_test_files(package, tests, {"names.py": "constants"}) == [
        "__main__.py -> tests/test_main.py",
        "addons/hook.py -> tests/addons/test_hook.py",
        "edge.py -> tests/test_edge.py",
    ]


def test_the_allow_list_names_only_modules_that_exist_and_have_no_test_file():
    for relative, reason in NO_TEST_FILE_NEEDED.items():
        module = PACKAGE / relative
        assert module.is_file(), f"{relative} is in NO_TEST_FILE_NEEDED but does not exist"
        assert not expected_test_file(module).is_file(), f"{relative} has a test file now: take it off NO_TEST_FILE_NEEDED"
        assert reason
