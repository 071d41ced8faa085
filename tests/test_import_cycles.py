"""No import cycles between the modules of app, providers, ratings and billing.

A cycle is any set of modules that import each other, directly or through others,
at module level or inside a function (grimp sees both).  The layers themselves are
checked by ``make lint`` (import-linter, contracts in pyproject.toml); this test
also catches cycles inside one package, which a layers contract allows.
"""

from __future__ import annotations

import grimp

PACKAGES = ("app", "providers", "ratings", "billing")


def import_cycles(graph) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan, iterative), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = counter
                    counter += 1
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph.find_modules_directly_imported_by(target)))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))
    return sorted(groups)


def test_the_cycle_finder_finds_direct_and_indirect_cycles():
    graph = grimp.ImportGraph()
    for importer, imported in (("a.x", "a.y"), ("a.y", "a.x"),  # direct
                               ("b.p", "b.q"), ("b.q", "b.r"), ("b.r", "b.p"),  # through another
                               ("c.one", "a.x"), ("c.one", "c.two")):  # no cycle
        graph.add_import(importer=importer, imported=imported)
    assert import_cycles(graph) == [["a.x", "a.y"], ["b.p", "b.q", "b.r"]]


def test_no_import_cycles_between_modules():
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    assert len(graph.modules) > 100  # the packages were found (not an empty graph)
    cycles = import_cycles(graph)
    details = {tuple(group): [f"{a} -> {b}" for a in group for b in graph.find_modules_directly_imported_by(a)
                              if b in group] for group in cycles}
    assert cycles == [], details
