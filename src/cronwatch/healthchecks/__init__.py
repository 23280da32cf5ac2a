"""Healthchecks compatibility: cronwatch's jobs as Healthchecks' API v3 shows and changes
checks (:mod:`cronwatch.healthchecks.checks`), and the import of a running Healthchecks'
checks (:mod:`cronwatch.healthchecks.importer`). The ping URLs are the server's
(:mod:`cronwatch.web.ping`); the HTTP routes of the API are :mod:`cronwatch.web.hcapi`."""
