"""Posts one signed webhook delivery over HTTP(S), to the address it checked.

The name is resolved once; the address that will be connected to is checked
(not private, loopback or link-local unless allowed) and the connection goes to
that exact address, with the name in the ``Host`` header and in TLS (SNI and
certificate check). A name that resolves to a public address for the check and
to a private one for the connection (DNS rebinding) therefore cannot reach the
private one. Redirects are not followed: ``http.client`` never follows them,
and a 3xx is not 2xx, so it is retried like any other refusal.

The timeout bounds the whole attempt, not each read: ``http.client``'s own
timeout applies to one socket operation at a time, so a receiver answering a
byte now and then would hold an attempt (and its endpoint's lane) past the
delivery's lease, and another process would send the delivery again meanwhile.
A watchdog shuts the attempt's socket when its time is up.

Signing follows the Standard Webhooks specification, with its reference
library (``standardwebhooks``).
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
from datetime import UTC, datetime
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook as Signer

from shiftfill.domain.webhooks import Attempt, Delivery, Webhook, refused_address

USER_AGENT = "shiftfill-webhooks/1"


def signed_headers(webhook: Webhook, delivery: Delivery, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt made at ``at``."""
    signature = Signer(webhook.secret).sign(delivery.id, at, delivery.body)
    return {
        "webhook-id": delivery.id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


class _Watchdog:
    """Ends an attempt at its deadline by shutting its socket down, whatever it is waiting on.

    A read blocked on the socket then returns at once (the end of the stream),
    and the attempt fails; ``expired`` tells the sender that this was the cause.
    """

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        """Guard ``sock`` from now on; one connected after the deadline is shut at once."""
        with self._lock:
            self._sock = sock
            if self.expired:
                self._shut()

    def stop(self) -> None:
        """Disarm: the attempt is over, and its socket is about to be closed."""
        self._timer.cancel()
        with self._lock:
            self._sock = None

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            self._shut()

    def _shut(self) -> None:
        if self._sock is not None:
            # The plain socket's shutdown, also on a TLS socket: it acts on the connection
            # under it and leaves the TLS object to the reading thread. OSError: the
            # other side closed it already.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """An HTTPS connection to ``address`` that speaks TLS to ``host`` (SNI, certificate)."""

    def __init__(
        self, host: str, port: int, address: str, watchdog: _Watchdog, timeout: float
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address
        self._watchdog = watchdog

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        tls = self._context.wrap_socket(  # type: ignore[attr-defined]
            sock, server_hostname=self.host, do_handshake_on_connect=False
        )
        self._watchdog.watch(tls)  # before the handshake, which a receiver can trickle too
        try:
            tls.do_handshake()
        except BaseException:
            tls.close()  # ``self.sock`` is not set yet: ``close()`` would not reach it
            raise
        self.sock = tls


class _PinnedHTTP(http.client.HTTPConnection):
    """A plain connection to ``address`` (allowed only with private addresses, for tests)."""

    def __init__(
        self, host: str, port: int, address: str, watchdog: _Watchdog, timeout: float
    ) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address
        self._watchdog = watchdog

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self._watchdog.watch(self.sock)


class HttpWebhookSender:
    """Sends deliveries with ``http.client``: one connection per attempt, of ``timeout``
    seconds in all once the name is resolved."""

    def __init__(self, *, timeout: float = 10.0, allow_private: bool = False) -> None:
        self._timeout = timeout
        self._allow_private = allow_private

    def send(self, webhook: Webhook, delivery: Delivery) -> Attempt:
        try:
            return self._send(webhook, delivery)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            # Timeouts, refused connections, TLS errors, a receiver that hung up; a URL
            # stored before its port and name were checked (``ValueError``, ``UnicodeError``).
            return Attempt(error=f"{type(exc).__name__}: {exc}"[:500])

    def _send(self, webhook: Webhook, delivery: Delivery) -> Attempt:
        parts = urlsplit(webhook.url)
        host = parts.hostname or ""
        secure = parts.scheme == "https"
        if not secure and not self._allow_private:
            return Attempt(error="refused: only https:// URLs are allowed")
        port = parts.port or (443 if secure else 80)
        address = self._resolve(host, port)
        if not self._allow_private:
            why = refused_address(address)
            if why:
                return Attempt(error=f"refused: {why}")
        kind = _PinnedHTTPS if secure else _PinnedHTTP
        watchdog = _Watchdog(self._timeout)
        connection = kind(host, port, address, watchdog, self._timeout)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        headers = {
            **signed_headers(webhook, delivery, datetime.now(UTC)),
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        watchdog.start()
        timed_out = False
        try:
            connection.request("POST", path, body=delivery.body.encode(), headers=headers)
            response = connection.getresponse()
            response.read(64 * 1024)  # enough to end the exchange; the body is not kept
        except TimeoutError:
            # One socket operation waited the whole timeout, so the attempt's time is up as
            # well, whichever went off first: the socket's timer or the watchdog's thread.
            timed_out = True
        except (OSError, http.client.HTTPException):
            if not watchdog.expired:
                raise
        finally:
            watchdog.stop()
            connection.close()
        if timed_out or watchdog.expired:
            # A read timed out, or the socket was shut mid-answer: ``http.client`` raised, or
            # took that for the end of the headers or the body. A cut-off answer is no delivery.
            return Attempt(error=f"timed out after {self._timeout:g} s")
        return Attempt(status_code=response.status)

    @staticmethod
    def _resolve(host: str, port: int) -> str:
        """The first address the name resolves to: the one checked and connected to."""
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        if not infos:
            raise OSError(f"{host} does not resolve")
        return str(infos[0][4][0])
