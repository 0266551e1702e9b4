"""Why a statement did not parse, in words for the person who wrote it.

sqlglot's parse errors describe its own machinery: "Required keyword: 'this' missing for <class
'sqlglot.expressions.query.Where'>", "Expected table name but got <Token token_type: TokenType.SENTINEL,
...>". `describe` keeps what helps (what was expected, the word it stopped at, line and column) and says it
without class names or token dumps.
"""

from __future__ import annotations

import re

from sqlglot.errors import ParseError

_TOKEN = re.compile(r"<Token token_type: TokenType\.(\w+), text: ((?:[^,]|,(?! line:))*), line:[^>]*>")
_CLASS = re.compile(r"<class '[\w.]+'>")
_HIGHLIGHT_CHARS = 40

# sqlglot's description (a pattern) -> ours. The first match wins; "{0}" is the pattern's first group.
_DESCRIPTIONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^Required keyword: '\w+' missing for "), "something is missing"),
    (re.compile(r"^Invalid expression / Unexpected token"), "unexpected word or symbol"),
    (re.compile(r"^Expected table name"), "a table name was expected"),
    (re.compile(r"^Expected database name"), "a database name was expected"),
    (re.compile(r"^Expecting ([()\[\]{}<>])(?: or encountered unexpected keyword)?$"), "'{0}' was expected"),
    (re.compile(r"^Expect(?:ing|ed) ([A-Z][A-Z ]*?)(?: (?:after|in) .*)?$"), "{0} was expected"),
    (re.compile(r"^Maximum number of AST nodes"), "the statement is too large"),
]


def _plain(text: str) -> str:
    """`text` without sqlglot's token dumps and class names."""
    text = _TOKEN.sub(lambda m: "the end" if m.group(1) == "SENTINEL" else f"'{m.group(2)}'", text)
    return _CLASS.sub("this part", text)


def describe(err: ParseError) -> str:
    """One line: what went wrong, near which word, at which line and column (no trailing period)."""
    first = err.errors[0] if err.errors else {}
    raw = " ".join(str(first.get("description") or "").split(". Line")[0].split())
    desc = ""
    for pattern, words in _DESCRIPTIONS:
        match = pattern.search(raw)
        if match:
            desc = words.format(*(g.strip() for g in match.groups()))
            break
    else:
        desc = _plain(raw) or "unexpected syntax"
        if "sqlglot" in desc or "TokenType" in desc:  # a shape the patterns above do not know: say nothing of it
            desc = "unexpected syntax"
    near = " ".join(str(first.get("highlight") or "").split())[:_HIGHLIGHT_CHARS]
    where = f" near '{near}'" if near else ""
    return f"{desc}{where} (line {first.get('line', '?')}, col {first.get('col', '?')})"
