"""Helpers the tests share: no test is collected here.

- ``databases``: the PostgreSQL test server (scratch databases), ``IN_CI``;
- ``ports``: a free loopback port;
- ``receivers``: real SMTP, HTTP and statsd receivers on loopback;
- ``server``: a live ``cronwatch serve`` (in a thread or as a process), keys, counts;
- ``alerting``: alert cycles through simulated time;
- ``fleet``: a fleet of jobs in every status and a real browser, for the dashboard;
- ``proxy``: a TCP proxy that takes a database "away";
- ``cli``: invoking the ``cronwatch`` command in process;
- ``paths``: the repository's folders.

Fixtures are in the ``conftest.py`` of the folder whose tests use them (``tests/conftest.py``
for those used across folders).
"""
