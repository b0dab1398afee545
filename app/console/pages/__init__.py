"""The console's pages, one module per part: importing them registers their routes on bp."""
from app.console.pages import account, actions, caseload, flags, patient  # noqa: F401
