"""Auth announces that logins end; higher domains (calendar, reminders) subscribe. Auth imports
none of them."""
from blinker import Namespace

_signals = Namespace()

# Sent inside the transaction that revokes the logins, right before its commit: what a receiver
# adds there commits with it. A receiver only adds statements; it never commits, and an error
# fails the revocation. What an ended login made for the account ends with it:
# - its push registrations, always (a phone that logged out must not keep getting the
#   patient's reminder texts);
# - its calendar feed tokens only when compromised: a stolen login (a reused refresh token), a
#   password reset or change (whoever had the old password), a switched-off account. A plain
#   logout (the account holder's own, or the console's sign-in again) leaves them: a calendar
#   subscription is meant to outlive an app login.
# sender: the app; kwargs: user (User), now, compromised (bool), logins (the ids of the logins
# that end; None: every login of the account, and what even an earlier one or none made), and
# keep_login (with logins None: the id of the login that stays, a password change's own).
logins_ending = _signals.signal("logins-ending")
