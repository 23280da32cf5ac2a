"""``cronwatch serve``: ping ingestion, the REST API, Prometheus metrics, over one database.

Modules: :mod:`.app` (the ASGI app), :mod:`.ping` (the ping endpoints), :mod:`.ingest` (the
group-committing writer), :mod:`.api` and :mod:`.jobs` (the REST API), :mod:`.metrics`
(``/metrics``), :mod:`.openapi` (``/openapi.json``), :mod:`.pages`, :mod:`.state`,
:mod:`.ratelimit`, :mod:`.errors`.

Importing this package costs Starlette and prometheus_client; ``cronwatch run`` never does.
"""

from cronwatch.web.app import CronwatchApp, create_app
from cronwatch.web.state import ServerSettings

__all__ = ["CronwatchApp", "ServerSettings", "create_app"]
