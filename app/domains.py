"""The layers of the app, low to high, declared once.

A package may import only from packages before it in LAYERS (tests/test_layers.py checks
this and that there is no import cycle); a lower domain that must make a higher one act
sends a blinker signal instead. create_app calls `register(app)` of every domain in DOMAINS
that exists, in this order: adding a domain is its folder (with `register(app)` in its
__init__.py) plus its line here, where it belongs in the order.
"""

# Infrastructure: settings, the error format, the extensions, shared helpers. No register.
FOUNDATION = ("domains", "config", "errors", "extensions", "common")
# The scheduler process's machinery (app/scheduler.py): jobs of any domain, no domain import.
SCHEDULER = ("scheduler",)

DOMAINS = (
    "health",
    "audit",
    "auth",
    "access",
    "patients",
    "education",
    "exercises",
    "plans",
    "sessions",
    "adherence",
    "dxa",
    "medications",
    "calendar",
    "reminders",
    "rules",
    "coordinator",
    "console",
)

# The CLI and the app factory itself (app/__init__.py) may import anything.
TOP = ("cli", "app")

LAYERS = FOUNDATION + SCHEDULER + DOMAINS + TOP
