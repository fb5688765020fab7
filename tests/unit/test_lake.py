"""The raw lake: pages stored compressed and atomically, committed runs listed in order."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from adpilot.domain import DateWindow
from adpilot.errors import LakeError
from adpilot.lake import Lake
from adpilot.ports.lake import LakeCommit, PageKey

T0 = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)


def key(seq: int = 0, *, run: str = "r1", at: datetime = T0, account: str = "act_1") -> PageKey:
    return PageKey("meta", account, "insights", date(2026, 2, 20), at, run, seq)


def test_page_round_trip_is_compressed_and_keyed(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    body = {"data": [{"ad_id": "1", "spend": "12.34"}], "paging": {"cursors": {"after": "x"}}}
    path = lake.write_page(key(3), body, request={"url": "/v21.0/act_1/insights", "params": {"limit": 500}})
    assert path.relative_to(tmp_path).parts[:4] == ("meta", "act_1", "insights", "2026-02-20")
    assert path.name == "20260301T083000000000Z-r1-000003.json.gz"
    assert orjson.loads(gzip.decompress(path.read_bytes()))["body"] == body
    page = lake.read_page(path)
    assert page.body == body and page.key == key(3) and page.request["params"] == {"limit": 500}
    assert not list(tmp_path.rglob(".tmp-*"))


def test_commits_come_back_oldest_first(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    later = T0 + timedelta(hours=1)
    p2 = lake.write_page(key(run="r2", at=later), {"n": 2})
    p1 = lake.write_page(key(run="r1"), {"n": 1})
    window = DateWindow(date(2026, 2, 20), date(2026, 2, 26))
    lake.commit(LakeCommit("meta", "act_1", "insights", "r2", later, window, (str(p2),)))
    lake.commit(LakeCommit("meta", "act_1", "insights", "r1", T0, window, (str(p1),)))
    commits = list(lake.commits())
    assert [c.run_id for c in commits] == ["r1", "r2"]
    assert commits[0].window == window
    assert lake.read_page(commits[1].pages[0]).body == {"n": 2}  # stored relative to the lake root
    assert lake.stats() == {"pages": 2, "commits": 2, "quarantined": 0, "bytes": lake.stats()["bytes"]}


def test_every_window_of_one_run_keeps_its_own_commit(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    for start in (date(2026, 1, 1), date(2026, 1, 29)):
        window = DateWindow(start, start + timedelta(days=27))
        lake.commit(LakeCommit("meta", "act_1", "insights", "r1", T0, window, ()))
    assert [c.window.start for c in lake.commits() if c.window] == [date(2026, 1, 1), date(2026, 1, 29)]


def test_quarantine_keeps_the_reason(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    path = lake.quarantine(key(), {"data": "not a list"}, reason="data: expected a list")
    assert "_quarantine" in path.parts
    assert orjson.loads(gzip.decompress(path.read_bytes()))["reason"] == "data: expected a list"
    assert lake.stats()["quarantined"] == 1 and lake.stats()["pages"] == 0


@pytest.mark.parametrize("bad", ["../etc", "a/b", "", "act 1"])
def test_unsafe_path_components_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(LakeError, match="account_id"):
        Lake(tmp_path).write_page(key(account=bad), {})


def test_naive_fetch_time_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LakeError, match="fetched_at"):
        Lake(tmp_path).write_page(key(at=datetime(2026, 3, 1)), {})


def test_corrupt_page_names_the_file(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    path = lake.write_page(key(), {"ok": True})
    path.write_bytes(b"not gzip")
    with pytest.raises(LakeError, match=path.name):
        lake.read_page(path)
