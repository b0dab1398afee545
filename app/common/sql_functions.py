"""SQL functions written differently per database (SQLite, PostgreSQL), each one template a
dialect: `{}` is where the compiled argument goes."""
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


def dialect_function(name: str, type_, doc: str, **templates: str) -> type:
    """A FunctionElement class that compiles to templates[dialect name], or to templates["default"]
    for a dialect not named."""
    element = type(name, (FunctionElement,), {"type": type_, "inherit_cache": True, "__doc__": doc})
    for dialect, template in templates.items():
        def compiled(element, compiler, _template=template, **kw):
            return _template.format(compiler.process(element.clauses, **kw))

        compiles(element, *(() if dialect == "default" else (dialect,)))(compiled)
    return element
