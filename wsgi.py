"""The WSGI entry point (gunicorn wsgi:app, flask --app wsgi). A configuration the app refuses
is one line on stderr, not a traceback."""
import sys

from app import create_app
from app.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    sys.stderr.write(f"standstrong: refusing to start: {error}\n")
    # 3 is gunicorn's "worker failed to boot": the arbiter stops instead of respawning workers.
    raise SystemExit(3) from None
