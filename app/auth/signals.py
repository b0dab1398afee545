"""Auth announces a password reset or change; higher domains (calendar, reminders) subscribe. Auth imports none of them."""
from blinker import Namespace

_signals = Namespace()

# Sent inside the reset's or change's transaction, right before its commit (the account's logins
# are revoked in it too, all but keep_login): what a receiver adds there commits with it. A
# receiver only adds statements; it never commits, and an error fails the reset or change.
# What a revoked login made for the account (feed tokens, push registrations) ends with it.
# sender: the app; kwargs: user (User), now, keep_login (the id of the login that stays, the
# change's own; None for a reset, which keeps none).
password_replacing = _signals.signal("password-replacing")
