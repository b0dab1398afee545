"""The one mailer delivers to a real SMTP server."""
import pytest

from app.common.mail import Mail, MailDeliveryError, MailNotConfigured, send_mail


def test_mail_reaches_a_real_smtp_server_with_text_and_html(app, smtp):
    with app.app_context():
        message_id = send_mail(Mail(to="li@example.org", subject="提醒 reminder", text="站立 30 分钟",
                                    html="<p>站立 30 分钟</p>", language="zh-CN"))
    (received,) = smtp.messages
    assert received["Message-ID"] == message_id
    assert received["Subject"] == "提醒 reminder"
    assert received["Content-Language"] == "zh-CN"
    assert received.get_body(("plain",)).get_content().strip() == "站立 30 分钟"
    assert "<p>站立 30 分钟</p>" in received.get_body(("html",)).get_content()


def test_mail_off_without_a_server(app):
    with app.app_context():
        assert not app.config["MAIL_SERVER"]
        with pytest.raises(MailNotConfigured):
            send_mail(Mail(to="a@example.org", subject="s", text="t"))


def test_unreachable_server_is_a_delivery_error(app, smtp):
    app.config["MAIL_PORT"] = 1  # nothing listens there
    with app.app_context(), pytest.raises(MailDeliveryError):
        send_mail(Mail(to="a@example.org", subject="s", text="t"))
