"""Import cycles among mpcrec's modules: `python -m tests.architecture.import_cycles` (run by
`make lint`) prints every set of modules that import each other in a circle, function-level
imports included, and exits 1 if there is one."""

from __future__ import annotations

import sys

import grimp

ROOTS = ("mpcrec", "committees", "launch")


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every strongly connected set of two or more modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph.find_modules_directly_imported_by(module):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            members = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                members.append(top)
                if top == module:
                    break
            if len(members) > 1:
                cycles.append(sorted(members))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return cycles


def main() -> int:
    """Print the import cycles of mpcrec, committees and launch; 1 if there is any."""
    cycles = import_cycles(grimp.build_graph(*ROOTS, cache_dir=None))
    for members in cycles:
        print("import cycle: " + " <-> ".join(members))
    if not cycles:
        print(f"no import cycles among the modules of {', '.join(ROOTS)}")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
