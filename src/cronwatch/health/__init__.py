"""Health: from the recorded runs, each job's status and the reason for it.

``model`` holds the facts an evaluation reads and the statuses it produces, ``evaluate`` the
rules (pure functions, no database), ``learn`` the baselines learned from history, and
``service`` puts them together over a database.
"""
