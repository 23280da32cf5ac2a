"""`cronwatch run bench -- true` against `true`: what wrapping a cron job costs.

Target (issue "Record every run"): under 150 ms added, on the default SQLite database.
Whole processes are timed, interleaved, so both see the same load.

    python -m bench.bench_run_cli [--rounds 30]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time

from bench.common import report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    cronwatch = shutil.which("cronwatch")
    assert cronwatch, "install the project first: pip install -e ."
    true = shutil.which("true") or "/bin/true"
    with tempfile.TemporaryDirectory() as data_home:
        env = dict(os.environ, XDG_DATA_HOME=data_home)
        env.pop("CRONWATCH_DATABASE_URL", None)
        commands = {
            "true": [true],
            "cronwatch run bench -- true": [cronwatch, "run", "bench", "--", true],
        }
        subprocess.run(commands["cronwatch run bench -- true"], env=env, check=True)  # migrate
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, argv in commands.items():
                start = time.perf_counter()
                subprocess.run(argv, env=env, check=True)
                samples[name].append(time.perf_counter() - start)
        stored = subprocess.run(
            [cronwatch, "history", "bench", "--limit", "1000", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    medians = {name: statistics.median(values) for name, values in samples.items()}
    added = medians["cronwatch run bench -- true"] - medians["true"]
    report(
        "cronwatch run -- true against true (default SQLite file)",
        [
            (name, f"{seconds * 1000:7.1f} ms (median of {args.rounds})")
            for name, seconds in medians.items()
        ]
        + [
            ("added", f"{added * 1000:7.1f} ms  (target < 150 ms)"),
            ("runs stored", str(len(stored.stdout.splitlines()))),
        ],
    )


if __name__ == "__main__":
    main()
