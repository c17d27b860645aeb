"""Find a sound by name: search the map's preset names, banks and categories; pick a result to select it.

Every word of the query must appear in the name, the bank or the category of a dot (case-insensitive).
Ranking: whole-name match, then names starting with the query, then names containing it, then bank or
category matches; human presets before their variants ("Pianola ~3"), then by name.
"""

from __future__ import annotations

import re

from explorer.app.engine import Engine, UserError
from explorer.app.tabs.map import select_point

MAX_RESULTS = 50
MAX_QUERY = 100


def _lmap(engine: Engine, st: dict):
    lmap = engine.entry(st["model"]).lmap
    if lmap is None:
        raise UserError("this model has no latent map to search; export one (see the status line)")
    return lmap


def search(engine: Engine, st: dict, query: str, limit: int = MAX_RESULTS) -> tuple[list[str], str]:
    """-> (result choices "i: name (bank) [category]", status). An empty query gives no results."""
    q = " ".join(str(query or "").lower().split())
    if len(q) > MAX_QUERY:
        raise UserError(f"search text is limited to {MAX_QUERY} characters")
    if not q:
        return [], "type part of a preset name, a bank or a category (e.g. 'pad', 'bass', 'BriansBank01')"
    lmap = _lmap(engine, st)
    words = q.split()
    hits = []
    for i, (name, bank) in enumerate(zip(lmap.names, lmap.banks)):
        cat = lmap.category_label(i)
        n, hay = name.lower(), f"{name} {bank} {cat}".lower()
        if not all(w in hay for w in words):
            continue
        rank = 0 if n == q else 1 if n.startswith(q) else 2 if q in n else 3
        hits.append((rank, "~" in name, n, i))
    hits.sort()
    choices = [f"{i}: {lmap.names[i]} ({lmap.banks[i] or 'no bank'}) [{lmap.category_label(i)}]"
               for *_, i in hits[:limit]]
    more = f", the first {limit} shown" if len(hits) > limit else ""
    return choices, f"{len(hits)} sound(s) match {query.strip()!r}{more}" if hits else f"nothing matches {query.strip()!r}"


def pick(engine: Engine, st: dict, choice: str) -> dict:
    """Select the dataset sound of a result ("i: name ..."); the view centres the map on it."""
    m = re.match(r"\s*(\d+)\s*:", str(choice or ""))
    if not m:
        raise UserError(f"not a search result: {str(choice)[:60]!r}; search, then choose a result")
    return select_point(engine, st, int(m.group(1)))
