"""Each client's share of the what-if slots: at most its part of them while others compute,
and a short wait for a slot to free before a 429."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from service.common.errors import TooManyRequests
from service.common.schemas import ProblemError

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 1
# A client at its share waits this long for a slot before its 429: a page's burst of
# what-ifs is answered a little later instead of refused, and a flooding client is paced
# by its computations. Refused at once, a flood of 20 connections drew about 400 429s a
# second, which took 0.8 of the API process's core at nice 0, ahead of the worker, and
# made evidence -> published 2.5x slower (service/README.md).
SHARE_WAIT_SECONDS = 1.0


class Shares:
    """Slots held per client (``service.http.clients`` names them), out of ``capacity``.

    Used from the event loop only. ``held`` lists only clients holding a slot.
    """

    def __init__(self, capacity: int, wait_seconds: float = SHARE_WAIT_SECONDS):
        self.capacity = capacity
        self.wait_seconds = wait_seconds
        self.held: Counter[str] = Counter()
        # Set (and replaced) whenever a slot frees: clients at their share wait on it.
        self.freed = asyncio.Event()

    def share(self, client: str) -> int:
        """Slots ``client`` may hold: the capacity less one kept for a newcomer, split
        evenly between the clients computing (at least one each)."""
        others = sum(1 for c, n in self.held.items() if n and c != client)
        spare = 1 if self.capacity > 1 else 0
        return max(1, (self.capacity - spare) // (others + 1))

    def has_room(self, client: str) -> bool:
        return self.held[client] < self.share(client)

    def take(self, client: str) -> None:
        self.held[client] += 1

    def give_back(self, client: str) -> None:
        """``client``'s computation ended: its slot frees, and whoever waits is woken."""
        self.held[client] -= 1
        self.held += Counter()  # drops clients with nothing in flight
        freed, self.freed = self.freed, asyncio.Event()
        freed.set()

    async def wait_for_slot(self, seconds: float) -> bool:
        """Whether a slot freed within ``seconds``."""
        if seconds <= 0:
            return False
        try:
            await asyncio.wait_for(self.freed.wait(), seconds)
        except TimeoutError:
            return False
        return True

    def refused(self, client: str) -> TooManyRequests:
        """The 429 for ``client`` at its share after its wait."""
        return TooManyRequests(
            f"this client has {self.held[client]} what-ifs being computed, its share "
            "of the slots; try again when one is answered",
            [ProblemError("by", "cannot be computed now", f"at most {self.share(client)} at once")],
            retry_after=RETRY_AFTER_SECONDS,
        )
