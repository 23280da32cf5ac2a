"""Jobs from a crontab: what ``cronwatch import-crontab`` reads, and the TOML it writes.

:func:`parse_crontab` reads a crontab the way cron does and returns a :class:`ParsedCrontab`:
one :class:`CrontabEntry` per scheduled line, and one :class:`CrontabWarning` (with its line
number) for every line that cannot be imported. It never raises for the file's content: a bad
line is reported and skipped, the rest is still imported.

- Both formats: a user's crontab (``crontab -e``: five time fields or an ``@alias``, then the
  command) and the system format of ``/etc/crontab`` and ``/etc/cron.d/*`` (a user name between
  the time fields and the command). ``system=None`` detects which one it is, from the path or
  else the content (see :func:`parse_crontab`).
- Comments (``#`` as the first non-blank character; cron has no comments after a command) and
  blank lines are skipped. Environment assignments (``NAME=value``, ``NAME = "value"``) are
  skipped, except ``CRON_TZ`` (and ``TZ`` when there is no ``CRON_TZ``), which set the timezone
  of the lines below them; an empty value unsets it. Lines under neither are in
  ``default_timezone`` (cron's local time: see :func:`local_timezone`). A line under a timezone
  that does not exist is skipped, never imported in another zone.
- ``@hourly``, ``@daily``... become the same alias in the config. ``@reboot`` has no time to
  watch and is skipped with a warning. Each schedule is validated with
  :func:`cronwatch.schedule.parse_schedule`.
- ``%`` in a command: cron turns the first unescaped ``%`` into the end of the command (the rest
  is its standard input). :attr:`CrontabEntry.command` keeps the text exactly as written; only
  the job name is derived from the part cron runs.

Job names: a command that already runs under ``cronwatch run NAME`` keeps ``NAME`` (runs are
recorded under it, so the job must have that name). Any other command gets a readable name
derived from it (:func:`derive_job_name`: ``/usr/local/bin/backup.sh --full`` -> ``backup``,
``cd /srv && ./manage.py clearsessions`` -> ``manage-clearsessions``), made unique within the file
with ``-2``, ``-3``... Every name passes :func:`cronwatch.names.validate_name`.

:func:`entries_to_toml` renders the entries as ``[jobs.NAME]`` tables that
:func:`cronwatch.config.load_config` reads back to the same names, schedules and timezones.
:func:`merge_into_config` appends the jobs a config file does not have yet, never touching the
existing text or an existing job.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cronwatch.errors import ConfigError, InvalidInput
from cronwatch.names import validate_name
from cronwatch.schedule import CronSchedule, load_zone, parse_schedule

__all__ = [
    "CrontabEntry",
    "CrontabWarning",
    "ParsedCrontab",
    "cronwatch_run_name",
    "derive_job_name",
    "entries_to_toml",
    "local_timezone",
    "merge_into_config",
    "parse_crontab",
]

#: Derived names are cut to this length: long enough to stay distinct, short enough to read
#: in a dashboard column (the hard limit of a name is 200).
MAX_DERIVED_NAME = 60
#: Commands longer than this are shortened in the TOML comment that shows them.
MAX_COMMENT_COMMAND = 160


@dataclass(frozen=True)
class CrontabEntry:
    """One scheduled line of a crontab.

    ``schedule_expr`` is the normalised cron expression (single spaces, aliases lower-case) and
    is valid in ``timezone`` (an IANA name). ``command`` is the text after the time fields (and
    after the user field of a system crontab) exactly as written, ``%`` included, without the
    line ending. ``job_name`` is unique within the parse and passes ``validate_name``. ``user``
    is the user field of a system crontab, ``None`` for a user crontab. ``wrapped`` says that
    the name came from ``cronwatch run NAME`` in the command, so runs are already recorded
    under it.
    """

    line_no: int
    schedule_expr: str
    timezone: str
    command: str
    job_name: str
    user: str | None = None
    wrapped: bool = False


@dataclass(frozen=True)
class CrontabWarning:
    """A line that was not imported (or imported with a caveat), and why."""

    line_no: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line_no}: {self.message}"


@dataclass(frozen=True)
class ParsedCrontab:
    """The result of :func:`parse_crontab`.

    ``system`` tells which format was read; ``system_guessed`` is true when that was inferred
    from the content (not given, not implied by the path), so a caller can say so.
    """

    entries: list[CrontabEntry]
    warnings: list[CrontabWarning]
    system: bool
    system_guessed: bool = False


# --- lines -----------------------------------------------------------------------------------

# cron's load_env(): a name (bare, or quoted to allow blanks), optional blanks, "=", the value.
# A schedule line never matches: its first field is followed by a blank and another field.
_ASSIGNMENT_LINE = re.compile(r"""\s*("[^"]*"|'[^']*'|[^\s=]+)\s*=\s*(.*)""")
_FIELD = re.compile(r"[ \t]*(\S+)")
# The column headers distributions put in /etc/crontab and /etc/cron.d files:
# "# m h dom mon dow user  command" and "# *  *  *  *  * user-name command to be executed".
_SYSTEM_HEADER = re.compile(
    r"#\s*(?:m\s+h\s+dom\s+mon\s+dow|\*\s+\*\s+\*\s+\*\s+\*)\s+user(?:-?name)?\s+command",
    re.IGNORECASE,
)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _split_fields(line: str, count: int) -> tuple[list[str], str] | None:
    """The first ``count`` blank-separated fields and the rest as written (leading blanks
    removed), or ``None`` when the line has fewer fields."""
    fields: list[str] = []
    position = 0
    for _ in range(count):
        match = _FIELD.match(line, position)
        if match is None:
            return None
        fields.append(match.group(1))
        position = match.end()
    return fields, line[position:].lstrip(" \t")


def _schedule_width(line: str) -> int:
    """How many fields the schedule takes: 1 for an ``@alias``, else 5."""
    return 1 if line.lstrip().startswith("@") else 5


@dataclass(frozen=True)
class _Line:
    number: int
    text: str
    kind: str  # "entry", "assignment", "comment" (comments and blank lines)


def _classify(text: str) -> list[_Line]:
    lines: list[_Line] = []
    # cron splits on "\n" only: str.splitlines() would also split on \f, \x1c, U+2028...
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            kind = "comment"
        elif _ASSIGNMENT_LINE.fullmatch(line):
            kind = "assignment"
        else:
            kind = "entry"
        lines.append(_Line(number, line, kind))
    return lines


def _path_says_system(path: str | os.PathLike[str] | None) -> bool | None:
    if path is None:
        return None
    p = Path(path)
    if p.parent.name == "cron.d" or (p.name == "crontab" and p.parent.name == "etc"):
        return True
    return None


def _known_user(name: str) -> bool:
    try:
        import pwd
    except ImportError:  # not a Unix system: no way to tell
        return False
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _content_says_system(lines: Sequence[_Line]) -> bool:
    """True when the file carries the system header, or when every schedule line has, after its
    time fields, a word naming a user of this host followed by a command.

    Both are conservative: a user crontab whose commands all start with a user's name and have
    arguments (``0 3 * * * backup --full`` on a host with a ``backup`` user) is the one case that
    is misread, which is why the caller is told the format was guessed.
    """
    if any(line.kind == "comment" and _SYSTEM_HEADER.match(line.text.strip()) for line in lines):
        return True
    entries = [line for line in lines if line.kind == "entry"]
    if not entries:
        return False
    for line in entries:
        split = _split_fields(line.text, _schedule_width(line.text) + 1)
        if split is None or not split[1].strip():
            return False
        user = split[0][-1]
        if user.startswith("-") or not _known_user(user):
            return False
    return True


# --- the parse -------------------------------------------------------------------------------


@dataclass
class _Candidate:
    line_no: int
    schedule_expr: str
    timezone: str
    command: str
    user: str | None
    explicit: str | None
    derived: str


def parse_crontab(
    text: str | bytes,
    *,
    path: str | os.PathLike[str] | None = None,
    system: bool | None = None,
    default_timezone: str = "UTC",
) -> ParsedCrontab:
    """Parse a crontab's text into entries and warnings; see the module docstring.

    ``system``: ``True`` for the system format (user field), ``False`` for a user crontab,
    ``None`` to detect it: a ``path`` of ``/etc/crontab`` (any ``.../etc/crontab``) or a file in
    a ``cron.d`` directory is a system crontab; otherwise the content decides (the
    ``# m h dom mon dow user command`` header, or a known user name after the time fields of
    every line).

    ``default_timezone`` applies to lines with no ``CRON_TZ``/``TZ`` above them: cron runs those
    in the host's local time, so pass :func:`local_timezone` when the crontab comes from this
    host. It must be a valid IANA name (``InvalidInput`` otherwise): that is the caller's
    mistake, not the file's.

    Bytes are decoded as UTF-8, invalid sequences replaced (they can only affect how a command
    is shown and named).
    """
    load_zone(default_timezone, field="default timezone")
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    lines = _classify(text)
    guessed = False
    if system is None:
        system = _path_says_system(path)
    if system is None:
        system = _content_says_system(lines)
        guessed = True

    warnings: list[CrontabWarning] = []
    candidates: list[_Candidate] = []
    # The latest CRON_TZ and TZ values with the line that set them; validity is checked where a
    # line uses them, since only the one in force (CRON_TZ, else TZ) matters.
    zones: dict[str, tuple[str, int]] = {}

    for line in lines:
        if line.kind == "comment":
            continue
        if line.kind == "assignment":
            match = _ASSIGNMENT_LINE.fullmatch(line.text)
            assert match is not None  # classified as an assignment by this very regex
            name, value = _unquote(match.group(1)), _unquote(match.group(2))
            if name in ("CRON_TZ", "TZ"):
                if value:
                    zones[name] = (value, line.number)
                else:  # an empty value goes back to the default
                    zones.pop(name, None)
            continue

        candidate = _parse_entry(line, system, warnings)
        if candidate is None:
            continue
        zone, zone_line = zones.get("CRON_TZ") or zones.get("TZ") or (default_timezone, 0)
        try:
            load_zone(zone, field=f"the timezone set at line {zone_line}")
        except InvalidInput as exc:
            # Importing the line in another zone would watch the wrong hours: skip it.
            warnings.append(CrontabWarning(line.number, f"{exc}; line skipped"))
            continue
        candidate.timezone = zone
        # parse_schedule also reads "every 15m"; cron has no such thing, and its error
        # message would talk about durations.
        if candidate.schedule_expr.split()[0].lower() == "every":
            warnings.append(
                CrontabWarning(
                    line.number,
                    f'schedule: invalid cron expression "{candidate.schedule_expr}": cron has '
                    "no intervals; line skipped",
                )
            )
            continue
        try:
            schedule = parse_schedule(candidate.schedule_expr, candidate.timezone, field="schedule")
        except InvalidInput as exc:
            warnings.append(CrontabWarning(line.number, f"{exc}; line skipped"))
            continue
        assert isinstance(schedule, CronSchedule)  # not "every ...", so a cron schedule
        candidate.schedule_expr = schedule.expression
        candidates.append(candidate)

    entries = _assign_names(candidates, warnings)
    warnings.sort(key=lambda warning: warning.line_no)
    return ParsedCrontab(entries=entries, warnings=warnings, system=system, system_guessed=guessed)


def _parse_entry(line: _Line, system: bool, warnings: list[CrontabWarning]) -> _Candidate | None:
    width = _schedule_width(line.text)
    first = line.text.split(None, 1)[0]
    if first.lower() == "@reboot":
        warnings.append(CrontabWarning(line.number, "skipped @reboot: it has no schedule to watch"))
        return None
    split = _split_fields(line.text, width + (1 if system else 0))
    if split is None or not split[1].strip():
        shape = ("an @alias" if width == 1 else "5 time fields") + (", a user" if system else "")
        warnings.append(
            CrontabWarning(line.number, f"expected {shape} and a command; line skipped")
        )
        return None
    fields, command = split
    user = fields.pop() if system else None
    try:
        explicit = cronwatch_run_name(command)
    except InvalidInput as exc:
        # The job records runs under that name and cronwatch run refuses it: importing it under
        # another name would create a job that never gets a run.
        warnings.append(CrontabWarning(line.number, f"{exc}; line skipped"))
        return None
    return _Candidate(
        line_no=line.number,
        schedule_expr=" ".join(fields),
        timezone="",
        command=command,
        user=user,
        explicit=explicit,
        derived="" if explicit else derive_job_name(command),
    )


def _assign_names(
    candidates: list[_Candidate], warnings: list[CrontabWarning]
) -> list[CrontabEntry]:
    """Explicit names first (a derived name must never take a name runs are recorded under),
    then derived names with -2, -3... suffixes where needed. A job has one schedule, so a second
    line with an explicit name already used is skipped with a warning, not renamed: its runs
    are recorded under that name whatever the config says."""
    first_line: dict[str, _Candidate] = {}
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
        if (earlier.schedule_expr, earlier.timezone) == (
            candidate.schedule_expr,
            candidate.timezone,
        ):
            message = f'job "{name}" repeats line {earlier.line_no}; line skipped'
        else:
            message = (
                f'job "{name}" is already imported from line {earlier.line_no} with schedule '
                f'"{earlier.schedule_expr}"; a job has one schedule, so this line is skipped '
                "(give it its own name in cronwatch run, or merge the two cron times)"
            )
        warnings.append(CrontabWarning(candidate.line_no, message))
    taken = set(first_line)
    derived = [c for c in candidates if c.explicit is None]
    # A plain derived name goes to the first line that derives it, before any suffix is handed
    # out: "backup.sh" twice and "backup-2.sh" once give backup, backup-3 and backup-2.
    later: list[_Candidate] = []
    for candidate in derived:
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


# --- reading commands ------------------------------------------------------------------------


def _runnable_part(command: str) -> str:
    """What cron hands to the shell: up to the first unescaped ``%``, with ``\\%`` as ``%``."""
    out: list[str] = []
    index = 0
    while index < len(command):
        char = command[index]
        if char == "\\" and command.startswith("%", index + 1):
            out.append("%")
            index += 2
            continue
        if char == "%":
            break
        out.append(char)
        index += 1
    return "".join(out)


def _without_substitutions(command: str) -> str:
    """``command`` with ``$(...)``, ``$((...))`` and backquoted parts replaced by ``$_``.

    Their content is an argument's value, not a command of the line: left in, ``sleep
    $((RANDOM % 60)) && certbot renew`` would split at the parentheses and name ``RANDOM``.
    """
    out: list[str] = []
    index = 0
    while index < len(command):
        if command.startswith("$(", index):
            depth = 0
            end = index + 1
            while end < len(command):
                depth += {"(": 1, ")": -1}.get(command[end], 0)
                end += 1
                if depth == 0:
                    break
            out.append("$_")
            index = end
        elif command[index] == "`":
            closing = command.find("`", index + 1)
            out.append("$_")
            index = len(command) if closing < 0 else closing + 1
        else:
            out.append(command[index])
            index += 1
    return "".join(out)


def _words(command: str) -> list[str]:
    """Shell words and operators (``&&``, ``;``, ``|``, ``>``...), quotes removed."""
    command = _without_substitutions(command)
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""  # "#" starts a comment only at the start of a word; handled below
    words: list[str] = []
    try:
        for word in lexer:
            if word.startswith("#"):
                break
            words.append(word)
    except ValueError:  # unbalanced quotes: the shell would fail too; name it from the blanks
        return command.split()
    return words


_PUNCTUATION = frozenset("();<>|&")


def _simple_commands(words: list[str]) -> list[list[str]]:
    """Split words at shell operators; drop redirections and their targets."""
    commands: list[list[str]] = [[]]
    skip_next = False
    for word in words:
        if skip_next:
            skip_next = False
            continue
        if word and set(word) <= _PUNCTUATION:
            if "<" in word or ">" in word:
                skip_next = True
            else:
                commands.append([])
            continue
        commands[-1].append(word)
    return [command for command in commands if command]


@dataclass(frozen=True)
class _Wrapper:
    """A command that runs the rest of its arguments: its options that take a value, and how
    many positional arguments come before the wrapped command."""

    value_options: frozenset[str] = frozenset()
    positionals: int = 0


def _wrapper(*options: str, positionals: int = 0) -> _Wrapper:
    return _Wrapper(frozenset(options), positionals)


_WRAPPERS = {
    "exec": _wrapper("-a"),
    "command": _wrapper(),
    "nice": _wrapper("-n", "--adjustment"),
    "nohup": _wrapper(),
    "setsid": _wrapper(),
    "chronic": _wrapper(),
    "run-one": _wrapper(),
    "run-this-one": _wrapper(),
    "env": _wrapper("-u", "--unset", "-C", "--chdir"),
    "timeout": _wrapper("-s", "--signal", "-k", "--kill-after", positionals=1),
    "ionice": _wrapper("-c", "--class", "-n", "--classdata", "-t"),
    "flock": _wrapper("-w", "--wait", "--timeout", "-E", "--conflict-exit-code", positionals=1),
    "sudo": _wrapper("-u", "--user", "-g", "--group", "-C", "-D", "-h", "-p", "-r", "-t", "-U"),
    "time": _wrapper("-f", "--format", "-o", "--output"),
    "stdbuf": _wrapper("-i", "-o", "-e"),
}
# Shell keywords in front of a command (`then /usr/lib/x`), or closing a block (`fi`).
_KEYWORDS = frozenset(
    {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "esac"}
)
# Commands that prepare the job rather than being it: `cd /srv && ./manage.py ...`.
_SETUP = frozenset(
    {"cd", "pushd", "popd", "test", "[", "[[", "export", "source", ".", "set", "umask",
     "ulimit", "sleep", "true", ":", "unset", "shopt", "trap", "mkdir"}
)  # fmt: skip
# Commands whose first argument is an operand (a file, a flag bundle), not a subcommand.
_NO_SUBCOMMAND = frozenset(
    {"tar", "cp", "mv", "rm", "ln", "find", "rsync", "scp", "chmod", "chown", "touch", "cat",
     "echo", "printf", "kill", "killall", "pkill", "curl", "wget", "logger", "mail", "du", "df",
     "gzip", "gunzip", "bzip2", "xz", "zip", "unzip", "sed", "awk", "grep", "sort", "tee",
     "rmdir", "ls", "date", "sync", "truncate"}
)  # fmt: skip
_SCRIPT_EXTENSIONS = frozenset(
    {".sh", ".bash", ".zsh", ".ksh", ".py", ".pl", ".rb", ".php", ".js", ".mjs", ".cjs", ".ts",
     ".lua", ".tcl", ".r", ".jar", ".cron"}
)  # fmt: skip
_ASSIGNMENT_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*", re.DOTALL)
_SUBCOMMAND = re.compile(r"[A-Za-z][A-Za-z0-9_:-]*")


@dataclass(frozen=True)
class _Interpreter:
    value_options: frozenset[str] = frozenset()
    code_options: frozenset[str] = frozenset()  # inline program text: name after the language
    script_options: frozenset[str] = frozenset()  # the script path follows (php -f, java -jar)
    module_options: frozenset[str] = frozenset()  # a module name follows (python -m)
    shell: bool = False  # -c (alone or in a flag cluster such as -lc) runs a command line


def _fs(*items: str) -> frozenset[str]:
    return frozenset(items)


_SHELL = _Interpreter(value_options=_fs("-o", "-O", "+o", "+O"), shell=True)
_PYTHON = _Interpreter(
    value_options=_fs("-W", "-X", "-Q"), code_options=_fs("-c"), module_options=_fs("-m")
)
_INTERPRETERS = {
    "sh": _SHELL,
    "bash": _SHELL,
    "dash": _SHELL,
    "zsh": _SHELL,
    "ksh": _SHELL,
    "python": _PYTHON,
    "pypy": _PYTHON,
    "perl": _Interpreter(value_options=_fs("-I"), code_options=_fs("-e", "-E")),
    "ruby": _Interpreter(value_options=_fs("-I", "-r", "-C"), code_options=_fs("-e")),
    "php": _Interpreter(
        value_options=_fs("-d", "-c", "-z"), code_options=_fs("-r"), script_options=_fs("-f")
    ),
    "node": _Interpreter(
        value_options=_fs("-r", "--require", "--import", "--loader"),
        code_options=_fs("-e", "--eval", "-p", "--print"),
    ),
    "nodejs": _Interpreter(code_options=_fs("-e", "--eval")),
    "java": _Interpreter(
        value_options=_fs("-cp", "-classpath", "--class-path"), script_options=_fs("-jar")
    ),
    "rscript": _Interpreter(code_options=_fs("-e")),
    "lua": _Interpreter(code_options=_fs("-e")),
}


@dataclass(frozen=True)
class _Program:
    """What one simple command runs: ``name`` is the script, module or executable as written."""

    name: str
    args: list[str]
    module: bool = False

    @property
    def base(self) -> str:
        return self.name.rsplit(".", 1)[-1] if self.module else _basename(self.name)


def _basename(word: str) -> str:
    return word.rstrip("/").rsplit("/", 1)[-1]


def _interpreter_for(word: str) -> _Interpreter | None:
    # python3.12 -> python, php8.2 -> php, pypy3 -> pypy
    key = re.sub(r"[0-9.]+$", "", _basename(word)).lower()
    return _INTERPRETERS.get(key)


def _programs(command: str, depth: int = 0) -> list[_Program]:
    """Every program the command line runs, in order, looking through wrappers, interpreters
    and ``sh -c '...'`` (to a small depth: the text is untrusted)."""
    programs: list[_Program] = []
    for words in _simple_commands(_words(command)):
        programs.extend(_programs_of_simple(words, depth))
    return programs


def _programs_of_simple(words: list[str], depth: int) -> list[_Program]:
    index = 0
    while index < len(words):
        word = words[index]
        base = _basename(word)
        if _ASSIGNMENT_WORD.fullmatch(word) or word in _KEYWORDS:
            index += 1
            continue
        wrapper = _WRAPPERS.get(base)
        if wrapper is None:
            break
        index += 1
        while index < len(words) and words[index].startswith("-") and words[index] != "-":
            option = words[index]
            index += 1
            if option == "--":
                break
            if option in wrapper.value_options:
                index += 1
        index += wrapper.positionals
        if base == "flock" and index < len(words) and words[index] in ("-c", "--command"):
            return _programs(words[index + 1], depth + 1) if index + 1 < len(words) else []
    rest = words[index:]
    if not rest:
        return []
    interpreter = _interpreter_for(rest[0])
    if interpreter is None:
        return [_Program(rest[0], rest[1:])]
    index = 1
    while index < len(rest):
        option = rest[index]
        if option == "--":
            index += 1
            break
        if not option.startswith(("-", "+")) or option in ("-", "+"):
            break
        following = rest[index + 1] if index + 1 < len(rest) else None
        if interpreter.shell and not option.startswith("--") and "c" in option[1:]:
            if following is None or depth >= 3:
                return [_Program(rest[0], [])]
            return _programs(following, depth + 1)
        if option in interpreter.code_options:
            return [_Program(rest[0], [])]
        if option in interpreter.module_options and following is not None:
            return [_Program(following, rest[index + 2 :], module=True)]
        for prefix in interpreter.module_options:  # python -mpkg.mod
            if option.startswith(prefix) and len(option) > len(prefix):
                return [_Program(option[len(prefix) :], rest[index + 1 :], module=True)]
        if option in interpreter.script_options and following is not None:
            return [_Program(following, rest[index + 2 :])]
        index += 2 if option in interpreter.value_options else 1
    if index >= len(rest):  # the interpreter alone (reading a script from stdin)
        return [_Program(rest[0], [])]
    return [_Program(rest[index], rest[index + 1 :])]


# cronwatch's group options that take a value, and run's.
_GROUP_VALUE_OPTIONS = frozenset({"--database-url", "--config"})
_RUN_VALUE_OPTIONS = frozenset({"--host"})


def _is_cronwatch(program: _Program) -> bool:
    if program.module:
        return program.name in ("cronwatch", "cronwatch.cli")
    return _basename(program.name) == "cronwatch"


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
    for program in _programs(_runnable_part(command)):
        if not _is_cronwatch(program):
            continue
        name = _run_name(program.args)
        if name is not None:
            return validate_name(name, "the job name given to cronwatch run")
    return None


def _clean(text: str) -> str:
    """Only letters, digits, ``.``, ``_`` and ``-``: safe in TOML keys, URLs and metric names."""
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", text)
    return re.sub(r"-{2,}", "-", text).strip("-._")


def _strip_extension(name: str) -> str:
    stem, dot, extension = name.rpartition(".")
    if dot and stem and ("." + extension).lower() in _SCRIPT_EXTENSIONS:
        return stem
    return name


def derive_job_name(command: str) -> str:
    """A readable job name for a crontab command that does not name itself.

    The main program is the first one that is not set-up (``cd``, ``test``, ``sleep``...),
    seen through wrappers (``nice``, ``flock``, ``timeout``...), interpreters
    (``python3 x.py``, ``php -f x.php``, ``python -m pkg.mod``) and ``sh -c``. Its basename
    without a script extension is the name; a first argument that looks like a subcommand is
    added (``manage.py clearsessions`` -> ``manage-clearsessions``, ``certbot renew`` ->
    ``certbot-renew``); ``run-parts /etc/cron.daily`` is ``cron.daily``. The result holds only
    ``[A-Za-z0-9._-]``, is at most :data:`MAX_DERIVED_NAME` long, never empty (``job`` when
    nothing is left) and always passes ``validate_name``.
    """
    programs = _programs(_runnable_part(command))
    # The first program that is the job, not its set-up, and that has a usable name
    # (`$(which x)` has none); else whatever comes first.
    useful = [p for p in programs if _clean(p.base)]
    main = next((p for p in useful if _basename(p.name) not in _SETUP), None)
    if main is None:
        main = useful[0] if useful else None
    name = ""
    if main is not None:
        base = _strip_extension(main.base)
        operands = [arg for arg in main.args if not arg.startswith("-")]
        if base == "run-parts" and operands:
            name = _clean(_basename(operands[-1]))
        if not name:
            name = _clean(base)
            first = main.args[0] if main.args else ""
            if name and base not in _NO_SUBCOMMAND and _SUBCOMMAND.fullmatch(first):
                name = _clean(f"{name}-{first}")
    name = name[:MAX_DERIVED_NAME].strip("-._") or "job"
    return validate_name(name)


# --- TOML ------------------------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _toml_string(value: str) -> str:
    """``value`` as a TOML basic string."""
    out = []
    for char in value:
        if char in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _toml_key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else _toml_string(name)


def _comment(text: str) -> str:
    """``text`` made safe for one TOML comment line (TOML forbids control characters there)."""
    text = re.sub(r"[\x00-\x08\x0a-\x1f\x7f]", lambda m: f"\\x{ord(m.group()):02x}", text)
    text = text.strip()
    if len(text) > MAX_COMMENT_COMMAND:
        text = text[: MAX_COMMENT_COMMAND - 3] + "..."
    return text


def entries_to_toml(entries: Iterable[CrontabEntry], *, source: str | None = None) -> str:
    """The entries as ``[jobs.NAME]`` tables, in order; ``""`` when there are none.

    Each table has ``schedule``, ``timezone`` when it is not UTC (UTC is the config default), and
    a comment above it naming the source line, the user (system crontabs) and the command. The
    text is valid for :func:`cronwatch.config.load_config` provided the names are unique, as
    :func:`parse_crontab` makes them. ``source`` (a file name) goes into a header comment.
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
        out.append(f"[jobs.{_toml_key(entry.job_name)}]")
        out.append(f"schedule = {_toml_string(entry.schedule_expr)}")
        if entry.timezone != "UTC":
            out.append(f"timezone = {_toml_string(entry.timezone)}")
    return "\n".join(out) + "\n"


def merge_into_config(
    path: str | os.PathLike[str],
    entries: Iterable[CrontabEntry],
    *,
    source: str | None = None,
) -> tuple[list[CrontabEntry], list[CrontabEntry]]:
    """Append to the config file at ``path`` the jobs it does not define yet.

    Returns ``(added, skipped)``: ``skipped`` are the entries whose job name the file already
    has (the existing job is never changed), or that repeat a name earlier in ``entries``.

    The file's existing bytes are kept exactly; the new tables are appended after them. A
    missing file is created. The result is checked with :func:`cronwatch.config.load_config`
    before it replaces the file, through a temporary file in the same directory and an atomic
    rename, so a reader sees the old file or the complete new one, never a part or an invalid
    config. When nothing is added the file is not rewritten at all. Raises ``ConfigError``
    (and changes nothing) when the existing file is not valid TOML, the result would not load,
    the file changed while being merged, or it cannot be written.
    """
    target = Path(path)
    if target.is_symlink():
        # Replacing the link itself would turn it into a plain file; write where it points.
        target = target.resolve()
    try:
        original: bytes | None = target.read_bytes()
    except FileNotFoundError:
        original = None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror or exc}") from None

    existing: set[str] = set()
    if original is not None:
        try:
            data = tomllib.loads(original.decode("utf-8"))
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not a UTF-8 text file") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
        jobs = data.get("jobs", {})
        if isinstance(jobs, dict):
            existing = set(jobs)

    added: list[CrontabEntry] = []
    skipped: list[CrontabEntry] = []
    for entry in entries:
        if entry.job_name in existing:
            skipped.append(entry)
        else:
            existing.add(entry.job_name)
            added.append(entry)
    if not added:
        return added, skipped

    old = original or b""
    newline = b"\r\n" if b"\r\n" in old else b"\n"
    addition = entries_to_toml(added, source=source).encode("utf-8")
    if newline != b"\n":
        addition = addition.replace(b"\n", newline)
    separator = b""
    if old:
        # Finish the last line, then one blank line between the old text and the new tables.
        separator = (b"" if old.endswith(b"\n") else newline) + newline
    _replace_atomically(target, original, old + separator + addition)
    return added, skipped


def _replace_atomically(target: Path, original: bytes | None, content: bytes) -> None:
    """Put ``content`` at ``target`` if it loads as a config and ``target`` still holds
    ``original`` (``None``: absent); otherwise raise ``ConfigError`` and leave it alone."""
    from cronwatch.config import load_config  # only the --write path needs the loader

    directory = target.parent
    temp = directory / f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        # 0o666 through the umask, like any new file; an existing file's mode is copied below.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise ConfigError(
            f"{target}: cannot write the config file: {exc.strerror or exc}"
        ) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        if original is not None:
            os.chmod(temp, target.stat().st_mode & 0o7777)
        try:
            load_config(temp)
        except ConfigError as exc:
            message = str(exc).replace(str(temp), str(target))
            raise ConfigError(
                f"the merged config would not load, nothing written: {message}"
            ) from None
        # Someone else may have edited the file meanwhile; their change must not be lost.
        try:
            now: bytes | None = target.read_bytes()
        except FileNotFoundError:
            now = None
        if now != original:
            raise ConfigError(f"{target}: changed while merging; nothing written, run it again")
        os.replace(temp, target)
    except OSError as exc:
        raise ConfigError(
            f"{target}: cannot write the config file: {exc.strerror or exc}"
        ) from None
    finally:
        if temp.exists():
            temp.unlink()
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- the host's timezone ---------------------------------------------------------------------

_UTC_NAMES = frozenset(
    {"UTC", "UCT", "Universal", "Zulu", "GMT", "GMT0", "GMT+0", "GMT-0", "Greenwich",
     "Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "Etc/GMT", "Etc/GMT0", "Etc/GMT+0",
     "Etc/GMT-0", "Etc/Greenwich"}
)  # fmt: skip


def local_timezone(etc: str | os.PathLike[str] = "/etc") -> str | None:
    """The IANA name of this host's timezone, the one cron runs jobs in without ``CRON_TZ``.

    Read from the ``/etc/localtime`` symlink (what ``timedatectl`` sets), else
    ``/etc/timezone`` (Debian). UTC under any alias is ``"UTC"``. ``None`` when neither names a
    known zone (``/etc/localtime`` copied rather than linked, say): the caller must ask. ``$TZ``
    is not consulted: it is this shell's setting, not the cron daemon's.
    """
    root = Path(etc)
    candidates: list[str] = []
    try:
        link = os.readlink(root / "localtime")
    except OSError:
        pass
    else:
        if "zoneinfo/" in link:
            name = link.split("zoneinfo/", 1)[1]
            candidates.append(re.sub(r"^(posix|right)/", "", name))
    with contextlib.suppress(OSError, UnicodeDecodeError):
        candidates.append((root / "timezone").read_text(encoding="utf-8").split("\n")[0].strip())
    for name in candidates:
        if name in _UTC_NAMES:
            return "UTC"
        try:
            load_zone(name)
        except InvalidInput:
            continue
        return name
    return None
