"""How `adpilot bench policies` prints a figure whose share means little without its base."""

from adpilot.entrypoints.cli_agent import _false_retirements


def test_false_retirements_print_their_base() -> None:
    assert _false_retirements({"false_retirement_rate": 1.0, "fatigue_detections": 1}) == "100% of 1"
    assert _false_retirements({"false_retirement_rate": 0.05, "fatigue_detections": 40}) == "5% of 40"
    assert _false_retirements({"false_retirement_rate": None, "fatigue_detections": 0}) == ""
