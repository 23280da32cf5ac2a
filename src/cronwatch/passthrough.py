"""The command's output on its way through cronwatch: each of its pipes copied to our own
stdout/stderr as it comes, the end of it kept for the run's record, and (when cronwatch exits
while background processes still hold a pipe) handed to a ``cat`` of its own.

Used by :mod:`cronwatch.runner`, whose docstring says what is preserved and why.
"""

from __future__ import annotations

import os
import threading

__all__ = ["LEFTOVER", "Drain", "Pump", "Tail", "hand_over_leftover_output", "write_all"]

_CHUNK = 65536  # one pipe buffer's worth per read: few system calls, bounded memory


class Tail:
    """The last ``limit`` bytes written by any reader thread, plus the total count."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._buf = bytearray()
        self._total = 0
        self._lock = threading.Lock()

    def add(self, data: bytes) -> None:
        with self._lock:
            self._total += len(data)
            limit = self._limit
            if limit == 0:
                return
            if len(data) >= limit:
                self._buf[:] = data[-limit:]
            else:
                self._buf += data
                # Trim only once twice the limit is reached: one memmove per ``limit`` bytes of
                # output instead of one per read, and memory stays below 2 * limit + one chunk.
                if len(self._buf) >= 2 * limit:
                    del self._buf[:-limit]

    def text(self) -> str:
        with self._lock:
            data = bytes(self._buf[-self._limit :]) if self._limit else b""
            omitted = self._total - len(data)
        if not omitted:
            return data.decode("utf-8", errors="replace")
        # The window may start inside a multibyte character: drop its continuation bytes
        # (at most 3) rather than show a replacement character that the output did not have.
        skip = 0
        while skip < min(3, len(data)) and 0x80 <= data[skip] <= 0xBF:
            skip += 1
        return f"[... {omitted + skip} bytes omitted]\n" + data[skip:].decode(
            "utf-8", errors="replace"
        )


class Drain:
    """Lets the main thread wait for the reader threads, but not for ever.

    The readers end at EOF, which comes when every process holding the pipe's write end has
    closed it; a background process started by the command may hold it for hours. So after the
    command exited we wait until the pipes close, until no output came for ``idle`` seconds,
    or at most ``longest`` seconds; readers still running are left to go on passing output
    through (they are daemon threads).
    """

    def __init__(self, readers: int) -> None:
        import time

        self._monotonic = time.monotonic
        self._cond = threading.Condition()
        self._open = readers
        self.last_output = self._monotonic()

    def touch(self) -> None:
        self.last_output = self._monotonic()  # one attribute store: atomic, no lock needed

    def reader_done(self) -> None:
        with self._cond:
            self._open -= 1
            self._cond.notify_all()

    def wait(self, idle: float, longest: float) -> None:
        start = self._monotonic()
        with self._cond:
            while self._open:
                deadline = min(max(self.last_output, start) + idle, start + longest)
                remaining = deadline - self._monotonic()
                if remaining <= 0:
                    return
                self._cond.wait(remaining)


class Pump:
    """Copies one of the command's pipes to ``our_fd`` and into the tail, in a thread, until
    EOF or until :meth:`hand_over` gives the pipe to a process of its own."""

    def __init__(self, read_end: int, our_fd: int, tail: Tail, drain: Drain) -> None:
        self.read_end = read_end
        self.our_fd = our_fd
        self._tail = tail
        self._drain = drain
        self._forward = True
        self._wake_r, self._wake_w = os.pipe()  # written to by hand_over: "stop reading"
        self._wake_lock = threading.Lock()  # the wake pipe is closed only under it
        self._ended = False
        self._handed_over = False
        self._thread = threading.Thread(
            target=self._run,
            name=f"cronwatch-runner-fd{our_fd}",
            daemon=True,  # see Drain: a pipe kept open by a background process may never end
        )

    def start(self) -> None:
        self._thread.start()

    def running(self) -> bool:
        return self._thread.is_alive()

    def hand_over(self, join_timeout: float = 1.0) -> None:
        """Stop reading and start ``cat`` to go on copying the pipe to ``our_fd`` (to
        /dev/null if that stopped taking output), so that whoever still writes to the pipe
        never meets a closed one. Does nothing if the pipe already ended, or if the reader is
        stuck writing to ``our_fd`` (it then keeps the pipe until we exit)."""
        with self._wake_lock:
            if self._ended:
                return
            os.write(self._wake_w, b"x")
        self._thread.join(join_timeout)
        if self._thread.is_alive() or not self._handed_over:
            return
        import shutil
        import subprocess

        try:
            with open(os.devnull, "wb") as devnull:
                subprocess.Popen(
                    [shutil.which("cat") or "/bin/cat"],
                    stdin=self.read_end,
                    stdout=self.our_fd if self._forward else devnull,
                    stderr=subprocess.DEVNULL,
                )
        except OSError:
            pass  # nothing else we can do: the pipe closes with us, as it did before
        finally:
            os.close(self.read_end)

    def _run(self) -> None:
        import select

        poller = select.poll()
        poller.register(self.read_end, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        try:
            while True:
                ready = {fd for fd, _ in poller.poll()}
                if self._wake_r in ready:
                    self._handed_over = True  # the pipe stays open for hand_over()
                    return
                if not self._copy_once():
                    return
        finally:
            with self._wake_lock:
                self._ended = True
                os.close(self._wake_r)
                os.close(self._wake_w)
            if not self._handed_over:
                os.close(self.read_end)
            self._drain.reader_done()

    def _copy_once(self) -> bool:
        """Pass one chunk through; ``False`` at EOF (or when nobody reads our output)."""
        try:
            data = os.read(self.read_end, _CHUNK)
        except OSError:
            return False
        if not data:
            return False
        # Into the tail before writing out: if our output blocks, the tail is still current.
        self._tail.add(data)
        self._drain.touch()
        if self._forward:
            try:
                write_all(self.our_fd, data)
            except BrokenPipeError:
                # Nobody reads our output any more. Closing the command's pipe gives it the
                # SIGPIPE/EPIPE it would have got without us, instead of running on unread.
                return False
            except OSError:
                self._forward = False  # e.g. disk full: keep draining so nobody is stuck
            self._drain.touch()
        return True


#: Pumps still copying when their command's run_command() returned (background processes hold
#: the pipes); handed over by :func:`hand_over_leftover_output`.
LEFTOVER: list[Pump] = []


def hand_over_leftover_output() -> None:
    """Give every pipe still held by a finished command's background processes to a ``cat`` of
    its own (see the module docstring). Called by :func:`~cronwatch.runner.reraise_exit`; call
    it before exiting in any other way after :func:`~cronwatch.runner.run_command`."""
    while LEFTOVER:
        pump = LEFTOVER.pop()
        if pump.running():
            pump.hand_over()


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            # We inherited a non-blocking stdout: wait until it takes more instead of dropping.
            import select

            select.select([], [fd], [])
            continue
        view = view[written:]
