"""A generic directed acyclic graph over hashable nodes.

Kept apart from assets so that the same code orders asset graphs, execution steps and
anything else with dependencies, and so that it can be property-tested on its own.
Edges point from upstream to downstream: ``parents[n]`` are what ``n`` depends on.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable, Mapping
from typing import Generic, TypeVar

from headwater.errors import CycleError

T = TypeVar("T", bound=Hashable)


class Dag(Generic[T]):
    """Immutable after construction; construction fails with the cycle's path."""

    __slots__ = ("_parents", "_children", "_order", "_index")

    def __init__(self, parents: Mapping[T, Iterable[T]]) -> None:
        par: dict[T, tuple[T, ...]] = {}
        children: dict[T, list[T]] = {}
        for node, ups in parents.items():
            par[node] = _distinct(ups)
            children.setdefault(node, [])
        for node, ups in par.items():
            for up in ups:
                if up not in par:
                    raise KeyError(up)
                children[up].append(node)
        self._parents = par
        self._children = {n: tuple(c) for n, c in children.items()}
        self._order = self._toposort()
        self._index: dict[T, int] | None = None  # built by the first ``sorted``/``topo_index``

    def _toposort(self) -> tuple[T, ...]:
        indegree = {n: len(p) for n, p in self._parents.items()}
        ready = deque(n for n, d in indegree.items() if d == 0)
        order: list[T] = []
        while ready:
            node = ready.popleft()
            order.append(node)
            for child in self._children[node]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    ready.append(child)
        if len(order) != len(self._parents):
            raise CycleError([str(n) for n in self._find_cycle(set(self._parents) - set(order))])
        return tuple(order)

    def _find_cycle(self, remaining: set[T]) -> list[T]:
        """Walk parent edges inside the unsortable remainder until a node repeats."""
        start = min(remaining, key=str)
        seen: dict[T, int] = {}
        path: list[T] = []
        node = start
        while node not in seen:
            seen[node] = len(path)
            path.append(node)
            node = min((p for p in self._parents[node] if p in remaining), key=str)
        cycle = path[seen[node]:] + [node]
        cycle.reverse()  # upstream -> downstream reads naturally: a -> b -> a
        return cycle

    def __contains__(self, node: object) -> bool:
        return node in self._parents

    def __len__(self) -> int:
        return len(self._parents)

    @property
    def nodes(self) -> tuple[T, ...]:
        """All nodes in a topological order (upstream first), stable for a given input."""
        return self._order

    def parents(self, node: T) -> tuple[T, ...]:
        return self._parents[node]

    def children(self, node: T) -> tuple[T, ...]:
        return self._children[node]

    def _positions(self) -> dict[T, int]:
        """Each node's place in ``nodes``: only what sorts a selection needs it, and at
        100,000 assets it is 8 MiB that loading the definitions need not hold."""
        if self._index is None:
            self._index = {n: i for i, n in enumerate(self._order)}
        return self._index

    def topo_index(self, node: T) -> int:
        return self._positions()[node]

    def upstream(self, nodes: Iterable[T], depth: int | None = None) -> set[T]:
        """Strict ancestors of ``nodes`` within ``depth`` hops (None: unbounded)."""
        return self._walk(nodes, self._parents, depth)

    def downstream(self, nodes: Iterable[T], depth: int | None = None) -> set[T]:
        return self._walk(nodes, self._children, depth)

    @staticmethod
    def _walk(nodes: Iterable[T], edges: Mapping[T, tuple[T, ...]], depth: int | None) -> set[T]:
        start = list(nodes)
        found: set[T] = set()
        frontier = start
        level = 0
        while frontier and (depth is None or level < depth):
            nxt = []
            for node in frontier:
                for other in edges[node]:
                    if other not in found:
                        found.add(other)
                        nxt.append(other)
            frontier = nxt
            level += 1
        return found

    def sorted(self, nodes: Iterable[T]) -> list[T]:
        """``nodes`` in topological order."""
        return sorted(nodes, key=self._positions().__getitem__)

    def subgraph(self, nodes: Iterable[T]) -> Dag[T]:
        keep = set(nodes)
        return Dag({n: [p for p in self._parents[n] if p in keep] for n in self.sorted(keep)})

    def layers(self) -> list[list[T]]:
        """Longest-path layering: a node sits one layer below its deepest parent."""
        depth: dict[T, int] = {}
        for node in self._order:
            ps = self._parents[node]
            depth[node] = 1 + max(depth[p] for p in ps) if ps else 0
        out: list[list[T]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
        for node in self._order:
            out[depth[node]].append(node)
        return out


def _distinct(ups: Iterable[T]) -> tuple[T, ...]:
    """``ups`` without repeats, in order; the caller's own tuple when it has none, so that a
    graph and the specs it was built from share one tuple of parents per node."""
    given = ups if type(ups) is tuple else tuple(ups)
    if len(given) > 1 and len(set(given)) != len(given):
        return tuple(dict.fromkeys(given))
    return given
