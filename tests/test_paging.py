"""Paginators: every item once, in order, in a bounded number of requests, whatever the server says."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from orderbridge.errors import OrderbridgeError, PagingError
from orderbridge.paging import KeysetPaginator, OffsetPaginator, PageNumberPaginator, PagingStats

PAGE = 10
SIZES = [0, 1, PAGE, PAGE + 1, 2 * PAGE + 1]


def orders(n: int, start: int = 1) -> list[dict[str, Any]]:
    return [{"Id": i} for i in range(start, start + n)]


def ids(items: Sequence[dict[str, Any]]) -> list[Any]:
    return [item["Id"] for item in items]


def key(item: dict[str, Any]) -> Any:
    return item["Id"]


class OffsetSource:
    """An in-memory WebinOne list: ``Offset``/``Limit`` over ``rows``; ``before`` runs before each answer."""

    def __init__(self, rows: list[dict[str, Any]], *, total: int | str | None = "real") -> None:
        self.rows = rows
        self.total = total
        self.calls: list[tuple[int, int]] = []
        self.before: Callable[[OffsetSource], None] = lambda source: None

    def __call__(self, offset: int, limit: int) -> tuple[Sequence[Any], int | None]:
        self.calls.append((offset, limit))
        self.before(self)
        total = len(self.rows) if self.total == "real" else self.total
        assert not isinstance(total, str)
        return list(self.rows[offset : offset + limit]), total


class PageSource:
    """An in-memory Lunasoft list paged by number; ``next_page`` is None after the last page."""

    def __init__(self, rows: list[dict[str, Any]], size: int = PAGE) -> None:
        self.rows = rows
        self.size = size
        self.calls: list[int] = []

    def __call__(self, page: int) -> tuple[Sequence[Any], int | None]:
        self.calls.append(page)
        chunk = self.rows[(page - 1) * self.size : page * self.size]
        more = page * self.size < len(self.rows)
        return chunk, page + 1 if more else None


class KeysetSource:
    """An in-memory Lunasoft list filtered by ``id >= K`` (the seam included), ``size`` per answer."""

    def __init__(self, rows: list[dict[str, Any]], size: int = PAGE) -> None:
        self.rows = rows
        self.size = size
        self.calls: list[Any] = []

    def __call__(self, start: Any) -> Sequence[Any]:
        self.calls.append(start)
        chosen = [r for r in self.rows if start is None or r["Id"] >= start]
        return chosen[: self.size]


def drain(paginator: Any) -> list[Any]:
    out = list(paginator)
    assert paginator.stats.read == len(out)
    return out


# -- every size read exactly once, in order ------------------------------------------------------------


@pytest.mark.parametrize("n", SIZES)
def test_offset_reads_every_size_once_in_order(n: int) -> None:
    source = OffsetSource(orders(n))
    paginator = OffsetPaginator(source, page_size=PAGE, key=key)
    assert ids(drain(paginator)) == list(range(1, n + 1))
    assert paginator.stats.claimed == n
    assert paginator.stats.read == n
    assert paginator.stats.rereads == 0
    assert paginator.stats.notes == []
    # Pages overlap by one, so a page brings page_size - 1 new orders, plus one closing request at most.
    assert paginator.stats.pages == len(source.calls) <= n // (PAGE - 1) + 2
    assert source.calls[0] == (0, PAGE)


@pytest.mark.parametrize("n", SIZES)
def test_offset_without_total_reads_every_size_once(n: int) -> None:
    source = OffsetSource(orders(n), total=None)
    paginator = OffsetPaginator(source, page_size=PAGE, key=key)
    assert ids(drain(paginator)) == list(range(1, n + 1))
    assert paginator.stats.claimed is None
    assert len(source.calls) <= n // (PAGE - 1) + 2


@pytest.mark.parametrize("n", SIZES)
def test_page_number_reads_every_size_once_in_order(n: int) -> None:
    source = PageSource(orders(n))
    paginator = PageNumberPaginator(source, key=key)
    assert ids(drain(paginator)) == list(range(1, n + 1))
    assert paginator.stats.claimed is None
    assert len(source.calls) == max(1, -(-n // PAGE))


@pytest.mark.parametrize("n", SIZES)
def test_keyset_reads_every_size_once_in_order(n: int) -> None:
    source = KeysetSource(orders(n))
    paginator = KeysetPaginator(source, key=key)
    assert ids(drain(paginator)) == list(range(1, n + 1))
    assert source.calls[0] is None
    # Each later request starts at the last id read (the server sends it again: skipped).
    assert source.calls[1:] == sorted(source.calls[1:])
    assert len(source.calls) <= n // (PAGE - 1) + 2


# -- lying servers end, in a bounded number of requests ------------------------------------------------


def test_offset_server_ignoring_offset_raises_within_three_requests() -> None:
    rows = orders(100)
    calls: list[int] = []

    def fetch(offset: int, limit: int) -> tuple[Sequence[Any], int | None]:
        calls.append(offset)
        return rows[:limit], len(rows)

    paginator = OffsetPaginator(fetch, page_size=PAGE, key=key)
    seen: list[Any] = []
    with pytest.raises(PagingError, match="may ignore Offset"):
        seen.extend(paginator)
    assert ids(seen) == list(range(1, PAGE + 1))
    assert 1 < len(calls) <= 4


@pytest.mark.parametrize("tail", ["slice", "empty"])
def test_offset_absurd_total_ends_with_a_note(tail: str) -> None:
    rows = orders(300)
    calls: list[int] = []

    def fetch(offset: int, limit: int) -> tuple[Sequence[Any], int | None]:
        calls.append(offset)
        if tail == "empty" and offset + 1 >= len(rows):
            return [], 10**9
        return rows[offset : offset + limit], 10**9

    paginator = OffsetPaginator(fetch, page_size=100, key=key)
    assert ids(drain(paginator)) == list(range(1, 301))
    assert paginator.stats.claimed == 10**9
    assert "the source claimed 1000000000 orders; 300 were read" in paginator.stats.notes
    assert len(calls) <= 300 // 99 + 4


def test_offset_total_lower_than_the_list_does_not_skip() -> None:
    source = OffsetSource(orders(35), total=5)
    paginator = OffsetPaginator(source, page_size=PAGE, key=key)
    assert ids(drain(paginator)) == list(range(1, 36))
    assert "the source claimed 5 orders; 35 were read" in paginator.stats.notes


def test_offset_server_capping_the_page_size_is_read_to_the_end() -> None:
    rows = orders(50)

    def fetch(offset: int, limit: int) -> tuple[Sequence[Any], int | None]:
        return rows[offset : offset + min(limit, 7)], len(rows)

    paginator = OffsetPaginator(fetch, page_size=PAGE, key=key)
    assert ids(drain(paginator)) == list(range(1, 51))
    assert paginator.stats.pages <= 50 // 6 + 2


def test_page_number_repeating_the_last_page_raises_bounded() -> None:
    rows = orders(25)
    calls: list[int] = []

    def fetch(page: int) -> tuple[Sequence[Any], int | None]:
        calls.append(page)
        last = (len(rows) - 1) // PAGE + 1
        shown = min(page, last)
        return rows[(shown - 1) * PAGE : shown * PAGE], page + 1  # next_page never becomes false

    paginator = PageNumberPaginator(fetch, key=key)
    seen: list[Any] = []
    with pytest.raises(PagingError, match="next_page keeps coming with no new orders"):
        seen.extend(paginator)
    assert ids(seen) == list(range(1, 26))
    assert len(calls) <= 3 + 2


def test_page_number_empty_pages_with_a_next_page_stop() -> None:
    rows = orders(15)
    calls: list[int] = []

    def fetch(page: int) -> tuple[Sequence[Any], int | None]:
        calls.append(page)
        return rows[(page - 1) * PAGE : page * PAGE], page + 1

    paginator = PageNumberPaginator(fetch, key=key)
    assert ids(drain(paginator)) == list(range(1, 16))
    assert calls == [1, 2, 3]


@pytest.mark.parametrize("bad_next", [1, 2])
def test_page_number_next_page_not_after_the_current_page_raises(bad_next: int) -> None:
    rows = orders(30)
    calls: list[int] = []

    def fetch(page: int) -> tuple[Sequence[Any], int | None]:
        calls.append(page)
        return rows[(page - 1) * PAGE : page * PAGE], bad_next

    paginator = PageNumberPaginator(fetch, key=key, first_page=2)
    with pytest.raises(PagingError, match="does not come after page 2"):
        list(paginator)
    assert calls == [2]


def test_page_number_false_next_page_ends() -> None:
    def fetch(page: int) -> tuple[Sequence[Any], Any]:
        return orders(3), False

    assert ids(list(PageNumberPaginator(fetch, key=key))) == [1, 2, 3]


def test_keyset_server_ignoring_the_filter_raises_bounded() -> None:
    rows = orders(40)
    calls: list[Any] = []

    def fetch(start: Any) -> Sequence[Any]:
        calls.append(start)
        return rows[:PAGE]

    paginator = KeysetPaginator(fetch, key=key)
    seen: list[Any] = []
    with pytest.raises(PagingError, match="may ignore the id filter"):
        seen.extend(paginator)
    assert ids(seen) == list(range(1, PAGE + 1))
    assert len(calls) <= 4


def test_keyset_server_excluding_the_seam_still_reads_everything() -> None:
    rows = orders(23)

    def fetch(start: Any) -> Sequence[Any]:
        return [r for r in rows if start is None or r["Id"] > start][:PAGE]

    assert ids(list(KeysetPaginator(fetch, key=key))) == list(range(1, 24))


# -- the source changes while paging ---------------------------------------------------------------


def test_offset_deletions_before_the_offset_skip_nothing() -> None:
    source = OffsetSource(orders(50))
    deleted: list[int] = []

    def delete_early_orders(src: OffsetSource) -> None:
        # Between the 2nd and 3rd request, 5 orders already read (before the offset) disappear.
        if len(src.calls) == 3:
            for i in (2, 4, 6, 8, 10):
                deleted.append(i)
            src.rows = [r for r in src.rows if r["Id"] not in deleted]

    source.before = delete_early_orders
    paginator = OffsetPaginator(source, page_size=PAGE, key=key)
    got = ids(drain(paginator))
    assert got == list(range(1, 51))  # the deleted ones were read before they went; nothing skipped
    assert paginator.stats.rereads > 0
    assert paginator.stats.claimed == 45
    assert any("deleted" in note for note in paginator.stats.notes)
    assert len(source.calls) <= 50 // (PAGE - 1) + 2 + paginator.stats.rereads


def test_offset_many_deletions_step_back_several_pages() -> None:
    source = OffsetSource(orders(80))

    def delete_many(src: OffsetSource) -> None:
        if len(src.calls) == 5:
            src.rows = [r for r in src.rows if not 3 <= r["Id"] <= 30]  # 28 orders, almost 3 pages

    source.before = delete_many
    paginator = OffsetPaginator(source, page_size=PAGE, key=key)
    assert ids(drain(paginator)) == list(range(1, 81))
    assert paginator.stats.rereads >= 3


def test_offset_deletions_of_unread_orders_are_not_yielded() -> None:
    source = OffsetSource(orders(40))

    def delete_mixed(src: OffsetSource) -> None:
        if len(src.calls) == 2:
            src.rows = [r for r in src.rows if r["Id"] not in {1, 2, 3, 25, 26}]

    source.before = delete_mixed
    paginator = OffsetPaginator(source, page_size=PAGE, key=key)
    assert ids(drain(paginator)) == [i for i in range(1, 41) if i not in {25, 26}]


def test_offset_appended_orders_are_read() -> None:
    source = OffsetSource(orders(25))

    def append(src: OffsetSource) -> None:
        if len(src.calls) <= 3:
            next_id = src.rows[-1]["Id"] + 1
            src.rows.extend(orders(4, start=next_id))

    source.before = append
    paginator = OffsetPaginator(source, page_size=PAGE, key=key)
    assert ids(drain(paginator)) == list(range(1, 25 + 12 + 1))
    assert paginator.stats.notes == []


def test_keyset_appended_orders_are_read() -> None:
    source = KeysetSource(orders(15))
    real = source.__call__

    def fetch(start: Any) -> Sequence[Any]:
        if len(source.calls) < 2:
            source.rows.extend(orders(3, start=source.rows[-1]["Id"] + 1))
        return real(start)

    assert ids(list(KeysetPaginator(fetch, key=key))) == list(range(1, 22))


def test_offset_source_that_keeps_shifting_raises_within_max_rereads() -> None:
    rows = orders(100)
    calls: list[int] = []

    def fetch(offset: int, limit: int) -> tuple[Sequence[Any], int | None]:
        # Beyond the first page, this source always answers orders far ahead of the offset.
        calls.append(offset)
        shift = 0 if offset == 0 else 50
        return rows[offset + shift : offset + shift + limit], len(rows)

    paginator = OffsetPaginator(fetch, page_size=PAGE, key=key, max_rereads=5)
    with pytest.raises(PagingError, match="could not be found again after 5 re-reads"):
        list(paginator)
    assert len(calls) <= 1 + 6 + 1


# -- order, unreadable ids --------------------------------------------------------------------------


def test_non_ascending_pages_raise() -> None:
    shuffled = [{"Id": i} for i in (1, 2, 5, 3, 4)]
    with pytest.raises(PagingError, match="does not return the list sorted by id"):
        list(OffsetPaginator(lambda o, n: (shuffled[o : o + n], 5), page_size=PAGE, key=key))
    with pytest.raises(PagingError, match="does not return the list sorted by id"):
        list(PageNumberPaginator(lambda p: (shuffled, None), key=key))
    with pytest.raises(PagingError, match="does not return the list sorted by id"):
        list(KeysetPaginator(lambda s: shuffled, key=key))


def test_duplicate_ids_on_one_page_raise() -> None:
    doubled = [{"Id": i} for i in (1, 2, 2, 3)]
    with pytest.raises(PagingError, match="sorted by id"):
        list(PageNumberPaginator(lambda p: (doubled, None), key=key))


def test_unreadable_ids_are_yielded_once_and_do_not_move_the_cursor() -> None:
    rows: list[dict[str, Any]] = orders(30)
    rows.insert(9, {"Id": None, "n": "a"})  # the last item of the first page: the next overlap
    rows.insert(15, {"n": "b"})  # key() raises
    rows.insert(16, {"Id": None, "n": "c"})

    def read_key(item: dict[str, Any]) -> Any:
        return item["Id"]

    for paginator in (
        OffsetPaginator(OffsetSource(rows), page_size=PAGE, key=read_key),
        PageNumberPaginator(PageSource(rows), key=read_key),
    ):
        got = list(paginator)
        assert [r.get("Id", r.get("n")) for r in got] == [r.get("Id", r.get("n")) for r in rows]
        assert paginator.stats.read == len(rows)


def test_unreadable_ids_after_the_seam_with_keyset() -> None:
    rows: list[dict[str, Any]] = orders(12)
    rows.insert(10, {"Id": None, "n": "x"})

    def fetch(start: Any) -> Sequence[Any]:
        # The seam and the unreadable item right after it come back with every request.
        at = 0 if start is None else next(i for i, r in enumerate(rows) if r["Id"] == start)
        return rows[at : at + PAGE]

    got = list(KeysetPaginator(fetch, key=key))
    assert [r["Id"] for r in got] == [r["Id"] for r in rows]


def test_stats_are_per_run_and_errors_are_orderbridge_errors() -> None:
    source = OffsetSource(orders(12))
    paginator = OffsetPaginator(source, page_size=PAGE, key=key)
    assert len(list(paginator)) == 12
    assert len(list(paginator)) == 12
    assert paginator.stats.read == 12
    assert isinstance(paginator.stats, PagingStats)
    assert issubclass(PagingError, OrderbridgeError)


def test_offset_page_size_must_allow_progress() -> None:
    with pytest.raises(ValueError, match="page_size"):
        OffsetPaginator(lambda o, n: ([], 0), page_size=1, key=key)
