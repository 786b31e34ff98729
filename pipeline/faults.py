"""A deterministic point for the kill tests to stop a real pipeline run at (tests only).

`MOVIEREC_TEST_PAUSE_AT=load,switched` makes the run, on reaching a named point, write
`$MOVIEREC_TEST_PAUSE_FILE.<point>` and wait until `<that file>.go` appears. The test then either
SIGKILLs the process (a real kill, at a known place) or lets it go on. Unset (always, outside tests),
a point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

POINTS = ("load", "index:movies", "index:users", "index:ratings", "switched")


def pause_point(name: str) -> None:
    wanted = os.environ.get("MOVIEREC_TEST_PAUSE_AT")
    if not wanted or name not in wanted.split(","):
        return
    marker = Path(f"{os.environ['MOVIEREC_TEST_PAUSE_FILE']}.{name}")
    marker.write_text(str(os.getpid()))
    go = marker.with_name(marker.name + ".go")
    while not go.exists():
        time.sleep(0.1)
