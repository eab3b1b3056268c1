#!/usr/bin/env python3
"""e2e: `make demo` (examples/demo.py) works on its own: it syncs the example Secret, shows the
rotated value, shows that unchanged refreshes write nothing, prints the history with the sqlite3
CLI, exits 0 by itself, and leaves no process of its session running.
"""

import os
import subprocess
import sys
import unittest
from pathlib import Path

import harness

REPO = Path(__file__).resolve().parents[2]


def session_members(sid):
    """Processes (other than zombies) whose session id is `sid`."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            out.append(int(entry))
    return out


class Demo(unittest.TestCase):  # no harness cluster: the demo starts its own fake

    def test_demo_runs_to_the_end_and_leaves_nothing_running(self):
        proc = subprocess.Popen([sys.executable, str(REPO / "examples" / "demo.py"),
                                 "--binary", harness.binary()], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        out, _ = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 0, out)
        for expected in ("db-password  = s3cr3t-v1", "db-password  = s3cr3t-v2",
                         "API writes during the last one: 0", "exit code 0",
                         "written", "unchanged", "Demo finished: nothing is left running."):
            self.assertIn(expected, out)
        self.assertEqual(session_members(proc.pid), [], "processes left by the demo")


if __name__ == "__main__":
    harness.main()
