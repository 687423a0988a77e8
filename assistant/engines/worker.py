"""One engine, one thread: blocking model calls and lazy generators run here, never on the loop.

`Worker.stream` consumes a generator inside the worker thread and hands items to the event
loop through an asyncio queue; a stop flag checked between items makes a cancelled turn
stop generating at the next token or audio chunk.

`CpuGate` keeps two engines from fighting over the two cores: the holder (TTS rendering the
next clause the user is waiting for) runs alone, and a yielding stream (the LLM writing
ahead) pauses between items while the gate is held.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_ITEM, _END, _ERROR = 0, 1, 2


class CpuGate:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._holders = 0

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        with self._cond:
            self._holders += 1
        try:
            yield
        finally:
            with self._cond:
                self._holders -= 1
                self._cond.notify_all()

    def wait_free(self, stop: threading.Event, timeout_s: float = 5.0) -> None:
        """Block while someone holds the gate (bounded, and never past a stop)."""
        with self._cond:
            self._cond.wait_for(lambda: self._holders == 0 or stop.is_set(), timeout=timeout_s)

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()


class Worker:
    def __init__(self, name: str) -> None:
        self.name = name
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def idle(self) -> None:
        """Returns once everything submitted before it has finished."""
        await self.call(lambda: None)

    async def stream(
        self,
        produce: Callable[[], Iterator[T]],
        *,
        yield_to: CpuGate | None = None,
        on_stop: Callable[[], None] | None = None,
    ) -> AsyncGenerator[T, None]:
        """Run `produce()` in the worker and yield its items on the loop.

        Closing or cancelling the consumer sets the stop flag; the worker stops at the next
        item and closes the generator (which stops a model mid-generation). `on_stop` is
        called (on the loop) when the consumer leaves before the end, to abort an item in
        progress.
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
        stop = threading.Event()

        def put(kind: int, value: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is listening
                loop.call_soon_threadsafe(queue.put_nowait, (kind, value))

        def run() -> None:
            gen: Iterator[T] | None = None
            try:
                if stop.is_set():  # cancelled before the worker got to it
                    put(_END, None)
                    return
                gen = produce()  # may raise before yielding anything
                for item in gen:
                    if stop.is_set():
                        break
                    put(_ITEM, item)
                    if yield_to is not None:
                        yield_to.wait_free(stop)
                    if stop.is_set():
                        break
            except BaseException as e:  # forwarded to the consumer, which re-raises it
                put(_ERROR, e)
            else:
                put(_END, None)
            finally:
                close = getattr(gen, "close", None)
                if close is not None:
                    close()

        loop.run_in_executor(self._executor, run)
        finished = False
        try:
            while True:
                kind, value = await queue.get()
                if kind == _ITEM:
                    yield value
                elif kind == _END:
                    finished = True
                    return
                else:
                    finished = True
                    raise value
        finally:
            stop.set()
            if not finished and on_stop is not None:
                on_stop()
            if yield_to is not None:
                yield_to.wake()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
