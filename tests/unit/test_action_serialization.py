"""Actions survive the ledger's JSON exactly: money as integer minor units plus currency, never a float."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.domain.actions import (
    Action,
    LaunchAd,
    Pause,
    Resume,
    SetBid,
    SetBudget,
    action_from_dict,
    action_to_dict,
)
from adpilot.domain.ids import EntityRef, Level, Platform
from adpilot.domain.money import Money, known_currencies

text = st.text(min_size=1, max_size=30).filter(lambda s: s.strip() != "")
ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=20)
money = st.builds(Money, st.sampled_from(sorted(known_currencies())), st.integers(1, 10**15))


def refs(*levels: Level) -> st.SearchStrategy[EntityRef]:
    return st.builds(EntityRef, st.sampled_from(list(Platform)), ids, st.sampled_from(levels), ids)


common = {"reason": text, "idempotency_key": ids}
actions: st.SearchStrategy[Action] = st.one_of(
    st.builds(SetBudget, target=refs(Level.CAMPAIGN, Level.AD_SET), new_budget=money, **common),
    st.builds(SetBid, target=refs(Level.AD_SET), new_bid=money, **common),
    st.builds(Pause, target=refs(Level.CAMPAIGN, Level.AD_SET, Level.AD), **common),
    st.builds(Resume, target=refs(Level.CAMPAIGN, Level.AD_SET, Level.AD), **common),
    st.builds(
        LaunchAd,
        target=refs(Level.AD_SET),
        name=text,
        asset_ids=st.lists(ids, min_size=1, max_size=3).map(tuple),
        headline=st.text(max_size=20),
        body=st.text(max_size=20),
        call_to_action=st.text(max_size=10),
        link_url=st.text(max_size=20),
        start_paused=st.booleans(),
        **common,
    ),
)


@given(actions)
def test_round_trip_through_json(action: Action) -> None:
    wire = orjson.loads(orjson.dumps(action_to_dict(action)))
    back = action_from_dict(wire)
    assert back == action
    assert type(back) is type(action)


def test_money_is_exact_minor_units() -> None:
    action = SetBudget(
        target=EntityRef(Platform.X, "a", Level.CAMPAIGN, "c"),
        new_budget=Money("KWD", 12_345),
        reason="r",
        idempotency_key="k",
    )
    d = action_to_dict(action)
    assert d["new_budget"] == {"minor": 12_345, "currency": "KWD"}
    assert d["kind"] == "set_budget" and d["target"] == {
        "platform": "x",
        "account_id": "a",
        "level": "campaign",
        "entity_id": "c",
    }


def _pause_dict(**over: Any) -> dict[str, Any]:
    d = action_to_dict(Pause(target=EntityRef(Platform.META, "act_1", Level.AD, "1"), reason="r", idempotency_key="k"))
    return {**d, **over}


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        ({k: v for k, v in _pause_dict().items() if k != "reason"}, "missing field 'reason'"),
        (_pause_dict(kind="delete"), "'delete' is not a valid ActionKind"),
        (
            {**_pause_dict(kind="set_bid"), "new_bid": {"minor": 1.5, "currency": "USD"}},
            "minor: expected integer minor units",
        ),
        ({**_pause_dict(kind="set_budget"), "new_budget": {"minor": 100, "currency": "XXX"}}, "unknown ISO 4217"),
        (_pause_dict(target={"platform": "meta", "account_id": "a", "level": "account", "entity_id": "1"}), "target"),
    ],
)
def test_bad_documents_are_refused_by_name(wire: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        action_from_dict(wire)
