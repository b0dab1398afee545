from app.auth.authenticate import authenticate, current_actor, current_login_id
from app.common.i18n import LanguageArgs
from app.common.pagination import PageArgs, page_of
from app.common.types import utcnow
from app.common.web import requested_language
from app.extensions import Blueprint
from app.patients.service import language_for
from app.reminders import service
from app.reminders.schemas import (
    DeviceInSchema,
    DeviceSchema,
    InboxArgs,
    MarkedSchema,
    NotificationSchema,
    PreferencesInSchema,
    PreferencesSchema,
    SnoozeSchema,
    UnreadSchema,
)

blp = Blueprint("reminders", __name__, url_prefix="/api/v1/patients/<patient_id>",
                description="Reminder preferences and the in-app inbox. Each account sees the "
                            "notifications delivered to it about this patient.")
me_blp = Blueprint("my-notifications", __name__, url_prefix="/api/v1/me/notifications",
                   description="Everything delivered to this account's in-app inbox, about any patient "
                               "(a coordinator's digests are about none).")
devices_blp = Blueprint("devices", __name__, url_prefix="/api/v1/me/devices",
                        description="Push tokens of the app on this account's devices.")


@blp.route("/notification-preferences", methods=["GET"])
@authenticate
@blp.arguments(LanguageArgs, location="query")
@blp.response(200, PreferencesSchema)
def get_preferences(args, patient_id):
    """Channels, quiet hours, the reminder time of each current plan item, opt-outs, caregivers."""
    return service.preferences(current_actor(), patient_id, utcnow(), requested_language(args.get("lang")))


@blp.route("/notification-preferences", methods=["PUT"])
@authenticate
@blp.arguments(PreferencesInSchema, example={"channels": {"email": True},
                                                "quiet_hours": {"start": "22:00", "end": "07:00"}})
@blp.response(200, PreferencesSchema)
def put_preferences(data, patient_id):
    """Change the fields given (absent ones stay); pending reminders follow at once.
    `caregivers_receive` is the patient's own decision."""
    return service.update_preferences(current_actor(), patient_id, data, utcnow(), requested_language())


@blp.route("/notifications", methods=["GET"])
@authenticate
@blp.arguments(InboxArgs, location="query")
@blp.response(200, page_of(NotificationSchema))
def list_notifications(args, patient_id):
    """The caller's in-app inbox for this patient, newest first (`unread`, `kind` filter)."""
    return service.inbox(current_actor(), patient_id, args, requested_language(args.get("lang")))


@blp.route("/notifications/unread-count", methods=["GET"])
@authenticate
@blp.response(200, UnreadSchema)
def unread_count(patient_id):
    return service.unread_count(current_actor(), patient_id)


@blp.route("/notifications/read", methods=["POST"])
@authenticate
@blp.response(200, MarkedSchema)
def mark_all_read(patient_id):
    """Mark every notification in the caller's inbox for this patient read."""
    return service.mark_all_read(current_actor(), patient_id, utcnow())


@blp.route("/notifications/<uuid:notification_id>/read", methods=["POST"])
@authenticate
@blp.response(200, NotificationSchema)
def mark_read(patient_id, notification_id):
    return service.mark_read(current_actor(), patient_id, notification_id, utcnow(), requested_language())


@blp.route("/notifications/<uuid:notification_id>/snooze", methods=["POST"])
@authenticate
@blp.arguments(SnoozeSchema, example={"until": "30m"})
@blp.response(201, NotificationSchema)
@blp.alt_response(409, description="Too late in the day for `later_today`, the exercise is logged as done already, or (a caregiver) the patient no longer shares reminders with caregivers")
def snooze(data, patient_id, notification_id):
    """Remind again in 30 or 60 minutes (out of quiet hours), or later today; marks it read. One
    snoozed reminder at a time: snoozing again (the reminder or its snoozed copy) moves it."""
    return service.snooze(current_actor(), patient_id, notification_id, data, utcnow(), requested_language())


@me_blp.route("", methods=["GET"])
@authenticate
@me_blp.arguments(InboxArgs, location="query")
@me_blp.response(200, page_of(NotificationSchema))
def my_notifications(args):
    actor = current_actor()
    return service.my_inbox(actor, args, language_for(actor, requested_language(args.get("lang"))))


@me_blp.route("/<uuid:notification_id>/read", methods=["POST"])
@authenticate
@me_blp.response(200, NotificationSchema)
def mark_mine_read(notification_id):
    actor = current_actor()
    return service.mark_mine_read(actor, notification_id, utcnow(), language_for(actor, requested_language()))


@devices_blp.route("", methods=["POST"])
@authenticate
@devices_blp.arguments(DeviceInSchema, example={"token": "fcm-registration-token-from-the-app", "platform": "android"})
@devices_blp.response(200, DeviceSchema, description="Already registered")
@devices_blp.alt_response(201, schema=DeviceSchema, description="Registered")
def register_device(data):
    """Register the app's push token (FCM) for this account; sending it again is safe."""
    device, created = service.register_device(current_actor(), data, utcnow(), current_login_id())
    return device, 201 if created else 200


@devices_blp.route("", methods=["GET"])
@authenticate
@devices_blp.arguments(PageArgs, location="query")
@devices_blp.response(200, page_of(DeviceSchema))
def list_devices(args):
    return service.devices(current_actor(), args)


@devices_blp.route("/<uuid:device_id>", methods=["DELETE"])
@authenticate
@devices_blp.response(204)
def remove_device(device_id):
    """Forget a device (when the app is removed; a logout forgets those registered in its login)."""
    service.remove_device(current_actor(), device_id)
