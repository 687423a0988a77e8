"""Short conversation memory: the last few exchanges, bounded in turns and tokens,
forgotten after an idle timeout. Pure code.

It forgets in blocks: when a bound is passed, the oldest exchanges go until half the budget
is left. The LLM keeps the previous prompt in its KV cache and re-uses the longest common
prefix, and dropping the oldest exchange changes the prompt right after the system prompt,
so all the history has to be read again (~3 ms a token for SmolLM2 on two cores here).
Dropping one exchange per turn would pay that on every turn; dropping half pays it rarely.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from annotated_types import Ge, Gt

from assistant.core.clock import Clock


def approx_tokens(text: str) -> int:
    """About four characters a token for English: good enough for a budget."""
    return len(text) // 4 + 1


@dataclass(frozen=True, slots=True)
class Exchange:
    user: str
    assistant: str


@dataclass(frozen=True, slots=True)
class MemorySettings:
    """config.toml's `[memory]`."""

    max_turns: Annotated[int, Ge(0)] = 4
    """Exchanges kept at most (0: no memory)."""
    max_tokens: Annotated[int, Gt(0)] = 320
    """Tokens of history kept at most (estimated: `approx_tokens`)."""
    idle_timeout_s: Annotated[float, Gt(0)] = 60.0
    """After this long without a turn, the conversation is forgotten."""


class ConversationMemory:
    def __init__(
        self,
        clock: Clock,
        settings: MemorySettings = MemorySettings(),
        *,
        count_tokens: Callable[[str], int] = approx_tokens,
    ) -> None:
        self.clock = clock
        self.max_turns = settings.max_turns
        self.max_tokens = settings.max_tokens
        self.idle_timeout_ns = int(settings.idle_timeout_s * 1e9)
        self.count_tokens = count_tokens
        self._exchanges: deque[Exchange] = deque()
        self._last_ns: int | None = None

    def history(self) -> list[Exchange]:
        """The exchanges to send with the next turn (oldest first)."""
        self._expire()
        return list(self._exchanges)

    def add(self, user: str, assistant: str) -> None:
        self._expire()
        self._exchanges.append(Exchange(user, assistant))
        self._last_ns = self.clock.now_ns()
        if len(self._exchanges) > self.max_turns or self._tokens() > self.max_tokens:
            while self._exchanges and (
                len(self._exchanges) > self.max_turns // 2 or self._tokens() > self.max_tokens // 2
            ):
                self._exchanges.popleft()

    def clear(self) -> None:
        self._exchanges.clear()

    def _tokens(self) -> int:
        return sum(
            self.count_tokens(e.user) + self.count_tokens(e.assistant) for e in self._exchanges
        )

    def _expire(self) -> None:
        if self._last_ns is not None and self.clock.now_ns() - self._last_ns > self.idle_timeout_ns:
            self._exchanges.clear()
            self._last_ns = None
