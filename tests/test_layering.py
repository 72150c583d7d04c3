"""The layers hold: no import circles, the engine free of web and chat libraries, the root imported by nobody.

Every product module's imports are read with ast, at module level and inside functions alike: an import
deferred into a function is still a dependency, only a later one.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOT_PRODUCT = {"tests", "bench", "scripts", "docs", ".venv", "instance"}
CHAT_SDKS = {"wechatpy", "dingtalk", "alibabacloud_dingtalk", "dingtalk_stream", "wecom_aibot_sdk"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _product_files() -> dict[str, Path]:
    files = {}
    for path in sorted(ROOT.rglob("*.py")):
        top = path.relative_to(ROOT).parts[0]
        if top in NOT_PRODUCT or top.startswith("."):
            continue
        files[_module_name(path)] = path
    return files


FILES = _product_files()


def _imported_names(name: str, path: Path) -> set[str]:
    """Return the dotted names a module imports, relative imports resolved against its package."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module
            # `from a import b` names the module a.b when there is one, else something defined in a.
            for alias in node.names:
                dotted = f"{origin}.{alias.name}"
                found.add(dotted if dotted in FILES else origin)
    return found


def _resolve(dotted: str) -> str | None:
    """Return the product module that a dotted import name lands in, or None for a library."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in FILES:
            return candidate
    return None


IMPORTS = {name: _imported_names(name, path) for name, path in FILES.items()}


def _graph() -> dict[str, set[str]]:
    graph = defaultdict(set)
    for name, dotted in IMPORTS.items():
        for target in filter(None, map(_resolve, dotted)):
            if target != name:
                graph[name].add(target)
    return graph


def _components(graph: dict[str, set[str]]) -> list[set[str]]:
    """Return the strongly connected components of more than one module (Tarjan, iteratively)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for root in sorted(FILES):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(component)
            elif child not in index:
                index[child] = low[child] = counter[0]
                counter[0] += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def _a_cycle(graph: dict[str, set[str]], component: set[str]) -> str:
    """Return one circle through the component's first module, as `a -> b -> a`."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & component):
            if child == start:
                return " -> ".join(paths[node] + [start])
            if child not in paths:
                paths[child] = paths[node] + [child]
                queue.append(child)
    return " -> ".join(sorted(component))


def _importers_of(libraries: set[str], *, among) -> list[str]:
    return sorted(f"{name} imports {dotted}" for name in among for dotted in sorted(IMPORTS[name])
                  if dotted.split(".")[0] in libraries and _resolve(dotted) is None)


def test_the_product_is_found():
    assert {"app", "workflow.engine", "workflow.hooks", "handlers.chat.dispatch", "handlers.cli",
            "bot.wecom", "jobs.delivery"} <= set(FILES)


def test_no_import_circles_among_product_modules():
    graph = _graph()
    circles = [_a_cycle(graph, c) for c in _components(graph)]
    assert not circles, "import circles:\n  " + "\n  ".join(circles)


def test_the_engine_imports_no_web_queue_or_chat_library():
    engine = [name for name in FILES if name == "workflow" or name.startswith("workflow.")]
    assert _importers_of({"flask", "werkzeug", "redis", "rq", *CHAT_SDKS}, among=engine) == []


def test_nothing_in_the_product_imports_the_composition_root():
    importers = sorted(name for name, dotted in IMPORTS.items() if name != "app" and "app" in map(_resolve, dotted))
    assert importers == []


def test_only_the_platform_adapters_and_the_sandbox_import_a_chat_sdk():
    outside = [name for name in FILES if name.split(".")[0] not in ("bot", "sandbox")]
    assert _importers_of(CHAT_SDKS, among=outside) == []
