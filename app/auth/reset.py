"""The password-reset e-mail: texts from seed/auth/messages.yaml (en, zh-CN), sent through the
one mailer after the answer has gone out, so the answer's time does not tell whether the
account exists."""
import logging
from functools import lru_cache

from flask import after_this_request, current_app

from app.common.i18n import DEFAULT_LANGUAGE
from app.common.mail import Mail, MailDeliveryError, MailNotConfigured, send_mail
from app.common.yaml_files import read_yaml
from app.config import BASE_DIR

log = logging.getLogger("standstrong.auth")


@lru_cache(maxsize=1)
def messages() -> dict:
    return read_yaml(BASE_DIR / "seed" / "auth" / "messages.yaml")


def reset_mail(to: str, name: str, code: str, language: str, minutes: int) -> Mail:
    texts = messages()["password_reset"]
    language = language if language in texts else DEFAULT_LANGUAGE
    text = texts[language]
    return Mail(to=to, subject=text["subject"], language=language,
                text=text["text"].format(name=name, code=code, minutes=minutes))


def deliver_after_the_answer(mail: Mail) -> None:
    """Send once the answer has gone out (the response's close), within an app context."""
    app = current_app._get_current_object()

    def deliver():
        with app.app_context():
            try:
                send_mail(mail)
            except (MailNotConfigured, MailDeliveryError) as error:
                log.warning("password reset e-mail not sent: %s", type(error).__name__)

    @after_this_request
    def _schedule(response):
        response.call_on_close(deliver)
        return response
