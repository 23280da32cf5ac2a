"""Job names for crontab lines: the name a line already records under (``cronwatch run
NAME``), or one derived from its command, made unique within the file.

The heuristics live here alone, so that they can change without touching the parse.
"""

from __future__ import annotations

import re
import unicodedata

from cronwatch.crontab.entries import Candidate, CrontabEntry, CrontabWarning
from cronwatch.crontab.shell import Program, basename, programs, runnable_part
from cronwatch.names import validate_name

#: Derived names are cut to this length: long enough to stay distinct, short enough to read
#: in a dashboard column (the hard limit of a name is 200).
MAX_DERIVED_NAME = 60

# Commands that prepare the job rather than being it: `cd /srv && ./manage.py ...`.
_SETUP = frozenset(
    {"cd", "pushd", "popd", "test", "[", "[[", "export", "source", ".", "set", "umask"}
    | {"ulimit", "sleep", "true", ":", "unset", "shopt", "trap", "mkdir"}
)
# Commands whose first argument is an operand (a file, a flag bundle), not a subcommand.
_NO_SUBCOMMAND = frozenset(
    {"tar", "cp", "mv", "rm", "ln", "find", "rsync", "scp", "chmod", "chown", "touch", "cat"}
    | {"echo", "printf", "kill", "killall", "pkill", "curl", "wget", "logger", "mail", "du", "df"}
    | {"gzip", "gunzip", "bzip2", "xz", "zip", "unzip", "sed", "awk", "grep", "sort", "tee"}
    | {"rmdir", "ls", "date", "sync", "truncate"}
)
_SCRIPT_EXTENSIONS = frozenset(
    {".sh", ".bash", ".zsh", ".ksh", ".py", ".pl", ".rb", ".php", ".js", ".mjs", ".cjs", ".ts"}
    | {".lua", ".tcl", ".r", ".jar", ".cron"}
)
_PLAIN = frozenset("0123456789._-")
_SUBCOMMAND = re.compile(r"[A-Za-z][A-Za-z0-9_:-]*")
# Options that can stand before a subcommand without taking its place: `certbot -q renew`.
_FLAG = re.compile(r"-[A-Za-z]+|--[A-Za-z0-9-]+=.*", re.DOTALL)
# Inline programs that only wait (`perl -e 'sleep int(rand(43200))' && certbot renew`, the
# random delay Debian's certbot cron.d file starts with): set-up, not the job.
_SLEEP_CODE = re.compile(r"\s*(?:import\s+time\s*;\s*)?(?:time\.)?sleep\b.*", re.DOTALL)

# cronwatch's group options that take a value, and run's.
_GROUP_VALUE_OPTIONS = frozenset({"--database-url", "--config"})
_RUN_VALUE_OPTIONS = frozenset({"--host"})


def _is_cronwatch(program: Program) -> bool:
    if program.module:
        return program.name in ("cronwatch", "cronwatch.cli")
    return basename(program.name) == "cronwatch"


def _run_name(args: list[str]) -> str | None:
    """NAME in ``[group options] run [options] NAME ...``, or None if args are not that."""
    index = 0
    while index < len(args) and args[index].startswith("-"):
        option = args[index]
        index += 2 if option in _GROUP_VALUE_OPTIONS else 1
    if index >= len(args) or args[index] != "run":
        return None
    index += 1
    while index < len(args):
        word = args[index]
        if word == "--":
            return args[index + 1] if index + 1 < len(args) else None
        if not word.startswith("-") or word == "-":
            return word
        index += 2 if word in _RUN_VALUE_OPTIONS else 1
    return None


def cronwatch_run_name(command: str) -> str | None:
    """The job name of a command that runs under ``cronwatch run NAME``, else ``None``.

    Finds ``cronwatch`` by its basename (``/usr/local/bin/cronwatch``) or as
    ``python -m cronwatch``, anywhere in the command line (``cd /x && cronwatch run ...``,
    behind ``nice``, ``flock``, ``sh -c``...), with group options before ``run``
    (``--config F``) and ``run``'s options before or after NAME (``--host H``, ``--``).
    Raises ``InvalidInput`` when the name found is not a valid job name.
    """
    for program in programs(runnable_part(command)):
        if not _is_cronwatch(program):
            continue
        name = _run_name(program.args)
        if name is not None:
            return validate_name(name, "the job name given to cronwatch run")
    return None


def _clean(text: str) -> str:
    """Only letters and digits (any script's: ``ünïcode-script.sh`` keeps its letters), ``.``,
    ``_`` and ``-``; no blanks, quotes or shell characters, so the name can be typed after
    ``cronwatch run`` as it is."""
    text = "".join(
        char if char.isalpha() or char in _PLAIN else "-"
        for char in unicodedata.normalize("NFC", text)
    )
    return re.sub(r"-{2,}", "-", text).strip("-._")


def _is_setup(program: Program) -> bool:
    """Whether ``program`` prepares the job (``cd``, ``test``, a ``sleep``...) rather than being
    it."""
    if basename(program.name) in _SETUP:
        return True
    return program.code is not None and _SLEEP_CODE.fullmatch(program.code) is not None


def _subcommand(args: list[str]) -> str | None:
    """The first argument when it reads as a subcommand (``renew``, ``schedule:run``), short
    flags before it skipped (``certbot -q renew``); else None."""
    for arg in args:
        if _FLAG.fullmatch(arg):
            continue
        return arg if _SUBCOMMAND.fullmatch(arg) else None
    return None


def _strip_extension(name: str) -> str:
    stem, dot, extension = name.rpartition(".")
    if dot and stem and ("." + extension).lower() in _SCRIPT_EXTENSIONS:
        return stem
    return name


def derive_job_name(command: str) -> str:
    """A readable job name for a crontab command that does not name itself.

    The main program is the first one that is not set-up (``cd``, ``test``, ``[``, ``sleep``,
    ``perl -e 'sleep ...'``...), seen through wrappers (``nice``, ``flock``, ``timeout``...),
    interpreters (``python3 x.py``, ``php -f x.php``, ``python -m pkg.mod``) and ``sh -c``. Its
    basename without a script extension is the name; a first argument that looks like a
    subcommand is added, short flags before it skipped (``manage.py clearsessions`` ->
    ``manage-clearsessions``, ``certbot -q renew`` -> ``certbot-renew``); ``run-parts
    /etc/cron.daily`` is ``cron.daily``. The result holds only letters and digits of any script
    (NFC; digits 0-9 only), ``.``, ``_`` and ``-``, is at most :data:`MAX_DERIVED_NAME` long,
    never empty (``job`` when
    nothing is left) and always passes ``validate_name``.
    """
    # The first program that is the job, not its set-up, and that has a usable name
    # (`$(which x)` has none); else whatever comes first.
    useful = [p for p in programs(runnable_part(command)) if _clean(p.base)]
    main = next((p for p in useful if not _is_setup(p)), None)
    if main is None:
        main = useful[0] if useful else None
    name = ""
    if main is not None:
        base = _strip_extension(main.base)
        operands = [arg for arg in main.args if not arg.startswith("-")]
        if base == "run-parts" and operands:
            name = _clean(basename(operands[-1]))
        if not name:
            name = _clean(base)
            subcommand = _subcommand(main.args)
            if name and base not in _NO_SUBCOMMAND and subcommand:
                name = _clean(f"{name}-{subcommand}")
    name = name[:MAX_DERIVED_NAME].strip("-._") or "job"
    return validate_name(name)


def assign_names(candidates: list[Candidate], warnings: list[CrontabWarning]) -> list[CrontabEntry]:
    """The entries of the candidates that get a name, in order.

    Explicit names first (a derived name must never take a name runs are recorded under),
    then derived names with -2, -3... suffixes where needed. A job has one schedule, so a
    second line with an explicit name already used is skipped with a warning, not renamed:
    its runs are recorded under that name whatever the config says.
    """
    chosen = _explicit_names(candidates, warnings)
    chosen.update(_derived_names(candidates, taken=set(chosen.values())))
    return [
        CrontabEntry(
            line_no=c.line_no,
            schedule_expr=c.schedule_expr,
            timezone=c.timezone,
            command=c.command,
            job_name=chosen[c.line_no],
            user=c.user,
            wrapped=c.explicit is not None,
        )
        for c in candidates
        if c.line_no in chosen
    ]


def _explicit_names(candidates: list[Candidate], warnings: list[CrontabWarning]) -> dict[int, str]:
    """The first line of each explicit name gets it (by line number); a later one is
    warned about and skipped."""
    first_line: dict[str, Candidate] = {}
    chosen: dict[int, str] = {}
    for candidate in candidates:
        name = candidate.explicit
        if name is None:
            continue
        earlier = first_line.get(name)
        if earlier is None:
            first_line[name] = candidate
            chosen[candidate.line_no] = name
            continue
        same = (earlier.schedule_expr, earlier.timezone) == (
            candidate.schedule_expr,
            candidate.timezone,
        )
        if same:
            message = f'job "{name}" repeats line {earlier.line_no}; line skipped'
        else:
            message = (
                f'job "{name}" is already imported from line {earlier.line_no} with schedule '
                f'"{earlier.schedule_expr}"; a job has one schedule, so this line is skipped '
                "(give it its own name in cronwatch run, or merge the two cron times)"
            )
        warnings.append(CrontabWarning(candidate.line_no, message))
    return chosen


def _derived_names(candidates: list[Candidate], *, taken: set[str]) -> dict[int, str]:
    """A name for each line without an explicit one (by line number), none of ``taken``."""
    chosen: dict[int, str] = {}
    # A plain derived name goes to the first line that derives it, before any suffix is handed
    # out: "backup.sh" twice and "backup-2.sh" once give backup, backup-3 and backup-2.
    later: list[Candidate] = []
    for candidate in candidates:
        if candidate.explicit is not None:
            continue
        if candidate.derived in taken:
            later.append(candidate)
        else:
            taken.add(candidate.derived)
            chosen[candidate.line_no] = candidate.derived
    for candidate in later:
        name = candidate.derived
        counter = 2
        while name in taken:
            suffix = f"-{counter}"
            name = candidate.derived[: MAX_DERIVED_NAME - len(suffix)] + suffix
            counter += 1
        taken.add(name)
        chosen[candidate.line_no] = name
    return chosen
