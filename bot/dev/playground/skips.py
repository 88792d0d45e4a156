"""Why a link pasted in the playground got no preview, from the app's own log.

Slack tells nobody when an app does not unfurl a link, and neither does the app: the poster just sees no
preview. The unfurl feature writes one DEBUG line per reason (``unfurl.skipped``, keyed by the event id:
not a clue link, too many links, refused, rate limited, the clue's lookup failed). This handler, installed
by the playground only, turns that logger up to DEBUG and keeps the lines of the events the playground
itself sent, so the page can say why under the message. Nothing the app sends Slack changes.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

UNFURL_LOGGER = "bot.slack.features.unfurls"
EVENT = "unfurl.skipped"
_FIELDS = ("reason", "links", "limit", "clue_id", "error", "rule", "seconds")
_MAX_EVENTS = 500  # events remembered; a page that pastes more forgets the oldest
_MAX_NOTES = 1000
# The logger's own level before the first handler turned it up; restored when the last one leaves.
_installed: list[UnfurlSkips] = []
_saved_level: list[int] = []
_install_lock = threading.Lock()


class UnfurlSkips(logging.Handler, AbstractContextManager["UnfurlSkips"]):
    """The ``unfurl.skipped`` lines of the events ``expect``-ed, numbered for polling (``since``)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._expected: OrderedDict[str, str] = OrderedDict()  # event id -> the ts of the message it is about
        self._notes: list[dict[str, Any]] = []
        self._seq = 0
        self._guard = threading.Lock()  # emit runs on the app's loop, reads on whatever serves the page

    def expect(self, event_id: str, message_ts: str) -> None:
        """Keep the lines of this event, one the playground is about to send for the message ``message_ts``."""
        with self._guard:
            self._expected[event_id] = message_ts
            while len(self._expected) > _MAX_EVENTS:
                self._expected.popitem(last=False)

    def since(self, seq: int) -> list[dict[str, Any]]:
        with self._guard:
            return [note for note in self._notes if note["seq"] > seq]

    @property
    def last(self) -> int:
        with self._guard:
            return self._seq

    def emit(self, record: logging.LogRecord) -> None:
        event_id = getattr(record, "event_id", None)
        if record.getMessage() != EVENT or not isinstance(event_id, str):
            return
        with self._guard:
            if event_id not in self._expected:
                return  # another app's event (tests run several playgrounds in one process)
            self._seq += 1
            note = {"seq": self._seq, "event_id": event_id, "message_ts": self._expected[event_id]}
            note.update({name: value for name in _FIELDS if (value := getattr(record, name, None)) is not None})
            self._notes.append(note)
            del self._notes[:-_MAX_NOTES]

    def __enter__(self) -> UnfurlSkips:
        logger = logging.getLogger(UNFURL_LOGGER)
        with _install_lock:
            if not _installed:
                _saved_level[:] = [logger.level]
                logger.setLevel(logging.DEBUG)  # the feature writes these lines only when someone listens
            _installed.append(self)
            logger.addHandler(self)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        logger = logging.getLogger(UNFURL_LOGGER)
        with _install_lock:
            logger.removeHandler(self)
            if self in _installed:
                _installed.remove(self)
                if not _installed:
                    logger.setLevel(_saved_level[0])
