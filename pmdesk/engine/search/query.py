"""What the user typed, made into an FTS5 query and a way to mark its hits.

Words are ANDed; ``"two words"`` is a phrase, ``build*`` a prefix. Everything else the user
types is quoted, so no FTS5 syntax (``NEAR``, ``-``, ``:``, parentheses) can make a query
fail or mean something the user did not write.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pmdesk.errors import BadQueryError

_PART = re.compile(r'"([^"]*)"?|(\S+)')
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class Term:
    words: tuple[str, ...]  # one word, or a phrase's
    prefix: bool = False  # the last word is a prefix


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    terms: tuple[Term, ...]

    @property
    def match(self) -> str:
        """The FTS5 MATCH expression: every term quoted, a prefix starred."""
        parts = []
        for term in self.terms:
            quoted = '"' + " ".join(term.words).replace('"', '""') + '"'
            parts.append(quoted + ("*" if term.prefix else ""))
        return " ".join(parts)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where the query's terms are in ``text``, to highlight (case and accents as typed)."""
        found: list[tuple[int, int]] = []
        for term in self.terms:  # a word is letters and digits, as the index's tokenizer has it ("_" parts words)
            pattern = r"[\W_]+".join(re.escape(w) for w in term.words)
            pattern = rf"(?<![^\W_]){pattern}" + (r"[^\W_]*" if term.prefix else r"(?![^\W_])")
            found.extend(m.span() for m in re.finditer(pattern, text, re.IGNORECASE))
        found.sort()
        merged: list[tuple[int, int]] = []
        for start, end in found:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return merged


def parse_query(text: str) -> Query:
    """The user's query; one with no word in it is refused with what a query looks like."""
    terms: list[Term] = []
    for phrase, bare in _PART.findall(text):
        if phrase:
            words = tuple(w.lower() for w in _WORD.findall(phrase))
            if words:
                terms.append(Term(words))
            continue
        prefix = bare.endswith("*")
        words = tuple(w.lower() for w in _WORD.findall(bare))
        if words:  # "foo.bar" or "a-b" is split by the tokenizer too: a phrase of its words
            terms.append(Term(words, prefix))
    if not terms:
        raise BadQueryError(f"nothing to search for in {text!r}: give words, a \"phrase\" or a prefix*")
    return Query(text, tuple(terms))
