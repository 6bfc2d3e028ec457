"""JSON lines on standard output, for cron mail and pipes."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import ClassVar

from monitor.config import Option
from monitor.notifiers.base import Notifier
from monitor.records import Alert


class StdoutNotifier(Notifier):
    type: ClassVar[str] = "stdout"
    options: ClassVar[Mapping[str, Option]] = {}

    def send(self, alert: Alert) -> None:
        line = {
            "id": alert.delivery_id,
            "type": alert.event,
            "timestamp": alert.timestamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "data": dict(alert.data),
        }
        # ensure_ascii: control characters and odd Unicode from Hub data arrive as \u escapes.
        sys.stdout.write(json.dumps(line, ensure_ascii=True) + "\n")
        sys.stdout.flush()
