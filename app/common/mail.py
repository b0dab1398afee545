"""Sending e-mail over SMTP: the one mailer, for password resets and the reminders' e-mail
channel alike. Configured by MAIL_* settings; with no MAIL_SERVER, e-mail is switched off
and sending raises MailNotConfigured so callers can record why nothing went out."""
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app


class MailNotConfigured(RuntimeError):
    pass


class MailDeliveryError(RuntimeError):
    """The SMTP server refused or could not be reached; worth retrying later."""


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None
    language: str | None = None  # sets Content-Language


def mail_enabled() -> bool:
    return bool(current_app.config.get("MAIL_SERVER"))


def build_message(mail: Mail) -> EmailMessage:
    cfg = current_app.config
    message = EmailMessage()
    message["From"] = cfg["MAIL_FROM"]
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Message-ID"] = make_msgid(domain=cfg["MAIL_FROM"].rpartition("@")[2] or None)
    message.set_content(mail.text)
    if mail.html:
        message.add_alternative(mail.html, subtype="html")
    if mail.language:  # after the bodies: set_content drops Content-* headers
        message["Content-Language"] = mail.language
    return message


def send_mail(mail: Mail) -> str:
    """Deliver one message; returns its Message-ID. Raises MailDeliveryError on failure."""
    cfg = current_app.config
    if not cfg.get("MAIL_SERVER"):
        raise MailNotConfigured("MAIL_SERVER is not set")
    message = build_message(mail)
    try:
        with smtplib.SMTP(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=cfg["MAIL_TIMEOUT_SECONDS"]) as smtp:
            if cfg["MAIL_USE_TLS"]:
                smtp.starttls(context=ssl.create_default_context())
            if cfg.get("MAIL_USERNAME"):
                smtp.login(cfg["MAIL_USERNAME"], cfg.get("MAIL_PASSWORD") or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        # The class of error only: the recipient is personal data and stays out of logs.
        raise MailDeliveryError(type(error).__name__) from None
    return message["Message-ID"]
