"""A restricted grammar for model formulas: checked *before* formulaic sees them.

formulaic evaluates every term of a formula as Python (``I(__import__('os').system(...))`` runs
code), so a formula read from a file (a snapshot, a CI script) must be checked first. This module
never evaluates anything: a small tokenizer and a recursive-descent parser accept only

- column names: identifiers (ASCII or NFKC-stable Unicode, not a Python keyword, not starting
  with ``__``), ```backticked names``` and ``Q("name")``; with ``columns=`` each must be a column;
- the formula operators ``~ + - : * /``, ``(...)``, ``(...)**k`` (``k`` a whole number) and the
  constants ``0``/``1`` (with ``+``/``-``, for the intercept);
- ``C(name)``, optionally with a contrast: ``Treatment``, ``Sum``, ``Helmert``, ``Diff``, ``Poly``,
  ``Treatment(literal)`` / ``Treatment(reference=literal)``, ``levels=[literal, ...]``;
- ``I(arith)`` and ``{arith}``, where *arith* is numbers, column names, ``+ - * / **``, unary
  minus/plus, parentheses and the transforms below;
- the transforms of :data:`TRANSFORMS` (formulaic's own names ``log``, ``exp``, ``center``, ...
  and a few numpy functions ``np.log``, ``np.sqrt``, ...) applied to *arith*, with only the
  literal keyword/positional arguments listed there.

Anything else (attribute access, subscripts, lambdas, other calls, dunder names, strings outside
``Q()``/contrast literals, string prefixes such as ``f"..."``, escapes, comprehensions, ``%in%``,
``|``, ``.``) raises :class:`~hessstats.errors.SpecificationError` (or the error class passed as
``error=``, e.g. :class:`~hessstats.errors.SnapshotError` for a formula read from a snapshot),
with a caret under the offending token.

The invariant that makes this safe whatever formulaic's own tokenizer does with the accepted text:
every ``(`` that follows a name follows a whitelisted function name, every ``.`` joins ``np`` or
``contr`` to a whitelisted attribute, ``[`` appears only in ``levels=[...]``, and strings contain
no quotes, backslashes or backticks. Any substring Python evaluates can therefore only read
columns and call the whitelisted functions.
"""

from __future__ import annotations

import keyword
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from hessstats.errors import HessstatsError, SpecificationError, message

MAX_LENGTH = 10_000
"""Longest formula accepted (characters)."""
MAX_DEPTH = 50
"""Deepest nesting of parentheses/calls accepted."""

UNARY_TRANSFORMS = frozenset({
    "log", "log2", "log10", "exp", "exp2", "exp10",  # formulaic's TRANSFORMS
    "np.log", "np.log1p", "np.log2", "np.log10", "np.exp", "np.expm1", "np.sqrt", "np.abs", "np.square",
})
TRANSFORMS: dict[str, frozenset[str]] = {
    **{name: frozenset() for name in UNARY_TRANSFORMS},
    "center": frozenset(), "scale": frozenset({"center", "scale", "ddof"}),
    "standardize": frozenset({"center", "scale", "ddof"}), "poly": frozenset({"degree", "raw"}),
    "lag": frozenset({"k"}),
    "bs": frozenset({"df", "knots", "degree", "include_intercept", "lower_bound", "upper_bound", "extrapolation"}),
}
"""Allowed transforms: name -> keyword arguments allowed after the first argument (literals only;
unary functions take exactly one argument, the others also take literal positional arguments)."""
CONTRASTS = frozenset({"Treatment", "Sum", "Helmert", "Diff", "Poly"})
"""Contrast names allowed as the second argument of ``C(...)``."""

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![\w.]))
  | (?P<name>[^\W\d]\w*)
  | (?P<string>'[^'"`\\\n\r()\[\]{}%]*'|"[^'"`\\\n\r()\[\]{}%]*")
  | (?P<backtick>`[^`\\\n\r]+`)
  | (?P<op>\*\*|[~+\-*/:(),={}\[\].])
""", re.VERBOSE)


@dataclass(frozen=True)
class Token:
    """One token: kind (``name``, ``number``, ``string``, ``backtick``, ``op``, ``end``), text, position.

    Example
    -------
    >>> tokenize("y ~ x")[2]
    Token(kind='name', text='x', start=4, end=5)
    """

    kind: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class FormulaVariables:
    """What a checked formula uses.

    ``outcome``: columns on the left of ``~``; ``variables``: every column used;
    ``categorical``: columns that appear *only* as the first argument of ``C(...)`` (so a
    numeric-looking but malformed column there is meant as categories).

    Example
    -------
    >>> v = check_formula("y ~ x + C(g) + np.log(`a b`)")
    >>> v.outcome, sorted(v.variables), sorted(v.categorical)
    (('y',), ['a b', 'g', 'x', 'y'], ['g'])
    """

    text: str
    outcome: tuple[str, ...]
    variables: frozenset[str]
    categorical: frozenset[str]


@dataclass
class _State:
    text: str
    tokens: list[Token]
    error: type[HessstatsError]
    origin: str
    pos: int = 0
    depth: int = 0
    used: list[str] = field(default_factory=list)
    positions: dict[str, Token] = field(default_factory=dict)
    in_c: set[str] = field(default_factory=set)
    outside_c: set[str] = field(default_factory=set)


def tokenize(text: str, *, error: type[HessstatsError] = SpecificationError, origin: str = "formula") -> list[Token]:
    """Split a formula into tokens; a character outside the grammar raises ``error``.

    Example
    -------
    >>> [t.text for t in tokenize("y ~ C(g) + `a b`")]
    ['y', '~', 'C', '(', 'g', ')', '+', '`a b`', '']
    """
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            ch = text[pos]
            hint = ("strings only as Q(\"column\") or a contrast literal, without quotes, backslashes, backticks, "
                    "brackets or % inside (write such column names in backticks: `income (USD)`)"
                    if ch in "'\"`\\" else "the characters of the formula grammar: names, numbers, ~ + - * / : ( ) , = { } [ ] .")
            _fail(text, pos, pos + 1, f"the {origin} contains a character that is not allowed: {ch!r}",
                  expected=hint, error=error, origin=origin)
        kind = match.lastgroup
        if kind != "space":
            tokens.append(Token(kind, match.group(), pos, match.end()))
        pos = match.end()
    tokens.append(Token("end", "", len(text), len(text)))
    return tokens


def check_formula(formula: object, columns: Iterable[object] | None = None, *, outcome: bool = True,
                  error: type[HessstatsError] = SpecificationError, origin: str = "formula") -> FormulaVariables:
    """Check ``formula`` against the restricted grammar (module docstring); never evaluates it.

    ``outcome=True`` requires ``outcome ~ terms``; ``outcome=False`` accepts a one-sided formula
    (``"~ x"`` or ``"x"``, e.g. the inflation part of ``zip``). With ``columns``, every column name
    must be one of them. Raises ``error`` (default :class:`~hessstats.errors.SpecificationError`);
    ``origin`` names the formula in messages (e.g. ``"formula in snap.json"``).

    Example
    -------
    >>> sorted(check_formula("GRADE ~ GPA + I(TUCE**2) + C(PSI)", ["GRADE", "GPA", "TUCE", "PSI"]).variables)
    ['GPA', 'GRADE', 'PSI', 'TUCE']
    >>> try:
    ...     check_formula("y ~ I(__import__('os').system('id'))")
    ... except SpecificationError as exc:
    ...     print(str(exc).splitlines()[0])
    the formula calls a function that is not allowed: '__import__'
    """
    if not isinstance(formula, str):
        raise error(message(f"the {origin} must be a string", expected="a formula such as 'y ~ x1 + x2'",
                            got=f"{type(formula).__name__}: {_short(repr(formula))}", fix="pass the formula as text"))
    if len(formula) > MAX_LENGTH:
        raise error(message(f"the {origin} is too long", expected=f"at most {MAX_LENGTH} characters",
                            got=f"{len(formula)} characters", fix="shorten the formula"))
    state = _State(formula, tokenize(formula, error=error, origin=origin), error, origin)
    tilde = [t for t in state.tokens if t.text == "~"]
    if len(tilde) > 1:
        _fail(formula, tilde[1].start, tilde[1].end, f"the {origin} has more than one '~'",
              expected="'outcome ~ terms'", error=error, origin=origin)
    lhs: list[str] = []
    if tilde and state.tokens[0].text != "~":
        _sum(state)
        lhs = list(state.used)
        _expect(state, "~")
    elif tilde:
        if outcome:
            _fail(formula, tilde[0].start, tilde[0].end, f"the {origin} has no outcome",
                  expected="'outcome ~ terms'", error=error, origin=origin, fix="put the outcome left of '~'")
        _expect(state, "~")
    elif outcome:
        _fail(formula, 0, len(formula), f"the {origin} has no outcome", expected="'outcome ~ terms'",
              error=error, origin=origin, fix="put the outcome left of '~'")
    _sum(state)
    if state.tokens[state.pos].kind != "end":
        tok = state.tokens[state.pos]
        _fail(formula, tok.start, tok.end, f"unexpected {tok.text!r} in the {origin}",
              expected="an operator (+ - : * /) between terms", error=error, origin=origin)
    if columns is not None:
        known = {str(c) for c in columns}
        for name in dict.fromkeys(state.used):
            if name not in known:
                tok = state.positions[name]
                _fail(formula, tok.start, tok.end, f"the {origin} names an unknown column {name!r}",
                      expected=f"columns of the data: {_short(str(sorted(known)))}", error=error, origin=origin,
                      fix="check the column name (names are case-sensitive)")
    return FormulaVariables(formula, tuple(dict.fromkeys(lhs)), frozenset(state.used),
                            frozenset(state.in_c - state.outside_c))


# ------------------------------------------------------------------------------ formula level
def _sum(s: _State) -> None:
    if _peek(s).kind == "op" and _peek(s).text in ("+", "-"):
        s.pos += 1
    _product(s)
    while _peek(s).kind == "op" and _peek(s).text in ("+", "-"):
        s.pos += 1
        if _peek(s).kind == "op" and _peek(s).text in ("+", "-"):  # formulaic reads "x + -1" as "x - 1"
            s.pos += 1
        _product(s)


def _product(s: _State) -> None:
    _power(s)
    while _peek(s).kind == "op" and _peek(s).text in ("*", "/", ":"):
        s.pos += 1
        _power(s)


def _power(s: _State) -> None:
    _term(s)
    if _peek(s).text == "**" and _peek(s).kind == "op":
        s.pos += 1
        tok = _next(s)
        if tok.kind != "number" or not tok.text.isdigit():
            _fail(s.text, tok.start, tok.end, "'**' in a formula takes a whole number (interaction order)",
                  expected="e.g. (a + b + c)**2; powers of a variable go in I(x**2)", error=s.error, origin=s.origin)


def _term(s: _State) -> None:
    tok = _peek(s)
    if tok.kind == "op" and tok.text == "(":
        s.pos += 1
        _nested(s, _sum)
        _expect(s, ")")
    elif tok.kind == "op" and tok.text == "{":
        s.pos += 1
        _nested(s, _arith)
        _expect(s, "}")
    elif tok.kind == "number":
        if tok.text not in ("0", "1"):
            _fail(s.text, tok.start, tok.end, f"the number {tok.text} cannot be a term",
                  expected="0 or 1 (intercept) as a term; other numbers inside I(...)", error=s.error, origin=s.origin)
        s.pos += 1
    elif tok.kind in ("name", "backtick"):
        func = None if _is_q(s) else _function_name(s)
        if func is None:
            _column(s, outside_c=True)
        elif func == "C":
            _c_call(s)
        elif func == "I":
            _expect(s, "(")
            _nested(s, _arith)
            _expect(s, ")")
        else:
            _transform(s, func)
    else:
        _fail(s.text, tok.start, tok.end, f"unexpected {tok.text or 'end'!r} in the {s.origin}",
              expected="a column name, C(name), I(...), a transform, 0/1 or (...)", error=s.error, origin=s.origin)


# ------------------------------------------------------------------------------ calls
def _function_name(s: _State) -> str | None:
    """If a call starts here, consume the function name (checked) and return it; else ``None``."""
    tok = _peek(s)
    if tok.kind != "name":
        return None
    after = s.tokens[s.pos + 1]
    if after.kind == "op" and after.text == ".":
        attr = s.tokens[min(s.pos + 2, len(s.tokens) - 1)]
        dotted = f"{tok.text}.{attr.text}"
        call = s.tokens[min(s.pos + 3, len(s.tokens) - 1)]
        if attr.kind != "name" or dotted not in TRANSFORMS or call.text != "(":
            _fail(s.text, tok.start, attr.end, f"attribute access is not allowed in the {s.origin}: {dotted!r}",
                  expected=f"a column name or one of the transforms {sorted(TRANSFORMS)}", error=s.error, origin=s.origin,
                  fix="write a column with dots as `a.b` or Q(\"a.b\")")
        s.pos += 3
        return dotted
    if after.kind == "op" and after.text == "(":
        if tok.text in ("C", "I") or tok.text in TRANSFORMS:
            s.pos += 1
            return tok.text
        _fail(s.text, tok.start, tok.end, f"the {s.origin} calls a function that is not allowed: {tok.text!r}",
              expected=f"C(...), I(...), Q(\"...\") or one of the transforms {sorted(TRANSFORMS)}",
              error=s.error, origin=s.origin)
    return None


def _is_q(s: _State) -> bool:
    tok, after = _peek(s), s.tokens[min(s.pos + 1, len(s.tokens) - 1)]
    return tok.kind == "name" and tok.text == "Q" and after.kind == "op" and after.text == "("


def _column(s: _State, *, outside_c: bool) -> str:
    tok = _next(s)
    if tok.kind == "backtick":
        name = tok.text[1:-1]
    elif tok.kind == "name" and tok.text == "Q" and _peek(s).text == "(":
        _expect(s, "(")
        lit = _next(s)
        if lit.kind != "string":
            _fail(s.text, lit.start, lit.end, "Q(...) takes one quoted column name",
                  expected='Q("column name")', error=s.error, origin=s.origin)
        _expect(s, ")")
        name = lit.text[1:-1]
    elif tok.kind == "name":
        name = tok.text
        _check_identifier(s, tok)
    else:
        _fail(s.text, tok.start, tok.end, f"expected a column name, got {tok.text or 'end'!r}",
              expected="a name, `backticked name` or Q(\"name\")", error=s.error, origin=s.origin)
    if not name.isprintable() or not name.strip():
        _fail(s.text, tok.start, tok.end, "a column name must be printable text",
              expected="printable characters", error=s.error, origin=s.origin)
    s.used.append(name)
    s.positions.setdefault(name, tok)
    (s.outside_c if outside_c else s.in_c).add(name)
    return name


def _check_identifier(s: _State, tok: Token) -> None:
    name = tok.text
    if (name.startswith("__") or keyword.iskeyword(name) or not name.isidentifier()
            or unicodedata.normalize("NFKC", name) != name):
        _fail(s.text, tok.start, tok.end, f"the {s.origin} uses a name that is not allowed: {name!r}",
              expected="column names (not Python keywords, not starting with '__', NFKC-normalised)",
              error=s.error, origin=s.origin, fix="if it really is a column, write it as `name` or Q(\"name\")")


def _c_call(s: _State) -> None:
    _expect(s, "(")
    s.depth += 1
    _column(s, outside_c=False)
    while _peek(s).text == ",":
        s.pos += 1
        tok = _peek(s)
        if tok.kind == "name" and s.tokens[s.pos + 1].text == "=":
            if tok.text != "levels":
                _fail(s.text, tok.start, tok.end, f"C(...) keyword {tok.text!r} is not allowed",
                      expected="levels=[...]", error=s.error, origin=s.origin)
            s.pos += 2
            _expect(s, "[")
            _literal(s)
            while _peek(s).text == ",":
                s.pos += 1
                _literal(s)
            _expect(s, "]")
        elif tok.kind == "name" and tok.text in CONTRASTS:
            s.pos += 1
            if _peek(s).text == "(":
                s.pos += 1
                arg = _peek(s)
                if arg.kind == "name" and s.tokens[s.pos + 1].text == "=":
                    if arg.text != "reference":
                        _fail(s.text, arg.start, arg.end, f"contrast keyword {arg.text!r} is not allowed",
                              expected="reference=literal", error=s.error, origin=s.origin)
                    s.pos += 2
                if _peek(s).text != ")":
                    _literal(s)
                _expect(s, ")")
        else:
            _fail(s.text, tok.start, tok.end, f"unexpected {tok.text!r} in C(...)",
                  expected=f"a contrast ({', '.join(sorted(CONTRASTS))}) or levels=[...]", error=s.error, origin=s.origin)
    _expect(s, ")")
    s.depth -= 1


def _transform(s: _State, func: str) -> None:
    _expect(s, "(")
    _nested(s, _arith)
    allowed = TRANSFORMS[func]
    while _peek(s).text == ",":
        s.pos += 1
        tok = _peek(s)
        if func in UNARY_TRANSFORMS:
            _fail(s.text, tok.start, tok.end, f"{func}(...) takes one argument", expected=f"{func}(column or arithmetic)",
                  error=s.error, origin=s.origin)
        if tok.kind == "name" and s.tokens[s.pos + 1].text == "=":
            if tok.text not in allowed:
                _fail(s.text, tok.start, tok.end, f"{func}(...) keyword {tok.text!r} is not allowed",
                      expected=f"one of {sorted(allowed)}", error=s.error, origin=s.origin)
            s.pos += 2
        _literal(s, strings=False)
    _expect(s, ")")


def _literal(s: _State, *, strings: bool = True) -> None:
    tok = _next(s)
    if tok.kind == "op" and tok.text == "-" and _peek(s).kind == "number":
        tok = _next(s)
    if tok.kind == "number" or (strings and tok.kind == "string") or (tok.kind == "name" and tok.text in ("True", "False")):
        return
    _fail(s.text, tok.start, tok.end, f"expected a literal, got {tok.text or 'end'!r}",
          expected="a number" + (", a quoted string" if strings else "") + ", True or False",
          error=s.error, origin=s.origin)


# ------------------------------------------------------------------------------ arithmetic (I(...), {...})
def _arith(s: _State) -> None:
    _arith_product(s)
    while _peek(s).kind == "op" and _peek(s).text in ("+", "-"):
        s.pos += 1
        _arith_product(s)


def _arith_product(s: _State) -> None:
    _arith_unary(s)
    while _peek(s).kind == "op" and _peek(s).text in ("*", "/"):
        s.pos += 1
        _arith_unary(s)


def _arith_unary(s: _State) -> None:
    if _peek(s).kind == "op" and _peek(s).text in ("+", "-"):
        s.pos += 1
        _nested(s, _arith_unary)
        return
    _arith_atom(s)
    if _peek(s).kind == "op" and _peek(s).text == "**":
        s.pos += 1
        _nested(s, _arith_unary)


def _arith_atom(s: _State) -> None:
    tok = _peek(s)
    if tok.kind == "number":
        s.pos += 1
    elif tok.kind == "op" and tok.text == "(":
        s.pos += 1
        _nested(s, _arith)
        _expect(s, ")")
    elif tok.kind in ("name", "backtick"):
        func = None if _is_q(s) else _function_name(s)
        if func is None:
            _column(s, outside_c=True)
        elif func in TRANSFORMS:
            _transform(s, func)
        else:
            _fail(s.text, tok.start, tok.end, f"{func}(...) is not allowed inside arithmetic",
                  expected=f"numbers, column names, + - * / **, and the transforms {sorted(TRANSFORMS)}",
                  error=s.error, origin=s.origin)
    else:
        _fail(s.text, tok.start, tok.end, f"unexpected {tok.text or 'end'!r} in arithmetic",
              expected="a number, a column name, a transform or (...)", error=s.error, origin=s.origin)


# ------------------------------------------------------------------------------ helpers
def _nested(s: _State, rule) -> None:
    s.depth += 1
    if s.depth > MAX_DEPTH:
        tok = _peek(s)
        _fail(s.text, tok.start, tok.end, f"the {s.origin} is nested too deeply", expected=f"at most {MAX_DEPTH} levels",
              error=s.error, origin=s.origin, fix="simplify the formula")
    rule(s)
    s.depth -= 1


def _peek(s: _State) -> Token:
    return s.tokens[s.pos]


def _next(s: _State) -> Token:
    tok = s.tokens[s.pos]
    if tok.kind != "end":
        s.pos += 1
    return tok


def _expect(s: _State, text: str) -> None:
    tok = _next(s)
    if tok.kind != "op" or tok.text != text:
        _fail(s.text, tok.start, tok.end, f"expected {text!r} in the {s.origin}, got {tok.text or 'end'!r}",
              expected=f"{text!r}", error=s.error, origin=s.origin)


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _fail(text: str, start: int, end: int, problem: str, *, expected: str, error: type[HessstatsError],
          origin: str, fix: str | None = None) -> None:
    if len(text) > 200:  # show a window around the offending token
        lo = max(0, start - 80)
        shown, start, end = text[lo:lo + 200], start - lo, min(end, lo + 200) - lo
    else:
        shown = text
    shown = "".join(ch if ch.isprintable() else "?" for ch in shown)
    caret = " " * start + "^" * max(1, end - start)
    raise error(message(problem, expected=expected, got=repr(_short(text)),
                        fix=fix or f"rewrite the {origin} with the allowed grammar (see hessstats.models.grammar); "
                        "precompute anything else as a data column")
                + f"\n    {shown}\n    {caret}")
