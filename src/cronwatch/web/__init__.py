"""``cronwatch serve``: ping ingestion, the REST API, Prometheus metrics, over one database.

Modules: :mod:`.app` (the ASGI app, and the one handler that turns the library's errors into
HTTP answers), :mod:`.ping` (the ping endpoints), :mod:`.ingest` (the group-committing
writer), :mod:`.api` (the REST API's routes over :mod:`cronwatch.jobs`), :mod:`.metrics`
(``/metrics``), :mod:`.openapi` (``/openapi.json``), :mod:`.dashboard`, :mod:`.pages`,
:mod:`.state`, :mod:`.server` and :mod:`.connections` (uvicorn and its connection limits),
:mod:`.forwarded` (proxy headers), :mod:`.outage`, :mod:`.ratelimit`, :mod:`.errors`.

Importing this package costs Starlette and prometheus_client; ``cronwatch run`` never does.
"""

from cronwatch.web.app import CronwatchApp, create_app
from cronwatch.web.state import ServerSettings

__all__ = ["CronwatchApp", "ServerSettings", "create_app"]
