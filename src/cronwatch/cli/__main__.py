"""``python -m cronwatch.cli``: the same as the ``cronwatch`` command."""

from cronwatch.cli.main import main

main()
