"""The executor's pure parts: comparing live values, building inverses, tagging launches, masking secrets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adpilot.agent.executor import (
    LAUNCH_NAME_MAX,
    LedgerError,
    describe_error,
    inverse_of,
    launch_tag,
    reached,
    state_dict,
    tagged_launch,
)
from adpilot.domain.actions import Action, LaunchAd, Pause, Resume, SetBid, SetBudget, idempotency_key
from adpilot.domain.ids import EntityRef, Level, Platform
from adpilot.domain.ledger import ActionRecord, ActionState, ApprovalMode, new_record
from adpilot.domain.money import Money
from adpilot.domain.status import Status
from adpilot.platforms.errors import RequestInvalid
from adpilot.ports.platform import LiveState

AD_SET = EntityRef(Platform.META, "act_1", Level.AD_SET, "as1")
AD = EntityRef(Platform.META, "act_1", Level.AD, "ad1")
T0 = datetime(2026, 3, 10, tzinfo=UTC)


def live(status: Status = Status.ACTIVE, budget: int | None = 5000, bid: int | None = None) -> dict[str, object]:
    return state_dict(
        LiveState(
            AD_SET,
            status,
            "ACTIVE" if status is Status.ACTIVE else "PAUSED",
            None if budget is None else Money("USD", budget),
            None if bid is None else Money("USD", bid),
        )
    )


def budget(minor: int) -> SetBudget:
    return SetBudget(target=AD_SET, new_budget=Money("USD", minor), reason="r", idempotency_key="k")


@pytest.mark.parametrize(
    ("action", "state", "expected"),
    [
        (budget(5000), live(budget=5000), True),
        (budget(5001), live(budget=5000), False),
        (budget(5000), live(budget=None), False),
        (SetBudget(target=AD_SET, new_budget=Money("EUR", 5000), reason="r", idempotency_key="k"), live(), False),
        (SetBid(target=AD_SET, new_bid=Money("USD", 120), reason="r", idempotency_key="k"), live(bid=120), True),
        (SetBid(target=AD_SET, new_bid=Money("USD", 120), reason="r", idempotency_key="k"), live(), False),
        (Pause(target=AD, reason="r", idempotency_key="k"), live(Status.PAUSED), True),
        (Pause(target=AD, reason="r", idempotency_key="k"), live(Status.ACTIVE), False),
        (Resume(target=AD, reason="r", idempotency_key="k"), live(Status.ACTIVE), True),
        (Resume(target=AD, reason="r", idempotency_key="k"), {}, False),
    ],
)
def test_reached_compares_exact_values(action: Action, state: dict[str, object], expected: bool) -> None:
    assert reached(action, state) is expected


def applied(action: Action, before: dict[str, object], after: dict[str, object] | None = None) -> ActionRecord:
    import dataclasses

    rec = new_record(action, cycle_id="c", policy="p", mode=ApprovalMode.AUTO, now=T0)
    return dataclasses.replace(rec, state=ActionState.APPLIED, before=before, after=after or {})


def test_inverses_restore_the_recorded_before() -> None:
    undo = inverse_of(applied(budget(6000), live(budget=5000)), "undo")
    assert isinstance(undo, SetBudget) and undo.new_budget == Money("USD", 5000) and undo.idempotency_key == "undo"
    bid = SetBid(target=AD_SET, new_bid=Money("USD", 90), reason="r", idempotency_key="k")
    undo_bid = inverse_of(applied(bid, live(bid=110)), "undo")
    assert isinstance(undo_bid, SetBid) and undo_bid.new_bid == Money("USD", 110)
    pause = Pause(target=AD, reason="r", idempotency_key="k")
    assert isinstance(inverse_of(applied(pause, live()), "u"), Resume)
    resume = Resume(target=AD, reason="r", idempotency_key="k")
    assert isinstance(inverse_of(applied(resume, live(Status.PAUSED)), "u"), Pause)
    launch = LaunchAd(target=AD_SET, name="n", asset_ids=("a",), reason="r", idempotency_key="k")
    undo_launch = inverse_of(applied(launch, {"ad_id": None}, {"ad_id": "777"}), "u")
    assert isinstance(undo_launch, Pause) and undo_launch.target == EntityRef(Platform.META, "act_1", Level.AD, "777")


def test_no_inverse_without_a_recorded_value() -> None:
    with pytest.raises(LedgerError, match="no daily_budget was recorded before it"):
        inverse_of(applied(budget(6000), live(budget=None)), "u")
    launch = LaunchAd(target=AD_SET, name="n", asset_ids=("a",), reason="r", idempotency_key="k")
    with pytest.raises(LedgerError, match="launched ad's id was not recorded"):
        inverse_of(applied(launch, {"ad_id": None}), "u")


def test_launch_names_carry_a_short_key_within_the_length_limit() -> None:
    key = idempotency_key("cycle", "launch")
    long = LaunchAd(target=AD_SET, name="x" * 200, asset_ids=("a",), reason="r", idempotency_key=key)
    tagged = tagged_launch(long)
    assert tagged.name.endswith(f"[ap:{key[:10]}]") and len(tagged.name) <= LAUNCH_NAME_MAX
    assert tagged_launch(tagged) == tagged
    assert launch_tag("not hex at all") == launch_tag("not hex at all") != launch_tag("not hex at all!")
    assert len(launch_tag("launch-1")) == len("[ap:]") + 10


@pytest.mark.parametrize(
    "exc",
    [
        RuntimeError("GET https://graph.test/v21.0/act_1?access_token=EAAB123secret&fields=id failed"),
        RequestInvalid("x", 'refused {"oauth_token": "tok-123secret", "x": 1}'),
        RuntimeError("Authorization: Bearer EAAB123secret was refused"),
        RuntimeError("app_secret=EAAB123secret; password: EAAB123secret"),
    ],
)
def test_error_messages_lose_their_secrets(exc: Exception) -> None:
    text = describe_error(exc)
    assert "123secret" not in text and "***" in text
    assert len(describe_error(RuntimeError("y" * 5000))) == 500
