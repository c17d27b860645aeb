"""The slider events of one session in order, those of many sessions at once.

Drag previews and slider releases (`views/live.py`, `views/macro.py`) run as many at a time as the app's
`--concurrency` allows, across users. Within one session they take turns on the session's lock, and a
release advances the session's generation, which its new state carries. Gradio reads an event's state
before its handler runs, so a drag preview that waited for a release of its own session holds the state
from before it: it sees that it is stale and changes nothing (a preview never lands after the release).
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager


def new_session_key() -> str:
    return secrets.token_hex(8)


class SessionOrder:
    def __init__(self, size: int = 4096) -> None:
        self.size = size  # sessions remembered (least recently active dropped)
        self._sessions: OrderedDict[str, list] = OrderedDict()  # key -> [lock, generation]
        self._lock = threading.Lock()

    def _entry(self, st: dict) -> list:
        key = st.get("session", "")
        with self._lock:
            e = self._sessions.get(key)
            if e is None:
                e = self._sessions[key] = [threading.Lock(), 0]
                while len(self._sessions) > self.size:
                    self._sessions.popitem(last=False)
            self._sessions.move_to_end(key)
            return e

    @contextmanager
    def turn(self, st: dict) -> Iterator[bool]:
        """Run one slider event of `st`'s session, after the session's others; yields whether `st` is still
        current (no release of the session has committed since it was read)."""
        e = self._entry(st)
        with e[0]:
            yield st.get("slider_gen", 0) >= e[1]  # (a session forgotten here starts again from 0)

    def commit(self, st: dict) -> dict:
        """A release made `st` (call inside its `turn`): -> `st` with the session's next generation."""
        e = self._entry(st)
        e[1] = max(e[1], st.get("slider_gen", 0)) + 1
        return dict(st, slider_gen=e[1])

    def __len__(self) -> int:
        return len(self._sessions)
