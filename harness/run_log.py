"""The controller log: every run writes ``splitbrain.log`` in its directory and echoes to stderr."""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s.%(msecs)03d %(levelname)-5s %(message)s"
DATEFMT = "%H:%M:%S"


def attach_run_log(path, console: bool = True):
    """Send the ``splitbrain`` logger to ``path`` (and stderr); returns a function that detaches."""
    logger = logging.getLogger("splitbrain")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    handlers = []
    fh = logging.FileHandler(path, encoding="utf-8")
    fh.setLevel(logging.DEBUG)
    fh.setFormatter(logging.Formatter(FORMAT, DATEFMT))
    handlers.append(fh)
    if console:
        ch = logging.StreamHandler(sys.stderr)
        ch.setLevel(logging.INFO)
        ch.setFormatter(logging.Formatter(FORMAT, DATEFMT))
        handlers.append(ch)
    for h in handlers:
        logger.addHandler(h)

    def detach():
        for h in handlers:
            logger.removeHandler(h)
            h.close()

    return detach
