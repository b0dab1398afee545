"""What a service returns when a model alone is not the answer: the model with more.

The schemas dump these like models; an attribute the wrapper does not have is read from the
objects it wraps, in order. So a shape is declared once, in its schema."""


class Extends:
    """Mix into a dataclass; `_extends` names the fields whose objects lend their attributes."""

    _extends: tuple[str, ...] = ()

    def __getattr__(self, name):
        if name.startswith("_") or name in self._extends:
            raise AttributeError(name)
        for field in self._extends:
            wrapped = self.__dict__.get(field)
            if wrapped is not None and hasattr(wrapped, name):
                return getattr(wrapped, name)
        raise AttributeError(name)
