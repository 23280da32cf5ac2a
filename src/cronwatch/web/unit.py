"""The systemd service that ``cronwatch serve --systemd-unit`` prints: this very cronwatch
(the absolute path of the running script) serving with the options given next to
``--systemd-unit``, as a hardened ``Type=notify`` service.

- ``Type=notify``: systemd counts the service started when ``serve`` says ``READY=1``
  (:mod:`cronwatch.web.sdnotify`), i.e. once the database is migrated and the port is open.
- ``EnvironmentFile=/etc/cronwatch/cronwatch.env``: the database URL
  (``CRONWATCH_DATABASE_URL``) and the secrets the config file's channels read from the
  environment; never on the command line, where every user sees it in ``ps``.
- ``DynamicUser=yes``: a user made up when the service starts, owning nothing else;
  ``StateDirectory=cronwatch`` (``/var/lib/cronwatch``) is its one writable directory and the
  data directory (``XDG_DATA_HOME=%S``), so the default SQLite database and the spool live
  there and survive restarts.
- ``ProtectSystem=strict``, ``ProtectHome=read-only``, ``PrivateTmp=``, ``NoNewPrivileges=``
  and the kernel protections: the server cannot write outside its state directory.
- ``Restart=on-failure``: a crash, or a start with the database away (``serve`` exits 2), is
  retried every 5 s. SIGTERM, the stop, is a graceful stop (requests in flight answered,
  queued pings written); the stop timeout leaves room for it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cronwatch.systemd_units.wrap import exec_argument

#: Where the printed unit is meant to be installed, and its environment file.
UNIT_PATH = "/etc/systemd/system/cronwatch.service"
ENV_FILE = "/etc/cronwatch/cronwatch.env"
#: What ``PrivateTmp=yes`` replaces with empty directories of the service's own.
PRIVATE_TMP = ("/tmp", "/var/tmp")
#: Ports below this need CAP_NET_BIND_SERVICE.
_PRIVILEGED_PORTS = 1024


def service_unit(
    command: Sequence[str], *, port: int, env_file: str = ENV_FILE, graceful_stop: int = 30
) -> str:
    """The unit text: ``command`` is the whole ``ExecStart=`` (this cronwatch's absolute path,
    its global options, ``serve`` and its options); ``port`` the port it listens on."""
    exec_start = " ".join(exec_argument(arg) for arg in command)
    capabilities = (
        "AmbientCapabilities=CAP_NET_BIND_SERVICE\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\n"
        if 0 < port < _PRIVILEGED_PORTS
        else "CapabilityBoundingSet=\n"
    )
    return (
        f"# {UNIT_PATH}: cronwatch serve (dashboard, ping URLs, REST API, alerts)\n"
        "# Install:\n"
        f"#   cronwatch serve --systemd-unit ... | sudo tee {UNIT_PATH}\n"
        f"#   sudo install -D -m 600 /dev/null {env_file}   # CRONWATCH_DATABASE_URL=..., secrets\n"
        "#   sudo systemctl daemon-reload && sudo systemctl enable --now cronwatch\n"
        "# Without CRONWATCH_DATABASE_URL the database is /var/lib/cronwatch/cronwatch.db.\n"
        "[Unit]\n"
        "Description=cronwatch server: dashboard, ping URLs, REST API, alerts\n"
        "Wants=network-online.target\n"
        "After=network-online.target postgresql.service\n"
        "\n"
        "[Service]\n"
        "Type=notify\n"
        "NotifyAccess=main\n"
        f"ExecStart={exec_start}\n"
        # "-": the file is optional (the default SQLite database needs none).
        f"EnvironmentFile=-{env_file}\n"
        "Environment=XDG_DATA_HOME=%S PYTHONUNBUFFERED=1\n"
        "StateDirectory=cronwatch\n"
        "StateDirectoryMode=0700\n"
        "WorkingDirectory=%S/cronwatch\n"
        "Restart=on-failure\n"
        "RestartSec=5s\n"
        f"TimeoutStopSec={graceful_stop + 15}s\n"
        "DynamicUser=yes\n"
        "NoNewPrivileges=yes\n"
        "ProtectSystem=strict\n"
        "ProtectHome=read-only\n"
        "PrivateTmp=yes\n"
        "PrivateDevices=yes\n"
        "ProtectKernelTunables=yes\n"
        "ProtectKernelModules=yes\n"
        "ProtectKernelLogs=yes\n"
        "ProtectControlGroups=yes\n"
        "ProtectClock=yes\n"
        "ProtectHostname=yes\n"
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n"
        "RestrictNamespaces=yes\n"
        "RestrictRealtime=yes\n"
        "RestrictSUIDSGID=yes\n"
        "LockPersonality=yes\n"
        "SystemCallArchitectures=native\n"
        "UMask=0077\n"
        f"{capabilities}"
        "\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )


def hidden_from_service(path: str) -> str | None:
    """The directory of :data:`PRIVATE_TMP` that holds ``path`` (the service, with its own
    empty ``/tmp``, cannot see it there), or ``None``."""
    for real in dict.fromkeys((os.path.abspath(path), os.path.realpath(path))):
        for directory in PRIVATE_TMP:
            if real.startswith(directory + "/"):
                return directory
    return None
