"""Where timer units and their drop-ins are, found as systemd finds them.

- The unit directories, highest priority first (``systemd-analyze unit-paths`` of systemd 252;
  ``--user``: ``systemd-analyze --user unit-paths``). A unit's file is the one in the first
  directory that has it; a file that is empty or a link to ``/dev/null`` masks the unit. An
  instance (``pg_dump@15-main.timer``) without a file of its own uses its template's
  (``pg_dump@.timer``).
- Its drop-ins are the ``*.conf`` files of ``NAME.d/`` (the template's ``NAME@.timer.d/`` too,
  and ``timer.d/`` for every timer) in every unit directory; of files with the same name only
  the one in the highest-priority directory counts, and they apply in the order of their names.
- Which timers run: with systemd running (``/run/systemd/system`` exists, as sd_booted(3)
  checks), ``systemctl list-timers --all``; without it, the timers enabled in the unit
  directories (a link in a ``*.wants/``, ``*.requires/`` or ``*.upholds/`` directory, as
  ``systemctl enable`` makes), or every timer file with ``every=True``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cronwatch.errors import InvalidInput

SYSTEM_UNIT_DIRS = (
    "/etc/systemd/system.control",
    "/run/systemd/system.control",
    "/run/systemd/transient",
    "/run/systemd/generator.early",
    "/etc/systemd/system",
    "/etc/systemd/system.attached",
    "/run/systemd/system",
    "/run/systemd/system.attached",
    "/run/systemd/generator",
    "/usr/local/lib/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/run/systemd/generator.late",
)
#: How long ``systemctl list-timers`` may take.
SYSTEMCTL_TIMEOUT = 30
_LINK_DIRS = (".wants", ".requires", ".upholds")


def user_unit_dirs(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The user manager's unit directories, highest priority first."""
    env = os.environ if environ is None else environ
    home = env.get("HOME") or os.path.expanduser("~")
    config = env.get("XDG_CONFIG_HOME") or f"{home}/.config"
    data = env.get("XDG_DATA_HOME") or f"{home}/.local/share"
    runtime = env.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return (
        f"{config}/systemd/user.control",
        f"{runtime}/systemd/user.control",
        f"{runtime}/systemd/transient",
        f"{config}/systemd/user",
        "/etc/xdg/systemd/user",
        "/etc/systemd/user",
        f"{runtime}/systemd/user",
        "/run/systemd/user",
        f"{data}/systemd/user",
        "/usr/local/share/systemd/user",
        "/usr/share/systemd/user",
        "/usr/local/lib/systemd/user",
        "/usr/lib/systemd/user",
    )


@dataclass(frozen=True)
class UnitFiles:
    """A unit's file and its drop-ins, in the order they apply; ``masked``: no file to read
    (empty, or a link to /dev/null)."""

    name: str
    path: Path
    dropins: tuple[Path, ...] = ()
    masked: bool = False

    @property
    def files(self) -> tuple[Path, ...]:
        return (self.path, *self.dropins)


def unique_dirs(dirs: Iterable[str | Path]) -> list[Path]:
    """``dirs`` that exist, each once (``/lib`` is ``/usr/lib`` on a merged-/usr system)."""
    seen: set[Path] = set()
    found = []
    for each in dirs:
        path = Path(each)
        try:
            real = path.resolve(strict=True)
        except OSError:
            continue
        if real.is_dir() and real not in seen:
            seen.add(real)
            found.append(path)
    return found


def template_of(name: str) -> str | None:
    """``foo@.timer`` for the instance ``foo@bar.timer``; ``None`` for any other name."""
    stem, dot, suffix = name.rpartition(".")
    prefix, at, instance = stem.partition("@")
    return f"{prefix}@.{suffix}" if at and instance and dot else None


def is_template(name: str) -> bool:
    """Whether ``name`` is a template (``foo@.timer``): it runs only as an instance."""
    return name.rpartition(".")[0].endswith("@")


def find_unit(name: str, dirs: Iterable[Path]) -> UnitFiles | None:
    """``name``'s file and drop-ins in ``dirs`` (highest priority first); ``None`` when no
    directory has it (nor its template)."""
    dirs = list(dirs)
    for candidate in (name, template_of(name)):
        if candidate is None:
            continue
        for directory in dirs:
            path = directory / candidate
            if os.path.lexists(path):
                return UnitFiles(name, path, dropins_of(name, dirs), is_masked(path))
    return None


def is_masked(path: Path) -> bool:
    """Whether the unit file at ``path`` masks its unit (empty, or a link to /dev/null)."""
    try:
        return os.path.realpath(path) == os.devnull or path.stat().st_size == 0
    except OSError:
        return True  # a dangling link: nothing systemd could load either


def dropins_of(name: str, dirs: Iterable[Path]) -> tuple[Path, ...]:
    """The drop-ins of unit ``name`` in ``dirs``, in the order they apply."""
    kind = name.rpartition(".")[2]
    names = [f"{name}.d"]
    template = template_of(name)
    if template is not None:
        names.append(f"{template}.d")
    names.append(f"{kind}.d")
    chosen: dict[str, Path] = {}
    for directory in dirs:
        for dropin_dir in names:
            for path in _conf_files(directory / dropin_dir):
                chosen.setdefault(path.name, path)  # the highest priority one of that name
    return tuple(chosen[key] for key in sorted(chosen))


def _conf_files(directory: Path) -> list[Path]:
    entries = sorted(_scan(directory), key=lambda entry: entry.name)
    return [Path(e.path) for e in entries if e.name.endswith(".conf") and e.is_file()]


def timer_files(dirs: Iterable[Path]) -> list[str]:
    """The names of the timer unit files in ``dirs`` (not their link directories), sorted."""
    names: set[str] = set()
    for directory in dirs:
        names.update(
            e.name for e in _scan(directory) if e.name.endswith(".timer") and not e.is_dir()
        )
    return sorted(names)


def enabled_timers(dirs: Iterable[Path]) -> list[str]:
    """The timers enabled in ``dirs``: linked from a ``*.wants/`` (``*.requires/``,
    ``*.upholds/``) directory, as ``systemctl enable`` links them; sorted."""
    names: set[str] = set()
    for directory in dirs:
        for entry in _scan(directory):
            if entry.name.endswith(_LINK_DIRS) and entry.is_dir():
                linked = _scan(Path(entry.path))
                names.update(link.name for link in linked if link.name.endswith(".timer"))
    return sorted(names)


def _scan(directory: Path) -> list[os.DirEntry[str]]:
    """The entries of ``directory``; none when it cannot be read (or is not there)."""
    try:
        with os.scandir(directory) as entries:
            return list(entries)
    except OSError:
        return []


def dropins_beside(path: Path) -> tuple[Path, ...]:
    """The drop-ins of a unit file given by path: the ``*.conf`` files of ``PATH.d/``."""
    return tuple(_conf_files(path.parent / f"{path.name}.d"))


def systemd_running(root: str = "/") -> bool:
    """Whether systemd is the running init system (``/run/systemd/system`` exists)."""
    return os.path.isdir(os.path.join(root, "run/systemd/system"))


def listed_timers(*, user: bool = False) -> list[str]:
    """The timers systemd has loaded (``systemctl list-timers --all``), by unit name.

    Each line of its plain output ends in the timer's name and the unit it starts (the
    columns before, dates or ``n/a``, have spaces of their own): the name is the second last
    word. :class:`InvalidInput` when systemctl cannot be run or fails.
    """
    argv = [
        "systemctl",
        *(["--user"] if user else []),
        "list-timers",
        "--all",
        "--plain",
        "--no-legend",
        "--no-pager",
    ]
    try:
        done = subprocess.run(
            argv, capture_output=True, timeout=SYSTEMCTL_TIMEOUT, check=False, text=True
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InvalidInput(f"cannot run {' '.join(argv)}: {exc}") from None
    if done.returncode != 0:
        message = done.stderr.strip() or f"exit status {done.returncode}"
        raise InvalidInput(f"{' '.join(argv)} failed: {message}")
    names = []
    for line in done.stdout.splitlines():
        words = line.split()
        if len(words) >= 2 and words[-2].endswith(".timer"):
            names.append(words[-2])
    return names
