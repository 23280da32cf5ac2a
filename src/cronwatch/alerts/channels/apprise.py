"""Apprise channel: one event to any of the 100+ services Apprise speaks (Telegram, Slack,
Microsoft Teams, Discord, Mattermost, Matrix, ntfy, Pushover, Gotify, PagerDuty, Opsgenie,
email, SMS gateways, ...), each named by an Apprise URL.

Options (``[channels.NAME]``, ``type = "apprise"``): ``urls`` (a list of Apprise URLs) or
``urls_env`` (the name of an environment variable holding them, separated by spaces or
commas, so that tokens stay out of the config file), ``timeout`` (10 s: each service's connect
and read timeout).

A problem is sent as Apprise's ``failure`` type, a reminder or an escalation as ``warning``, a
recovery as ``success`` (a test as ``info``), with the message's title and its plain-text body.
The delivery counts when Apprise reports success for every URL of the channel; otherwise it is
a :class:`DeliveryError` carrying what Apprise logged, retried like any channel's. A retry
sends to every URL of the channel again: give services that fail independently a channel each.

Incidents: through ``pagerduty://`` and ``opsgenie://`` URLs, the incident's id is the alert's
key (PagerDuty's ``dedup``, Opsgenie's ``alias``) and ``action=map`` is set (unless the URL
sets them), so that reminders stay on one alert and the recovery resolves (PagerDuty) or
closes (Opsgenie, on the host that opened it: Apprise keeps the alert's id in its store under
cronwatch's data directory) what the problem opened. The ``pagerduty`` channel type needs no
store.

Apprise is imported here only, when the first message is sent: it costs about half a second,
which neither ``cronwatch run`` nor the server's start should pay.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from cronwatch.alerts.channels.base import DeliveryError, message_for, secret_from, timeout_of
from cronwatch.alerts.model import Event
from cronwatch.paths import data_dir
from cronwatch.specs import ChannelSpec, ServerSpec

#: The Apprise notification type of each event kind.
NOTIFY_TYPES = {
    "problem": "failure",
    "escalation": "failure",
    "reminder": "warning",
    "recovery": "success",
    "test": "info",
}
_SPLIT = re.compile(r"[\s,]+")
_MAX_ERROR = 500


#: Apprise services that tie messages to one alert by a key in their URL: the incident's id
#: goes there, with ``action=map`` (a recovery resolves or closes the alert), unless the URL
#: sets them itself.
INCIDENT_KEYS = {"pagerduty": "dedup", "opsgenie": "alias"}


def with_incident(url: str, event: Event) -> str:
    """``url`` with ``event``'s incident as the service's alert key (PagerDuty's ``dedup``,
    Opsgenie's ``alias``) and ``action=map``, for the services of :data:`INCIDENT_KEYS`;
    any other URL, or one that sets them already, as it is."""
    scheme = url.split("://", 1)[0].lower()
    key = INCIDENT_KEYS.get(scheme)
    if key is None or not event.incident:
        return url
    query = parse_qs(urlsplit(url).query)
    extra = {} if key in query else {key: event.incident}
    if "action" not in query:
        extra["action"] = "map"
    if not extra:
        return url
    return url + ("&" if "?" in url else "?") + urlencode(extra)


class _Collect(logging.Handler):
    """Apprise's warnings and errors logged during one send: why it failed. (Apprise sends
    from worker threads, so records are not filtered by thread; a send running at the same
    time in another loop of this process may add its lines.)"""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


class AppriseChannel:
    """Sends each event through Apprise to every URL of the channel."""

    def __init__(self, spec: ChannelSpec, server: ServerSpec | None = None) -> None:
        self.name = spec.name
        self.spec = spec
        self.server = server or ServerSpec()
        self.timeout = timeout_of(spec)

    def urls(self) -> list[str]:
        """The channel's URLs (read from the environment at each send with ``urls_env``)."""
        if "urls" in self.spec.options:
            return [str(url) for url in self.spec.options["urls"]]  # type: ignore[attr-defined]
        return [url for url in _SPLIT.split(secret_from(self.spec, "urls")) if url]

    def send(self, event: Event) -> None:
        message = message_for(event, self.server)
        notifier = self._notifier(event)
        collect = _Collect()
        logger = logging.getLogger("apprise")
        logger.addHandler(collect)
        try:
            ok = bool(
                notifier.notify(
                    body=message.text,
                    title=message.title,
                    notify_type=NOTIFY_TYPES.get(event.kind, "info"),
                    body_format="text",
                )
            )
        except Exception as exc:  # a plugin's bug is a failed delivery, retried
            raise DeliveryError(f"apprise: {type(exc).__name__}: {exc}") from None
        finally:
            logger.removeHandler(collect)
        if not ok:
            said = "; ".join(dict.fromkeys(collect.lines)) or "a service reported a failure"
            raise DeliveryError(f"apprise: {said}"[:_MAX_ERROR])

    def _notifier(self, event: Event) -> Any:
        import apprise

        # Services that show a sender name show "cronwatch". Apprise's store keeps what a
        # later message needs (the ids of the Opsgenie alerts an incident opened, to close
        # them) under cronwatch's data directory.
        asset = apprise.AppriseAsset(
            app_id="cronwatch", app_desc="cronwatch", storage_path=str(data_dir() / "apprise")
        )
        notifier = apprise.Apprise(asset=asset)
        where = "urls_env" if "urls_env" in self.spec.options else "urls"
        urls = self.urls()
        if not urls:
            raise DeliveryError(f"{where}: no URL to send to")
        seconds = self.timeout.total_seconds()
        for index, url in enumerate(urls):
            service = apprise.Apprise.instantiate(with_incident(url, event), asset=asset)
            if service is None:
                scheme = url.split("://", 1)[0]
                # Not the URL itself: it usually holds a token.
                raise DeliveryError(
                    f"{where}[{index}]: Apprise cannot use this {scheme}:// URL (unknown "
                    "service or missing parts; see the Apprise wiki for its form)"
                )
            service.socket_connect_timeout = seconds
            service.socket_read_timeout = seconds
            notifier.add(service)
        return notifier
