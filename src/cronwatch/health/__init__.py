"""Health: from the recorded runs, each job's status and the reason for it.

``model`` holds the facts an evaluation reads and the statuses it produces, ``evaluate`` the
rules (pure functions, no database), and ``service`` puts them together over a database. The
baselines are learned by :mod:`cronwatch.baseline` (the statistics) and
``storage.jobs.JobStore.refresh_baselines`` (from recent runs).
"""
