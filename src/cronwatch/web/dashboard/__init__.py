"""The dashboard: the page an ops person keeps open, served by ``cronwatch serve``.

Routes (all ``GET`` unless noted, all HTML):

- ``/``: every job with its status (colour and word), reason, hosts, last run, next expected
  run, last duration and a runtime sparkline; problems first; filtered by ``status``, ``tag``,
  ``host`` and ``q`` (a plain GET form); refreshed in place every 10 seconds by htmx
  (an htmx request to ``/`` answers only the jobs part).
- ``/jobs/{name}`` (and ``/jobs?name=`` for the names ``.`` and ``..``): one job: its runtime
  chart (uPlot) with its bounds, learned band, failures and missed slots; its runs
  (``?host=``, ``?before=`` pages back); its hosts; its schedule in words and its next
  expected runs in its timezone, in UTC and in the viewer's.
- ``/runs/{id}/output``: the tail of one run's output, loaded on demand.
- ``/act`` (POST): the actions of a session signed in with a write key: pause, resume,
  snooze, unsnooze, acknowledge, edit, delete (:mod:`.acting`; CSRF: :mod:`.access`).
- ``/ack`` (POST): acknowledge a job's open incident with a write key typed into the form.
- ``/login`` (GET, POST), ``/logout`` (POST): see :mod:`.access` for who may read.
- ``/static/...``: the stylesheet, ``dashboard.js`` and the vendored htmx and uPlot
  (``static/vendor/README.md``: versions, sources, checksums, licenses).

Without JavaScript everything but the live refresh, the interactive chart (a static SVG
chart stands in) and the viewer's-timezone column works. Modules: :mod:`.overview` and
:mod:`.jobpage` (what a page shows, no HTTP; the SQL is :mod:`cronwatch.storage.dashboard`),
:mod:`.missed`,
:mod:`.svg`, :mod:`.render` (templates, escaping, security headers), :mod:`.access`,
:mod:`.handlers`, :mod:`.acting`.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from cronwatch.web.dashboard import access, acting, handlers
from cronwatch.web.dashboard.render import STATIC

routes: list[BaseRoute] = [
    Route("/", handlers.overview, methods=["GET"]),
    Route("/jobs", handlers.job_by_query, methods=["GET"]),
    Route("/jobs/{name}", handlers.job, methods=["GET"]),
    Route("/runs/{run_id:int}/output", handlers.run_output, methods=["GET"]),
    Route("/act", acting.act, methods=["POST"]),
    Route("/ack", handlers.ack, methods=["POST"]),
    Route("/login", access.login, methods=["GET", "POST"]),
    Route("/logout", access.logout, methods=["POST"]),
    Mount("/static", StaticFiles(directory=STATIC), name="static"),
]

__all__ = ["routes"]
