"""Auth announces a password reset; higher domains (calendar, reminders) subscribe. Auth imports none of them."""
from blinker import Namespace

_signals = Namespace()

# Sent inside the reset's transaction, right before its commit (every login of the account is
# revoked in it too): what a receiver adds there commits with the reset. A receiver only adds
# statements; it never commits, and an error fails the reset.
# sender: the app; kwargs: user (User), now.
password_resetting = _signals.signal("password-resetting")
