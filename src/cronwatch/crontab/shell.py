"""Reading a crontab command line: what cron hands to the shell, and every program the line
runs, seen through wrappers (``nice``, ``flock``...), interpreters (``python3 x.py``) and
``sh -c '...'``. The text is untrusted: nothing here runs it, and nesting is bounded."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass


def runnable_part(command: str) -> str:
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
_ASSIGNMENT_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*", re.DOTALL)


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
class Program:
    """What one simple command runs: ``name`` is the script, module or executable as written."""

    name: str
    args: list[str]
    module: bool = False
    #: The program text given inline (``perl -e 'sleep 60'``), ``None`` for a script or binary.
    code: str | None = None

    @property
    def base(self) -> str:
        return self.name.rsplit(".", 1)[-1] if self.module else basename(self.name)


def basename(word: str) -> str:
    """The last part of a path: ``/usr/bin/x`` -> ``x``."""
    return word.rstrip("/").rsplit("/", 1)[-1]


def _interpreter_for(word: str) -> _Interpreter | None:
    # python3.12 -> python, php8.2 -> php, pypy3 -> pypy
    key = re.sub(r"[0-9.]+$", "", basename(word)).lower()
    return _INTERPRETERS.get(key)


def programs(command: str, depth: int = 0) -> list[Program]:
    """Every program the command line runs, in order, looking through wrappers, interpreters
    and ``sh -c '...'`` (to a small depth: the text is untrusted)."""
    found: list[Program] = []
    for words in _simple_commands(_words(command)):
        found.extend(_programs_of_simple(words, depth))
    return found


def _programs_of_simple(words: list[str], depth: int) -> list[Program]:
    """What one simple command runs: through its wrappers, then its interpreter."""
    index = 0
    while index < len(words):
        word = words[index]
        if _ASSIGNMENT_WORD.fullmatch(word) or word in _KEYWORDS:
            index += 1
            continue
        wrapper = _WRAPPERS.get(basename(word))
        if wrapper is None:
            break
        index = _after_options(words, index + 1, wrapper.value_options) + wrapper.positionals
        if basename(word) == "flock" and index < len(words) and words[index] in ("-c", "--command"):
            return programs(words[index + 1], depth + 1) if index + 1 < len(words) else []
    rest = words[index:]
    return _interpreted(rest, depth) if rest else []


def _after_options(words: list[str], index: int, value_options: frozenset[str]) -> int:
    """The index after the options (and the values of ``value_options``) from ``index``."""
    while index < len(words) and words[index].startswith("-") and words[index] != "-":
        option = words[index]
        index += 1
        if option == "--":
            break
        if option in value_options:
            index += 1
    return index


def _interpreted(rest: list[str], depth: int) -> list[Program]:
    """What a command runs: itself, or the script, module or command line that its
    interpreter (``rest[0]``) runs."""
    interpreter = _interpreter_for(rest[0])
    if interpreter is None:
        return [Program(rest[0], rest[1:])]
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
                return [Program(rest[0], [])]
            return programs(following, depth + 1)
        if option in interpreter.code_options:
            return [Program(rest[0], [], code=following or "")]
        if option in interpreter.module_options and following is not None:
            return [Program(following, rest[index + 2 :], module=True)]
        for prefix in interpreter.module_options:  # python -mpkg.mod
            if option.startswith(prefix) and len(option) > len(prefix):
                return [Program(option[len(prefix) :], rest[index + 1 :], module=True)]
        if option in interpreter.script_options and following is not None:
            return [Program(following, rest[index + 2 :])]
        index += 2 if option in interpreter.value_options else 1
    if index >= len(rest):  # the interpreter alone (reading a script from stdin)
        return [Program(rest[0], [])]
    return [Program(rest[index], rest[index + 1 :])]


def split_at_stdin(command: str) -> tuple[str, str]:
    """``command`` cut before its first unescaped ``%`` (what cron hands to the shell, still
    written as in the crontab: ``\\%`` kept), and the rest from that ``%`` (the standard input
    cron feeds it; ``""`` when there is none)."""
    index = 0
    while index < len(command):
        if command[index] == "\\" and command.startswith("%", index + 1):
            index += 2
            continue
        if command[index] == "%":
            return command[:index], command[index:]
        index += 1
    return command, ""


# Builtins with no program of the same name: only a shell can run them (`exec x`, `cd /x`).
_SHELL_ONLY = frozenset(
    {"exec", "cd", "source", ".", "eval", "set", "ulimit", "umask", "export", "time", "builtin"}
    | {"trap", "wait", "read", "alias", "unset", "shift", "exit", "return", "pushd", "popd", ":"}
)


def is_simple_command(command: str) -> bool:
    """Whether the shell runs ``command`` (cron's runnable part) as one program with its
    arguments, so that another program can be put in front of it: no ``&&``, ``;``, ``|``,
    background ``&``, subshell or block, no leading ``NAME=value``, no shell keyword and no
    builtin that only a shell can run (``exec``, ``cd``, ``ulimit``, ``time``...).
    Redirections are allowed: in front of a wrapper they apply to the wrapper, which passes
    the output on. ``$(...)`` inside an argument is allowed too (the shell expands it before
    the program starts)."""
    words = _words(command)
    if not words:
        return False
    first = words[0]
    if first in _KEYWORDS or first in _SHELL_ONLY or _ASSIGNMENT_WORD.fullmatch(first):
        return False
    return not any(
        word and set(word) <= _PUNCTUATION and "<" not in word and ">" not in word for word in words
    )
