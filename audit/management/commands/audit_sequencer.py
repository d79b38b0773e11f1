"""``manage.py audit_sequencer``: give committed leaves their index and sign checkpoints, in a loop.

One batch at a time under a PostgreSQL advisory lock (a second sequencer waits its turn: one tree).
It polls every AUDIT_SEQUENCER_POLL_SECONDS (0.2 s) with an indexed query on the unsequenced rows,
so a leaf is in a signed checkpoint well within 2 s, with no Redis and nothing added to writers'
commits. ``--once`` sequences what is waiting and exits.
"""

from __future__ import annotations

import logging
import signal
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import OperationalError, close_old_connections

from audit.tlog import sequence_all, sequence_batch

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Sequence audit events into the transparency log and sign checkpoints (a loop)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="sequence what waits, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        batch = settings.AUDIT_SEQUENCER_BATCH
        if options["once"]:
            self.stdout.write(f"sequenced {sequence_all(batch)} events")
            return
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        poll = settings.AUDIT_SEQUENCER_POLL_SECONDS
        while not stopping:
            try:
                done = sequence_batch(batch)
            except OperationalError:
                logger.exception("audit sequencer: database unreachable; retrying")
                close_old_connections()
                done = 0
                time.sleep(1.0)
            if done < batch:
                time.sleep(poll)
