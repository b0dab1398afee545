"""Texts a hot path reads again and again (ids, dates), each parsed once per process."""


class ParsedOnce(dict):
    """{text: parse(text)}, filled on first look-up. At most `kept` texts are kept: past that
    all are forgotten at once (the fixed entries stay). Parsed values must be immutable: they
    are shared by every caller."""

    __slots__ = ("parse", "kept", "fixed")

    def __init__(self, parse, kept: int, fixed: dict | None = None):
        super().__init__(fixed or {})
        self.parse, self.kept, self.fixed = parse, kept, dict(fixed or {})

    def __missing__(self, text):
        if len(self) >= self.kept:
            self.clear()
            self.update(self.fixed)
        found = self[text] = self.parse(text)
        return found
