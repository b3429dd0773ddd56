"""A batch of output lines read together, with what its readers would each work out again."""

from __future__ import annotations

# The bytes a JSON string must escape, but the newline between lines: the control characters,
# the quote and the backslash. 33 memchr scans cost a tenth of escaping every line.
_ESCAPED_IN_JSON = tuple(bytes([b]) for b in (*range(0x20), 0x22, 0x5C) if b != 0x0A)


class Lines(list[str]):
    """Complete lines read together.

    ``text`` is the lines joined by newlines (the redactor and the gate tally scan it whole);
    ``json_safe`` says that no line holds a character JSON would escape, so the recorder
    can write them between quotes as they are.
    """

    text: str
    json_safe: bool

    @classmethod
    def from_bytes(cls, raw: bytes) -> Lines:
        """``raw`` is whole lines without the last newline; a CR before a newline is dropped."""
        text = raw.decode("utf-8", "replace")  # complete lines: no character is split
        if "\r" in text:
            lines = cls(line.rstrip("\r") for line in text.split("\n"))
            lines.text = "\n".join(lines)
            lines.json_safe = False
            return lines
        lines = cls(text.split("\n"))
        lines.text = text
        lines.json_safe = not any(byte in raw for byte in _ESCAPED_IN_JSON)
        return lines


def joined(lines: list[str]) -> str:
    """The lines joined by newlines, computed once for a batch that was read together."""
    return lines.text if type(lines) is Lines else "\n".join(lines)
