"""Jobs from Kubernetes CronJobs: what ``cronwatch import-kubernetes`` reads and writes.

:mod:`.manifests` reads YAML (or JSON) documents, ``List`` kinds and ``kubectl get cronjobs
-A -o yaml`` output into the CronJobs they hold; :mod:`.cronjobs` turns one into the job that
watches it. PyYAML is imported by :mod:`.manifests` only, that is by this command only.
"""

from __future__ import annotations
