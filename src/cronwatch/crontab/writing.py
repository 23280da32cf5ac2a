"""The TOML that ``import-crontab`` prints or adds to a config file."""

from __future__ import annotations

import os
from collections.abc import Iterable

from cronwatch import tomlwriter
from cronwatch.configmerge import merge_jobs
from cronwatch.crontab.entries import CrontabEntry

#: Commands longer than this are shortened in the TOML comment that shows them.
MAX_COMMENT_COMMAND = 160


def entries_to_toml(entries: Iterable[CrontabEntry], *, source: str | None = None) -> str:
    """The entries as ``[jobs.NAME]`` tables, in order; ``""`` when there are none.

    Each table has ``schedule``, ``timezone`` when it is not UTC (UTC is the config default), and
    a comment above it naming the source line, the user (system crontabs) and the command. The
    text is valid for :func:`cronwatch.config.load_config` provided the names are unique, as
    :func:`~cronwatch.crontab.parse_crontab` makes them. ``source`` (a file name) goes into
    a header comment.
    """
    entries = list(entries)
    if not entries:
        return ""
    where = f" from {_comment(source)}" if source else ""
    out = [f"# Jobs imported{where} by cronwatch import-crontab."]
    if any(not entry.wrapped for entry in entries):
        # A derived name is only a proposal until runs are recorded under it.
        out.append("# A job gets its runs recorded once its crontab line runs the command as")
        out.append("#     cronwatch run NAME -- COMMAND")
        out.append("# with NAME as below; lines that do so already kept their name.")
    for entry in entries:
        user = f" (user {_comment(entry.user)})" if entry.user is not None else ""
        out.append("")
        out.append(f"# line {entry.line_no}{user}: {_comment(entry.command)}")
        out.append(f"[jobs.{tomlwriter.key(entry.job_name)}]")
        out.append(f"schedule = {tomlwriter.string(entry.schedule_expr)}")
        if entry.timezone != "UTC":
            out.append(f"timezone = {tomlwriter.string(entry.timezone)}")
    return "\n".join(out) + "\n"


def merge_into_config(
    path: str | os.PathLike[str],
    entries: Iterable[CrontabEntry],
    *,
    source: str | None = None,
) -> tuple[list[CrontabEntry], list[CrontabEntry]]:
    """Append to the config file at ``path`` the jobs it does not define yet, as
    :func:`entries_to_toml` writes them; ``(added, skipped)``. See
    :func:`cronwatch.configmerge.merge_jobs` for what is kept, checked and refused."""
    return merge_jobs(
        path,
        entries,
        name_of=lambda entry: entry.job_name,
        render=lambda added: entries_to_toml(added, source=source),
    )


def _comment(text: str) -> str:
    return tomlwriter.comment(text, max_chars=MAX_COMMENT_COMMAND)
