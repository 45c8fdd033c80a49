"""LaTeX formulas as escaped, readable HTML, with no math engine and no network.

The seed's equations are short ``align`` bodies built from a small vocabulary: sums with
limits, fractions, partial derivatives, sub- and superscripts, Greek letters, ``\\text``,
``\\left``/``\\right`` delimiters and ``\\tag``. :func:`latex_to_html` turns that vocabulary into
Unicode and a handful of fixed HTML elements (``<sub>``, ``<sup>``, ``<span class=...>``,
``<br>``); every character taken from the input is HTML-escaped, so a formula can never inject
markup. Anything it does not know is shown as the escaped source text.
"""
from __future__ import annotations

import re

from markupsafe import Markup, escape

__all__ = ["latex_to_html"]

_SYMBOLS: dict[str, str] = {
    # Greek
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ϵ",
    "varepsilon": "ε", "zeta": "ζ", "eta": "η", "theta": "θ", "iota": "ι", "kappa": "κ",
    "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ",
    "tau": "τ", "phi": "ϕ", "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
    "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π",
    "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
    # operators and relations
    "partial": "∂", "nabla": "∇", "ast": "∗", "star": "⋆", "otimes": "⊗", "oplus": "⊕",
    "odot": "⊙", "cdot": "·", "times": "×", "div": "÷", "pm": "±", "mp": "∓", "circ": "∘",
    "prime": "′", "in": "∈", "notin": "∉", "subset": "⊂", "subseteq": "⊆", "cup": "∪",
    "cap": "∩", "forall": "∀", "exists": "∃", "infty": "∞", "leq": "≤", "le": "≤",
    "geq": "≥", "ge": "≥", "neq": "≠", "ne": "≠", "approx": "≈", "equiv": "≡", "sim": "∼",
    "propto": "∝", "to": "→", "rightarrow": "→", "leftarrow": "←", "Rightarrow": "⇒",
    "mapsto": "↦", "ldots": "…", "dots": "…", "cdots": "⋯", "vdots": "⋮", "ddots": "⋱",
    "lbrace": "{", "rbrace": "}", "langle": "⟨", "rangle": "⟩", "lfloor": "⌊",
    "rfloor": "⌋", "lceil": "⌈", "rceil": "⌉", "vert": "|", "Vert": "‖", "mid": "|",
    "{": "{", "}": "}", "|": "‖", "_": "_", "%": "%", "&": "&", "#": "#", "$": "$",
}
_OPERATOR_NAMES = {"max", "min", "arg", "argmax", "argmin", "exp", "log", "ln", "sin",
                   "cos", "tanh", "sinh", "cosh", "sign", "sgn", "det", "sup", "inf", "lim"}
_BIG_OPERATORS = {"sum": "∑", "prod": "∏", "int": "∫", "bigcup": "⋃", "bigcap": "⋂"}
_SPACES = {"quad": "\u2003", "qquad": "\u2003\u2003", ",": "\u2009", ";": "\u2005",
           ":": "\u2005", " ": " ", "!": ""}
_IGNORED = {"left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr",
            "displaystyle", "textstyle", "limits", "nolimits", "nonumber", "notag"}
_SKIP_ARG = {"begin", "end", "label"}
_ACCENTS = {"hat": "\u0302", "bar": "\u0304", "tilde": "\u0303", "vec": "\u20d7",
            "dot": "\u0307", "ddot": "\u0308", "overline": "\u0305"}
_BLACKBOARD = {"R": "ℝ", "N": "ℕ", "Z": "ℤ", "Q": "ℚ", "C": "ℂ"}
_TEXT_COMMANDS = {"text", "mathrm", "textrm", "operatorname", "textnormal", "mbox", "rm"}
_CHAR_MAP = {"-": "−", "'": "′", "*": "∗"}
_MAX_DEPTH = 60


class _Parser:
    """Recursive descent over a LaTeX string; every emitted character is escaped."""

    def __init__(self, source: str) -> None:
        self.s = source
        self.i = 0
        self.depth = 0

    # -- helpers -------------------------------------------------------------------
    def _peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def _skip_spaces(self) -> None:
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1

    def _command_name(self) -> str:
        """Read the name after a backslash (the backslash is at ``self.i``)."""
        self.i += 1
        start = self.i
        while self.i < len(self.s) and self.s[self.i].isalpha():
            self.i += 1
        if self.i == start and self.i < len(self.s):  # control symbol: \{ \, \\ ...
            self.i += 1
        return self.s[start:self.i]

    def _raw_group(self) -> str:
        """The unparsed text of the next ``{...}`` group (or single character)."""
        self._skip_spaces()
        if self._peek() != "{":
            ch = self._peek()
            self.i += 1 if ch else 0
            return ch
        level, start = 0, self.i
        while self.i < len(self.s):
            ch = self.s[self.i]
            level += ch == "{"
            level -= ch == "}"
            self.i += 1
            if level == 0:
                return self.s[start + 1:self.i - 1]
        return self.s[start + 1:]

    # -- grammar -------------------------------------------------------------------
    def sequence(self, closing: bool) -> str:
        """Parse until the matching ``}`` (when ``closing``) or the end of input."""
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise ValueError("formula nested too deeply")
        out: list[str] = []
        while self.i < len(self.s):
            ch = self.s[self.i]
            if ch == "}":
                self.i += 1
                if closing:
                    break
                out.append(str(escape("}")))
            elif ch in "_^":
                out.append(self._script())
            elif ch == "{":
                self.i += 1
                out.append(self.sequence(True))
            elif ch == "\\":
                out.append(self._command())
            elif ch == "&":
                self.i += 1
            elif ch == "~":
                self.i += 1
                out.append("\u00a0")
            elif ch.isspace():
                self._skip_spaces()
                if out and not out[-1].endswith(" "):
                    out.append(" ")
            else:
                self.i += 1
                out.append(str(escape(_CHAR_MAP.get(ch, ch))))
        self.depth -= 1
        return "".join(out)

    def argument(self) -> str:
        """One argument: a braced group, a command, or a single character."""
        self._skip_spaces()
        ch = self._peek()
        if not ch:
            return ""
        if ch == "{":
            self.i += 1
            return self.sequence(True)
        if ch == "\\":
            return self._command()
        self.i += 1
        return str(escape(_CHAR_MAP.get(ch, ch)))

    def _script(self) -> str:
        """``_x``, ``^x``, or both (either order), stacked when both are present."""
        scripts = {"_": "", "^": ""}
        while self._peek() in ("_", "^") and not scripts[self._peek()]:
            mark = self._peek()
            self.i += 1
            scripts[mark] = self.argument() or "&#8203;"
            self._skip_spaces_before_script()
        sub, sup = scripts["_"], scripts["^"]
        if sub and sup:
            return f'<span class="subsup"><sup>{sup}</sup><sub>{sub}</sub></span>'
        return f"<sub>{sub}</sub>" if sub else f"<sup>{sup}</sup>"

    def _skip_spaces_before_script(self) -> None:
        """Skip whitespace only when a script mark follows it."""
        j = self.i
        while j < len(self.s) and self.s[j].isspace():
            j += 1
        if j < len(self.s) and self.s[j] in "_^":
            self.i = j

    def _limits(self) -> tuple[str, str]:
        """Optional ``_{lower}`` and ``^{upper}`` (either order) after a big operator."""
        lower = upper = ""
        for _ in range(2):
            self._skip_spaces()
            if self.s.startswith("\\limits", self.i):
                self.i += len("\\limits")
                self._skip_spaces()
            ch = self._peek()
            if ch == "_" and not lower:
                self.i += 1
                lower = self.argument()
            elif ch == "^" and not upper:
                self.i += 1
                upper = self.argument()
        return lower, upper

    def _command(self) -> str:
        name = self._command_name()
        if name in _BIG_OPERATORS:
            lower, upper = self._limits()
            if not (lower or upper):
                return f'<span class="bigop-sym">{_BIG_OPERATORS[name]}</span>'
            return ('<span class="bigop">'
                    f'<span class="lim">{upper or "&#8203;"}</span>'
                    f'<span class="bigop-sym">{_BIG_OPERATORS[name]}</span>'
                    f'<span class="lim">{lower or "&#8203;"}</span></span>')
        if name in _SYMBOLS:
            return str(escape(_SYMBOLS[name]))
        if name in _OPERATOR_NAMES:
            return f'<span class="mop">{name}</span>'
        if name in _SPACES:
            return _SPACES[name]
        if name == "\\":
            return "<br>"
        if name in ("left", "right"):
            self._skip_spaces()
            if self._peek() == ".":  # the invisible delimiter
                self.i += 1
            return ""
        if name in _IGNORED:
            return ""
        if name in _SKIP_ARG:
            self._raw_group()
            return ""
        if name == "frac" or name == "dfrac" or name == "tfrac":
            num = self.argument()
            den = self.argument()
            return (f'<span class="frac"><span class="num">{num}</span>'
                    f'<span class="den">{den}</span></span>')
        if name == "sqrt":
            return f'√<span class="radicand">{self.argument()}</span>'
        if name in _TEXT_COMMANDS:
            return f'<span class="mtext">{escape(self._raw_group())}</span>'
        if name in ("mathbf", "boldsymbol", "bm"):
            return f"<b>{self.argument()}</b>"
        if name == "mathbb":
            raw = self._raw_group()
            return str(escape("".join(_BLACKBOARD.get(c, c) for c in raw)))
        if name in ("mathcal", "mathit", "mathsf", "mathtt"):
            return self.argument()
        if name in _ACCENTS:
            return f"{self.argument()}{_ACCENTS[name]}"
        if name == "tag":
            return f'<span class="tag">({escape(self._raw_group().strip())})</span>'
        return f'<span class="unknown">{escape(chr(92) + name)}</span>'


def latex_to_html(source: str | None) -> Markup:
    """Render a LaTeX formula as safe inline HTML.

    Parameters
    ----------
    source : str or None
        The formula's LaTeX (math mode, no ``$`` delimiters needed; ``$`` signs are dropped).

    Returns
    -------
    markupsafe.Markup
        ``<span class="math">...</span>``. All input characters are escaped; only fixed
        tags (``sub``, ``sup``, ``span``, ``b``, ``br``) are emitted. If the formula cannot be
        parsed, the escaped source is returned verbatim inside the span.
    """
    text = (source or "").strip().replace("$", "")
    try:
        body = _Parser(text).sequence(False)
    except (ValueError, RecursionError, IndexError):
        body = str(escape(text))
    # drop the breaks and spaces an align environment leaves at either end
    body = re.sub(r"^(?:\s|<br>)+|(?:\s|<br>)+$", "", body)
    return Markup(f'<span class="math">{body}</span>')
