"""The one redaction point: every record and line the store writes passes through ``scrub``.

What the API and the CLI answer is read from the store (or is what a write returned), so it was
scrubbed on its way in; only an error's message, which comes from an exception, is scrubbed on its
way out (``api.errors``, ``cli.parser``). Scrubbing answers again would run the patterns over
every listing (a run's JSON always says "Tokens", so the cheap pre-check never skips it).

The store cannot know the user's key (that is config, above it), so the engine installs its
``Redactor`` here when it starts (``EngineContext``); until then, and in a process with no
engine, ``scrub`` masks what is shaped like a key. Text without a secret comes back as the same
object, so callers can tell cheaply whether anything was masked.
"""

from __future__ import annotations

from collections.abc import Callable

from pmdesk.store.patterns import mask_shapes

_scrubber: list[Callable[[str], str]] = []


def install(scrubber: Callable[[str], str]) -> None:
    _scrubber[:] = [scrubber]


def scrub(text: str) -> str:
    if not _scrubber:
        return mask_shapes(text)
    return _scrubber[0](text)
