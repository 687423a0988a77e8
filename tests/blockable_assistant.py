"""`assistant`, except that SIGUSR1 blocks its event loop for 3 s, as a hung callback would.

A plain Python signal handler runs in the main thread, which is the one running the
daemon's event loop: nothing else on the loop runs until it returns.
"""

import signal
import sys
import time

from assistant.commands.cli import main

signal.signal(signal.SIGUSR1, lambda *_: time.sleep(3.0))
sys.exit(main())
