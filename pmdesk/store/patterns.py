"""What a secret looks like: an Anthropic key, a bearer token, a value after key=, token:, password=."""

from __future__ import annotations

import re

_PATTERNS = re.compile(
    r"(sk-ant-[A-Za-z0-9_\-]{8,})"
    r"|((?:Bearer|bearer)\s+[A-Za-z0-9._\-]{16,})"
    r"|((?:x-api-key|api[_-]?key|ANTHROPIC_API_KEY|auth[_-]?token|access[_-]?token|secret|password)"
    r"[\"']?\s*[:=]\s*[\"']?)([^\s\"',;\\]{6,})",  # no backslash: a JSON escape stays whole
    re.IGNORECASE,
)
MASK = "[REDACTED]"
# Every pattern above contains key, token, sk-ant-, bearer, secret or password: a line with
# none of them is clean, and that test is ten times cheaper than the regex.


def may_hold_secret(text: str) -> bool:
    """The words every pattern needs: text without them is clean, without running the regex."""
    low = text.lower()
    return ("key" in low or "token" in low or "sk-ant-" in low or "bearer" in low or "secret" in low
            or "password" in low)



def mask_shapes(value: str) -> str:
    """``value`` with everything shaped like a secret masked; the same object when nothing is."""
    if not may_hold_secret(value) or _PATTERNS.search(value) is None:
        return value
    return _PATTERNS.sub(_mask, value)


def _mask(match: re.Match[str]) -> str:
    if match.group(3):
        return match.group(3) + MASK
    return MASK
