"""Delivery channels behind one interface. The in-app inbox is the outbox row itself; e-mail
goes over SMTP (app/common/mail.py); push through FCM HTTP v1."""
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app

from app.common.mail import Mail, MailDeliveryError, mail_enabled, send_mail


class DeliveryError(RuntimeError):
    """Nothing went out on this channel; worth trying again later."""


@dataclass
class Recipient:
    user_id: object
    email: str | None
    language: str
    email_wanted: bool = False
    push_wanted: bool = False
    devices: list = field(default_factory=list)  # (device id, token)
    dead_devices: list = field(default_factory=list)  # tokens the push service says are gone
    active: bool = True  # False: the account is deactivated, and is sent nothing


class Channel:
    name = ""

    def wanted(self, recipient: Recipient) -> bool:
        raise NotImplementedError

    def send(self, recipient: Recipient, message: dict) -> None:
        """Deliver message ({subject, text, html, data}); raise DeliveryError to retry later."""
        raise NotImplementedError


class InboxChannel(Channel):
    """Always on: marking the row delivered is what puts it in the app's inbox."""

    name = "inbox"

    def wanted(self, recipient):
        return True

    def send(self, recipient, message):
        return None


class EmailChannel(Channel):
    name = "email"

    def wanted(self, recipient):
        return recipient.email_wanted and bool(recipient.email) and mail_enabled()

    def send(self, recipient, message):
        try:
            send_mail(Mail(to=recipient.email, subject=message["subject"], text=message["text"],
                           html=message["html"], language=recipient.language))
        except MailDeliveryError as error:
            raise DeliveryError(f"email: {error}") from None


class PushChannel(Channel):
    """FCM HTTP v1: POST {FCM_ENDPOINT}/v1/projects/{FCM_PROJECT_ID}/messages:send per device."""

    name = "push"

    def wanted(self, recipient):
        return recipient.push_wanted and bool(recipient.devices) and bool(current_app.config["FCM_PROJECT_ID"])

    @staticmethod
    def _access_token() -> str:
        cfg = current_app.config
        if cfg["FCM_ACCESS_TOKEN_FILE"]:  # re-read each time, so a rotated token is picked up
            return Path(cfg["FCM_ACCESS_TOKEN_FILE"]).read_text(encoding="utf-8").strip()
        return cfg["FCM_ACCESS_TOKEN"]

    def send(self, recipient, message):
        cfg = current_app.config
        url = f"{cfg['FCM_ENDPOINT'].rstrip('/')}/v1/projects/{cfg['FCM_PROJECT_ID']}/messages:send"
        headers = {"Authorization": f"Bearer {self._access_token()}", "Content-Type": "application/json; UTF-8"}
        delivered, failures = 0, []
        for _device_id, token in recipient.devices:
            body = {"message": {"token": token,
                                "notification": {"title": message["subject"], "body": message["text"]},
                                "data": {k: str(v) for k, v in message.get("data", {}).items()}}}
            request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=cfg["FCM_TIMEOUT_SECONDS"]) as response:
                    response.read()
                delivered += 1
            except urllib.error.HTTPError as error:
                if error.code in (400, 404) and b"UNREGISTERED" in error.read():
                    recipient.dead_devices.append(token)  # the app was removed from that device
                else:
                    failures.append(f"HTTP {error.code}")
            except OSError as error:
                failures.append(type(error).__name__)
        if failures and not delivered:
            raise DeliveryError("push: " + ", ".join(sorted(set(failures))))


CHANNELS: list[Channel] = [InboxChannel(), EmailChannel(), PushChannel()]
