"""sd_notify against a real AF_UNIX datagram socket, as systemd would hold it."""

from __future__ import annotations

import itertools
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Pulse, espeak_wav
from tests.daemon_helper import Daemon

BLOCKABLE = Path(__file__).parent / "blockable_assistant.py"

pytestmark = [pytest.mark.models, pytest.mark.audio]


class NotifySocket:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []
        self._stop = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            for field in data.decode().split("\n"):
                self.messages.append((time.monotonic(), field))

    def fields(self, prefix: str) -> list[tuple[float, str]]:
        return [(t, f) for t, f in self.messages if f.startswith(prefix)]

    def wait_for(self, prefix: str, timeout: float = 2.0) -> list[tuple[float, str]]:
        """The fields once one has come: the reader thread may not have taken a datagram
        in yet when the daemon's ready line (its stdout, read by another thread) is seen."""
        deadline = time.monotonic() + timeout
        while not (found := self.fields(prefix)) and time.monotonic() < deadline:
            time.sleep(0.02)
        return found

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifySocket]:
    s = NotifySocket(tmp_path / "notify.sock")
    yield s
    s.close()


def test_ready_status_watchdog_and_stopping(
    pulse: Pulse, notify: NotifySocket, tmp_path: Path
) -> None:
    env = {"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "2000000"}
    # The real `assistant run`, plus a SIGUSR1 handler that blocks its event loop for 3 s.
    d = Daemon(pulse, env=env, program=[sys.executable, str(BLOCKABLE)])
    try:
        d.wait_ready()
        warmed_at = next(t for t, ln in d.stamped_stderr() if "models loaded and warmed" in ln)
        ready = notify.wait_for("READY=1")
        assert len(ready) == 1 and ready[0][0] >= warmed_at
        time.sleep(3.2)
        pings = [t for t, _ in notify.fields("WATCHDOG=1")]
        gaps = [b - a for a, b in itertools.pairwise(pings)]
        assert len(pings) >= 3 and all(0.7 < g < 1.4 for g in gaps), gaps  # half of 2 s
        pulse.play_into_mic(espeak_wav("What time is it?", tmp_path / "q.wav"))
        d.wait_turns(1)
        time.sleep(0.5)
        statuses = [f for _, f in notify.fields("STATUS=")]
        assert "STATUS=listening" in statuses and "STATUS=thinking" in statuses
        assert any("last turn" in s and "(intent)" in s for s in statuses), statuses

        # A blocked event loop stops the pings (so systemd's watchdog fires), however
        # healthy the audio threads are; they resume once the loop runs again.
        blocked_at = time.monotonic()
        d.proc.send_signal(signal.SIGUSR1)
        time.sleep(5.0)
        pings = [t for t, _ in notify.fields("WATCHDOG=1")]
        before = max(t for t in pings if t < blocked_at)
        after = [t for t in pings if t > blocked_at]
        assert after, "the pings did not resume after the loop was unblocked"
        assert after[0] - before > 2.9, (before, after)  # none while blocked
        assert after[0] - blocked_at > 2.9
        assert len(after) >= 2  # and they keep coming
        assert d.proc.poll() is None
        d.stop()
        assert notify.wait_for("STOPPING=1")
    finally:
        d.kill()
