"""The floors of docs/architecture.md, checked against the imports of the code.

Every module of ``core/src/chatplug`` belongs to one floor; a module imports only the floors
the table "What may import what" allows (read with ``ast``: every import statement, in
functions too, except under ``if TYPE_CHECKING:``).  Third-party packages that make an
import heavy or need an extra belong to one floor each, and ``import chatplug`` stays light.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, FrozenSet, Iterator, List, NamedTuple, Set, Tuple

import chatplug
import pytest

PACKAGE = Path(chatplug.__file__).resolve().parent
ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"

CLI, SERVER, KIT, OPTIONAL, CLIENT, REGISTRY, HELPERS, CONTRACT, ROOT = (
    "cli",
    "server",
    "kit",
    "optional",
    "client",
    "registry",
    "helpers",
    "contract",
    "root",
)

#: the floor of each module: a name ending in ``.`` covers a package and its submodules;
#: the most specific entry wins (``chatplug.server.metrics`` before ``chatplug.server.``)
FLOOR_OF: Dict[str, str] = {
    "chatplug": ROOT,
    "chatplug.__main__": CLI,
    "chatplug.server.__main__": CLI,  # ``python -m chatplug.server`` runs the serve command
    "chatplug.cli.": CLI,
    "chatplug.server.metrics": OPTIONAL,
    "chatplug.server.": SERVER,
    "chatplug.testing.": KIT,
    "chatplug.scaffold.": KIT,
    "chatplug.history.": OPTIONAL,
    "chatplug.redis_store": OPTIONAL,
    "chatplug.client": CLIENT,
    "chatplug._async": CLIENT,
    "chatplug._sync": CLIENT,
    "chatplug._attempts": CLIENT,
    "chatplug._contract": CLIENT,
    "chatplug._request": CLIENT,
    "chatplug._pool": CLIENT,
    "chatplug.stream": CLIENT,
    "chatplug.health": CLIENT,
    "chatplug.config.": CLIENT,
    "chatplug.registry": REGISTRY,
    "chatplug.discovery": REGISTRY,
    "chatplug.provider": REGISTRY,
    "chatplug._guard": REGISTRY,
    "chatplug.http": HELPERS,
    "chatplug.decoders": HELPERS,
    "chatplug.openai_chunks": HELPERS,
    "chatplug.openai_errors": HELPERS,
    "chatplug.options": HELPERS,
    "chatplug.parsing": HELPERS,
    "chatplug.provider_settings": HELPERS,
    "chatplug.model_cache": HELPERS,
    "chatplug.emulation": HELPERS,
    "chatplug.emulator_kit": HELPERS,
    "chatplug.masking": HELPERS,
    "chatplug.net": HELPERS,
    "chatplug.errors": CONTRACT,
    "chatplug.types": CONTRACT,
    "chatplug.events": CONTRACT,
    "chatplug.hookspecs": CONTRACT,
    "chatplug.messages.": CONTRACT,
}

_BELOW_CLIENT = frozenset({REGISTRY, HELPERS, CONTRACT, ROOT})
#: what each floor may import (its own floor always included)
MAY_IMPORT: Dict[str, FrozenSet[str]] = {
    CLI: frozenset({CLI, SERVER, KIT, OPTIONAL, CLIENT}) | _BELOW_CLIENT,
    SERVER: frozenset({SERVER, OPTIONAL, CLIENT}) | _BELOW_CLIENT,
    KIT: frozenset({KIT, CLIENT}) | _BELOW_CLIENT,
    OPTIONAL: frozenset({OPTIONAL, CLIENT}) | _BELOW_CLIENT,
    CLIENT: frozenset({CLIENT}) | _BELOW_CLIENT,
    REGISTRY: frozenset({REGISTRY, CONTRACT}),
    HELPERS: frozenset({HELPERS, CONTRACT}),
    CONTRACT: frozenset({CONTRACT}),
    ROOT: frozenset({CONTRACT}),  # eagerly; every other public name is looked up lazily
}
#: imports a floor may make only inside a function (never when it is itself imported)
LAZILY: Dict[str, FrozenSet[str]] = {CLIENT: frozenset({OPTIONAL})}
#: the exceptions named in docs/architecture.md
EXCEPTIONS: FrozenSet[Tuple[str, str]] = frozenset(
    {("chatplug.emulation", "chatplug.registry")}  # the emulators' entry points
)

#: third-party packages, and the only floors (or modules) that import them (the CLI, on
#: top, may import any of them; click is the CLI's alone)
OWNERS: Dict[str, Tuple[str, ...]] = {
    "click": (CLI,),
    "redis": ("chatplug.redis_store", CLI),
    "prometheus_client": ("chatplug.server.metrics", CLI),
    "sqlite3": ("chatplug.history.", CLI),
}


class Import(NamedTuple):
    importer: str
    imported: str
    line: int
    in_function: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> Iterator[Path]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if "template" not in path.relative_to(PACKAGE).parts:  # the scaffold's template files
            yield path


MODULES: Dict[str, Path] = {module_name(path): path for path in source_files()}


def floor_of(module: str) -> str:
    best = ""
    for key in FLOOR_OF:
        covers = module == key if not key.endswith(".") else (module + ".").startswith(key)
        if covers and len(key) > len(best):
            best = key
    if not best:
        raise AssertionError(f"{module} belongs to no floor: add it to docs/architecture.md")
    return FLOOR_OF[best]


def owner_matches(module: str, owner: str) -> bool:
    if owner.startswith("chatplug"):
        return module == owner or (owner.endswith(".") and module.startswith(owner))
    return floor_of(module) == owner


def _type_checking_nodes(tree: ast.AST) -> Set[int]:
    skipped: Set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for statement in node.body:
                skipped.update(id(sub) for sub in ast.walk(statement))
    return skipped


def _function_nodes(tree: ast.AST) -> Set[int]:
    inside: Set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for statement in node.body:
                inside.update(id(sub) for sub in ast.walk(statement))
    return inside


def _targets(module: str, node: ast.AST) -> List[str]:
    """The modules an import statement names (absolute names)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    assert isinstance(node, ast.ImportFrom)
    if not node.level:
        return [node.module or ""]
    base = module.split(".")
    if MODULES[module].name != "__init__.py":
        base.pop()
    base = base[: len(base) - (node.level - 1)]
    source = ".".join(base + ([node.module] if node.module else []))
    submodules = [f"{source}.{alias.name}" for alias in node.names]
    found = [name for name in submodules if name in MODULES]
    # ``from . import hookspecs`` imports the submodule; ``from .x import name`` imports x
    return found if node.module is None and found else [source]


def imports() -> Iterator[Import]:
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped, in_function = _type_checking_nodes(tree), _function_nodes(tree)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in skipped:
                for target in _targets(module, node):
                    yield Import(module, target, node.lineno, id(node) in in_function)


def internal(target: str) -> str:
    """The chatplug module an import reaches (``chatplug.x.name`` -> ``chatplug.x``)."""
    while target not in MODULES and "." in target:
        target = target.rsplit(".", 1)[0]
    return target


IMPORTS = list(imports())
INTERNAL = [
    item._replace(imported=internal(item.imported))
    for item in IMPORTS
    if item.imported.split(".")[0] == "chatplug" and internal(item.imported) != item.importer
]


def where(item: Import) -> str:
    return f"{MODULES[item.importer].relative_to(PACKAGE.parent)}:{item.line}"


def test_every_module_belongs_to_a_floor() -> None:
    unplaced = []
    for module in MODULES:
        try:
            floor_of(module)
        except AssertionError as error:
            unplaced.append(str(error))
    assert unplaced == []


def test_each_floor_imports_only_the_floors_below_it() -> None:
    wrong = []
    for item in INTERNAL:
        if (item.importer, item.imported) in EXCEPTIONS:
            continue
        floor, target = floor_of(item.importer), floor_of(item.imported)
        if target in MAY_IMPORT[floor]:
            continue
        if item.in_function and target in LAZILY.get(floor, frozenset()):
            continue
        wrong.append(f"{where(item)}: {item.importer} ({floor}) imports {item.imported} ({target})")
    assert wrong == []


def test_nothing_outside_the_cli_imports_the_cli() -> None:
    wrong = [
        f"{where(item)}: {item.importer} imports {item.imported}"
        for item in INTERNAL
        if floor_of(item.imported) == CLI and floor_of(item.importer) != CLI
    ]
    assert wrong == []


@pytest.mark.parametrize("package", sorted(OWNERS))
def test_a_heavy_or_optional_package_is_imported_by_its_floor_only(package: str) -> None:
    wrong = [
        f"{where(item)}: {item.importer} imports {item.imported}"
        for item in IMPORTS
        if item.imported.split(".")[0] == package
        and not any(owner_matches(item.importer, owner) for owner in OWNERS[package])
    ]
    assert wrong == []


def test_the_contract_imports_no_third_party_package_when_imported() -> None:
    names = getattr(sys, "stdlib_module_names", None)  # Python 3.10+
    if names is None:
        pytest.skip("sys.stdlib_module_names needs Python 3.10")
    stdlib = set(names) | {"__future__"}
    allowed = {"chatplug", "pluggy"}  # hookspecs' markers are pluggy's
    wrong = [
        f"{where(item)}: {item.importer} imports {item.imported}"
        for item in IMPORTS
        if floor_of(item.importer) in (CONTRACT, ROOT)
        and not item.in_function
        and item.imported.split(".")[0] not in stdlib | allowed
    ]
    assert wrong == []


def test_no_import_circle_among_chatplug_modules() -> None:
    graph: Dict[str, Set[str]] = {module: set() for module in MODULES}
    for item in INTERNAL:
        if not item.imported.startswith(item.importer + "."):  # a package's own re-exports
            graph[item.importer].add(item.imported)
    circles = [component for component in _strong_components(graph) if len(component) > 1]
    assert circles == []


def _strong_components(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Tarjan's algorithm, iteratively."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    components: List[List[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            step = next(edges, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph[step]))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def test_import_chatplug_loads_no_heavy_or_optional_package() -> None:
    heavy = ["aiohttp", "click", "pluggy", "redis", "prometheus_client", "sqlite3", "asyncio"]
    code = (
        "import sys, json, chatplug\n"
        f"heavy = {heavy!r}\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & set(heavy))\n"
        "plugins = sorted(m for m in sys.modules if m.startswith('chatplug_'))\n"
        "print(json.dumps(loaded + plugins))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.endswith("__main__")))
def test_every_name_a_module_exports_resolves(module: str) -> None:
    try:
        imported = importlib.import_module(module)
    except ImportError as error:  # an optional extra that is not installed
        pytest.skip(f"{module}: {error}")
    missing = [name for name in getattr(imported, "__all__", ()) if not hasattr(imported, name)]
    assert missing == []


def module_table() -> Set[str]:
    """The files the module table of docs/architecture.md names (its last section)."""
    table = ARCHITECTURE.read_text(encoding="utf-8").split("\n## Modules\n", 1)[1]
    named = set(re.findall(r"^\| `([\w/.]+)` \|", table, flags=re.MULTILINE))
    assert named, "docs/architecture.md has no module table"
    return named


def test_every_module_the_architecture_names_exists() -> None:
    missing = sorted(name for name in module_table() if not (PACKAGE / name).exists())
    assert missing == []


def test_the_architecture_names_every_module() -> None:
    files = {str(path.relative_to(PACKAGE)) for path in source_files()}
    unnamed = sorted(files - module_table())
    assert unnamed == []
