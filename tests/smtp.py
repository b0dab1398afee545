"""A real SMTP server on loopback for the tests (aiosmtpd): what arrives can be read back."""
import email
import email.policy
import socket
import threading

from aiosmtpd.controller import Controller


class _Inbox:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:  # aiosmtpd's readiness check cannot use port 0
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpServer:
    def __init__(self):
        self.inbox = _Inbox()
        self.port = _free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    @property
    def messages(self):
        return list(self.inbox.messages)

    def clear(self):
        self.inbox.messages.clear()

    def to(self, address: str):
        return [m for m in self.messages if address in m["To"]]
