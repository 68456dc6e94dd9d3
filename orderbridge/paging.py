"""Paginators that never loop forever, never skip and never yield an item twice.

Each paginator asks a ``fetch`` callable for pages of a list sorted by ascending
key (the order id) and yields the items in that order, each once, whatever the
server says. They are shared by the built-in backends and plugin authors:

* :class:`OffsetPaginator`: ``Offset``/``Limit`` with a total (WebinOne).
* :class:`PageNumberPaginator`: ``page=1,2,...`` with a ``next_page`` (Lunasoft).
* :class:`KeysetPaginator`: "ids >= K" filters (Lunasoft with ``sort=id``).

A list API that says its size in headers (``X-WP-TotalPages``/``X-WP-Total``,
``X-Total-Count``) pages with :class:`PageNumberPaginator` too:
:func:`pages_from_headers` turns one :class:`~orderbridge.Answer` (from
``Transport.fetch``) into the ``(items, next_page, total)`` the paginator takes.

The rules they share live in one place, :class:`_Cursor`: an item whose key is
not above the last key yielded is a re-read and is skipped; a page whose keys
are not ascending, or two pages in a row that bring nothing new although the
server says there is more, raise :class:`~orderbridge.errors.PagingError`.
:attr:`PagingStats` says what happened, including anything odd.

An item whose key cannot be read (``key()`` raises or returns ``None``) is
still yielded, so the caller can record it as failed, but it cannot move the
cursor. Such items are recognised again by their place between readable keys
(best effort: a run of them directly after the last readable key is counted).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from attrs import define, field

from .errors import ConfigurationError, PagingError

__all__ = [
    "HeaderAnswer",
    "KeysetPaginator",
    "OffsetPaginator",
    "PageNumberPaginator",
    "PagingStats",
    "pages_from_headers",
]

_NO_KEY: Any = object()
"""Stands for the key of an item whose key cannot be read (``None`` is a possible answer of ``key()``)."""

_STALL_LIMIT = 2
"""How many pages in a row may bring nothing new (while the server says there is more) before paging stops."""


@define
class PagingStats:
    """What one run of a paginator did, and anything odd the source did.

    ``claimed`` is the last total the server gave (``None`` if it never gives
    one), ``read`` the distinct items yielded, ``pages`` the page requests made,
    ``rereads`` the requests made again to repair a seam after deletions, and
    ``notes`` human sentences about anything odd.
    """

    claimed: int | None = None
    read: int = 0
    pages: int = 0
    rereads: int = 0
    notes: list[str] = field(factory=list)

    def reset(self) -> PagingStats:
        """Start counting afresh (a new walk); returns ``self`` (whoever holds it sees the new walk)."""
        self.claimed, self.read, self.pages, self.rereads = None, 0, 0, 0
        self.notes.clear()
        return self

    def check_total(self) -> None:
        """Add a note when the claimed total disagrees with what was read."""
        if self.claimed is not None and self.claimed != self.read:
            self.notes.append(f"the source claimed {self.claimed} orders; {self.read} were read")


class _Cursor:
    """The rules every paginator shares: order, re-reads, progress, stats.

    ``last`` is the highest key yielded (``None`` before the first readable
    key); ``tail`` counts the unreadable items yielded since that key, so a
    page that shows them again after the seam does not yield them twice.
    """

    def __init__(self, key: Callable[[Any], Any], stats: PagingStats) -> None:
        self._key = key
        self.stats = stats
        self.last: Any = None
        self.tail = 0
        self._stalls = 0

    def keys(self, page: Sequence[Any], where: str) -> list[tuple[Any, Any]]:
        """Pair each item with its key (``_NO_KEY`` when unreadable); refuse a page out of order."""
        entries: list[tuple[Any, Any]] = []
        previous: Any = _NO_KEY
        for item in page:
            try:
                k = self._key(item)
            except Exception:  # any failure of a plugin's key function makes the key unreadable
                k = None
            if k is None:
                entries.append((item, _NO_KEY))
                continue
            # Strictly ascending: ids are unique, so a repeated id inside one page
            # means the order of the list cannot be trusted either.
            if previous is not _NO_KEY and not self._before(previous, k):
                raise PagingError(
                    f"the source does not return the list sorted by id: {k!r} comes after "
                    f"{previous!r} on the page for {where}; paging stopped"
                )
            previous = k
            entries.append((item, k))
        return entries

    def _before(self, a: Any, b: Any) -> bool:
        try:
            return bool(a < b)
        except TypeError:
            raise PagingError(f"ids {a!r} and {b!r} cannot be compared; paging stopped")

    def is_old(self, k: Any) -> bool:
        """True if key ``k`` was already passed (a re-read)."""
        return self.last is not None and not self._before(self.last, k)

    def take(self, entries: list[tuple[Any, Any]], *, lead_seen: int) -> list[Any]:
        """The items of a page not yielded yet, in order; moves the cursor past them.

        ``lead_seen`` is how many unreadable items at the very start of the page
        (before any readable key) were already yielded, for a page that does not
        show the seam key itself (the paginator knows how it overlaps pages).
        """
        start = self.last
        new: list[Any] = []
        run: list[Any] = []  # unreadable items waiting for the next readable key to be placed
        state = "start"  # "start" (no key yet on the page), "old" (after a key <= start), "new"

        def place(next_key: Any) -> None:
            # Where a run of unreadable items sits decides whether it is new:
            # after a new key -> new; before an old key -> old; otherwise it is
            # right after the seam, where the first ``tail`` of them were yielded.
            if not run:
                return
            if state == "new":
                fresh = list(run)
            elif next_key is not _NO_KEY and start is not None and not self._before(start, next_key):
                fresh = []
            else:
                seen = self.tail if state == "old" else lead_seen
                fresh = run[seen:]
                self.tail += len(fresh)
            new.extend(fresh)
            run.clear()

        for item, k in entries:
            if k is _NO_KEY:
                run.append(item)
                continue
            place(k)
            if start is not None and not self._before(start, k):
                state = "old"
                continue
            state = "new"
            new.append(item)
            self.last = k
            self.tail = 0
        place(_NO_KEY)
        return new

    def moved(self) -> None:
        """A page brought something new."""
        self._stalls = 0

    def stalled(self, cause: str) -> None:
        """A page brought nothing new although the server says there is more."""
        self._stalls += 1
        if self._stalls >= _STALL_LIMIT:
            raise PagingError(f"{cause}; paging stopped after {self.stats.read} orders")

    def emit(self, items: list[Any]) -> Iterator[Any]:
        """Yield ``items``, counting each as read when it is handed out."""
        for item in items:
            self.stats.read += 1
            yield item


class OffsetPaginator:
    """Pages ``Offset``/``Limit`` over a list sorted by ascending id, with a total (WebinOne).

    ``fetch(offset, limit)`` answers ``(items, total)``. Each page overlaps the
    previous one by one item (the seam), so deletions before the current
    offset, which shift the list left, are seen and repaired by stepping back
    instead of skipping items. ``max_rereads`` bounds each repair.
    """

    def __init__(
        self,
        fetch: Callable[[int, int], tuple[Sequence[Any], int | None]],
        *,
        page_size: int,
        key: Callable[[Any], Any],
        max_rereads: int = 50,
    ) -> None:
        # A page of one item would only ever hold the seam: no progress is possible.
        if page_size < 2:
            raise ConfigurationError(f"page_size must be at least 2, not {page_size}")
        if max_rereads < 0:
            raise ConfigurationError(f"max_rereads must not be negative, not {max_rereads}")
        self.fetch = fetch
        self.page_size = page_size
        self.key = key
        self.max_rereads = max_rereads
        self.stats = PagingStats()

    def __iter__(self) -> Iterator[Any]:
        """Yield every item once, in ascending id order; ``stats`` describes this run."""
        stats = self.stats.reset()
        cursor = _Cursor(self.key, stats)
        offset = 0
        total: int | None = None
        ended_unkeyed = False  # the last page ended on an unreadable item (it is the next overlap)
        repairs = 0  # requests made again for the current seam
        while True:
            items, claimed = self.fetch(offset, self.page_size)
            stats.pages += 1
            if claimed is not None:
                total = stats.claimed = claimed
            entries = cursor.keys(items, f"Offset={offset}")
            if (
                offset > 0
                and cursor.last is not None
                and not self._seam_found(cursor, entries, ended_unkeyed)
            ):
                # The seam is not where it was: orders before it were deleted and
                # the offsets moved left. Step back until the page reaches it.
                repairs = self._reread(repairs, cursor)
                offset = max(0, offset - self.page_size)
                continue
            if not items:
                # Empty at offset 0 (or with nothing readable to check): the list is exhausted.
                break
            new = cursor.take(entries, lead_seen=1 if ended_unkeyed else 0)
            yield from cursor.emit(new)
            # Positions are recomputed from where this page really sits, so later
            # offsets stay right after a repair.
            consumed = offset + len(items)
            ended_unkeyed = entries[-1][1] is _NO_KEY
            short = len(items) < self.page_size
            if new:
                cursor.moved()
                repairs = 0
                if short and (total is None or consumed >= total):
                    break
            elif short:
                # Nothing after the seam at all: the list ends here whatever the total says.
                break
            elif repairs:
                # Walking forward from a stepped-back page over orders already read.
                repairs = self._reread(repairs, cursor)
            else:
                cursor.stalled(
                    f"the source returned the same orders again for Offset={offset}: it may ignore Offset"
                )
            offset = consumed - 1
        stats.check_total()
        if stats.rereads:
            pages = "page was" if stats.rereads == 1 else "pages were"
            stats.notes.append(
                f"orders were deleted from the source while paging; {stats.rereads} {pages} re-read "
                "to find the place again"
            )

    def _reread(self, repairs: int, cursor: _Cursor) -> int:
        # Every request made again for one seam counts; a list that keeps
        # shifting under the paginator must not keep it busy forever.
        cursor.stats.rereads += 1
        if repairs + 1 > self.max_rereads:
            raise PagingError(
                f"the order with id {cursor.last!r} could not be found again after "
                f"{self.max_rereads} re-reads: the source's list keeps shifting"
            )
        return repairs + 1

    @staticmethod
    def _seam_found(cursor: _Cursor, entries: list[tuple[Any, Any]], ended_unkeyed: bool) -> bool:
        # The page is in place if it reaches back to the last key read: nothing
        # between that key and the page can have been missed.
        if any(k is not _NO_KEY and cursor.is_old(k) for _, k in entries):
            return True
        # The overlap item is unreadable, so the seam cannot be checked by key;
        # a page starting with an unreadable item is taken as in place.
        return ended_unkeyed and bool(entries) and entries[0][1] is _NO_KEY


class HeaderAnswer(Protocol):
    """What :func:`pages_from_headers` reads of an answer (an :class:`~orderbridge.Answer`)."""

    def json(self) -> Any:
        """The parsed body."""

    def header_int(self, name: str) -> int | None:
        """A header holding a whole number, or ``None``."""


def pages_from_headers(
    answer: HeaderAnswer,
    page: int,
    *,
    per_page: int | None = None,
    total_pages: str | None = "X-WP-TotalPages",
    total: str | None = "X-WP-Total",
    items: Callable[[Any], Sequence[Any]] | None = None,
) -> tuple[Sequence[Any], int | None, int | None]:
    """``(items, next_page, total)`` of page ``page`` from its answer's headers, for
    :class:`PageNumberPaginator`.

    The next page is ``page + 1`` while ``page`` is below the ``total_pages``
    header, or, without it, while ``page * per_page`` is below the ``total``
    header; with neither, while the page is full (``per_page`` known) or not
    empty. ``items`` picks the list out of the body (default: the body is the
    list). Paging still ends on an empty page whatever the headers claim, and
    the total is the paginator's claimed count (a lying one is noted).
    """
    body = answer.json()
    found = items(body) if items is not None else body
    if not isinstance(found, list):
        raise PagingError(f"page {page}: the answer holds no list of orders")
    pages = answer.header_int(total_pages) if total_pages else None
    claimed = answer.header_int(total) if total else None
    if pages is not None:
        more = page < pages
    elif claimed is not None and per_page is not None:
        more = page * per_page < claimed
    elif per_page is not None:
        more = len(found) >= per_page
    else:
        more = bool(found)
    return found, (page + 1 if more else None), claimed


class PageNumberPaginator:
    """Pages ``page=1,2,...`` where each answer is ``(items, next_page)`` (Lunasoft).

    ``next_page`` is the next page number, or ``None``/``False`` at the end. It
    must come after the page just read; pages that bring nothing new while a
    ``next_page`` keeps coming end in :class:`~orderbridge.errors.PagingError`.
    An answer may add a third item, the total the server claims (a total
    header, see :func:`pages_from_headers`): it is :attr:`PagingStats.claimed`.
    """

    def __init__(
        self,
        fetch: Callable[
            [int], tuple[Sequence[Any], int | None] | tuple[Sequence[Any], int | None, int | None]
        ],
        *,
        key: Callable[[Any], Any],
        first_page: int = 1,
    ) -> None:
        self.fetch = fetch
        self.key = key
        self.first_page = first_page
        self.stats = PagingStats()

    def __iter__(self) -> Iterator[Any]:
        """Yield every item once, in ascending id order; ``stats`` describes this run."""
        stats = self.stats.reset()
        cursor = _Cursor(self.key, stats)
        page = self.first_page
        while True:
            answer = self.fetch(page)
            items, next_page = answer[0], answer[1]
            if len(answer) > 2 and answer[2] is not None:
                stats.claimed = answer[2]
            stats.pages += 1
            entries = cursor.keys(items, f"page={page}")
            new = cursor.take(entries, lead_seen=0)
            yield from cursor.emit(new)
            if not items or next_page is None or next_page is False:
                break
            if next_page is True:
                # Some servers only say "there is more": that is the page after this one.
                next_page = page + 1
            if next_page <= page:
                raise PagingError(
                    f"the source's next_page {next_page!r} does not come after page {page}: "
                    "it would read pages again; paging stopped"
                )
            if new:
                cursor.moved()
            else:
                cursor.stalled("next_page keeps coming with no new orders")
            page = next_page
        stats.check_total()


class KeysetPaginator:
    """Pages by id: ``fetch(None)`` first, then ``fetch(last_id)`` for items with id >= last_id.

    The server includes the item whose id equals ``last_id`` (the seam); it is
    skipped. Paging ends when a page brings nothing but the seam. A server that
    ignores the filter (and answers the same orders again) ends in
    :class:`~orderbridge.errors.PagingError`.
    """

    def __init__(
        self,
        fetch: Callable[[Any | None], Sequence[Any]],
        *,
        key: Callable[[Any], Any],
        page_size: int | None = None,
    ) -> None:
        self.fetch = fetch
        self.key = key
        self.page_size = page_size
        """The server's page size, when known: a shorter page is the last (one request saved)."""
        self.stats = PagingStats()

    def __iter__(self) -> Iterator[Any]:
        """Yield every item once, in ascending id order; ``stats`` describes this run."""
        stats = self.stats.reset()
        cursor = _Cursor(self.key, stats)
        start: Any = None
        while True:
            items = self.fetch(start)
            stats.pages += 1
            entries = cursor.keys(items, "the first page" if start is None else f"id>={start!r}")
            # The answer starts at the seam, so the unreadable items after it
            # are all on the page again.
            new = cursor.take(entries, lead_seen=cursor.tail)
            yield from cursor.emit(new)
            if new and self.page_size is not None and len(items) < self.page_size:
                break  # a short page: nothing comes after it
            if new:
                cursor.moved()
            elif all(k is _NO_KEY or k == start for _, k in entries):
                # Empty, or only the seam: nothing comes after the last id.
                break
            else:
                where = "the first page" if start is None else f"id>={start!r}"
                cursor.stalled(
                    f"the source returned the same orders again for {where}: it may ignore the id filter"
                )
            start = cursor.last
        stats.check_total()
