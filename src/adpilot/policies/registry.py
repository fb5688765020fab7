"""Policy sets by name: the agent's own (``adpilot``) and the baselines it is measured against."""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from adpilot.policies import Policy

BASELINES = ("uniform", "seed-rules", "seed-bandit", "thompson")
POLICY_SETS = ("adpilot", *BASELINES)
# The tunable policies of the ``adpilot`` set, by the prefix an override names them with.
TUNABLE = ("budget", "creative", "fatigue")

Overrides = Mapping[str, Mapping[str, Any]]  # policy -> parameter -> value


def parse_overrides(items: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``POLICY.PARAMETER=VALUE`` items (e.g. ``budget.max_step=0.15``) as overrides of the ``adpilot`` set's
    parameters. A value is read as JSON when it is JSON (numbers, ``true``, ``null``), else as a string.
    Raises ``ValueError`` naming the item that is malformed or names no such policy or parameter, or whose
    value the policy's own checks refuse."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        policy, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise ValueError(f"{item!r}: expected POLICY.PARAMETER=VALUE, e.g. budget.max_step=0.15")
        if policy not in TUNABLE:
            raise ValueError(f"{item!r}: no tunable policy {policy!r} (known: {', '.join(TUNABLE)})")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw.strip()
        out.setdefault(policy, {})[name] = value
    adpilot_params(out)  # every name exists and every value passes the policies' checks
    return out


STEP_MARGIN = 0.95  # the budget policy's step as a share of the guardrails' cap: room for rounding to minor units


def adpilot_params(
    overrides: Overrides | None = None,
    launch_cap: int | None = None,
    seed: int = 0,
    learning_step: float = 1.0,
    max_change: float = 1.0,
) -> dict[str, Any]:
    """The ``adpilot`` set's parameters (``budget``, ``creative``, ``fatigue``) with ``overrides`` applied.
    ``seed`` (the agent's) salts the budget policy's held draws unless an override sets ``draw_seed``.
    ``learning_step``: the largest budget edit the guardrails let through on an ad set still learning; below
    the budget policy's step, the policy holds such ad sets (``move_learning``) unless an override says.
    ``max_change``: the guardrails' per-change cap. The budget policy's step stays under it
    (``STEP_MARGIN`` of it, as its default 19 % stays under the default 20 %), so a user's stricter cap
    gets smaller proposals rather than refused ones; its dead band shrinks with it when it must. An
    overridden ``budget.max_step`` is taken as given."""
    from adpilot.policies._stats import CandidatePrior
    from adpilot.policies.budget import BudgetParams
    from adpilot.policies.creative import CreativeParams
    from adpilot.policies.fatigue import FatigueParams

    over = overrides or {}
    candidates = CandidatePrior() if launch_cap is None else CandidatePrior(launch_cap=launch_cap)
    params: dict[str, Any] = {}
    specs: list[tuple[str, Any, dict[str, Any]]] = [
        ("budget", BudgetParams, {"draw_seed": seed}),
        ("creative", CreativeParams, {"candidates": candidates}),
        ("fatigue", FatigueParams, {"candidates": candidates}),
    ]
    for policy, cls, base in specs:
        given = dict(over.get(policy, {}))
        hints = typing.get_type_hints(cls)
        # parameter -> whether its type admits None
        fields = {f.name: type(None) in typing.get_args(hints[f.name]) for f in dataclasses.fields(cls)}
        fields.pop("candidates", None)
        unknown = sorted(set(given) - set(fields))
        if unknown:
            raise ValueError(f"{policy}.{unknown[0]}: no such parameter (known: {', '.join(sorted(fields))})")
        defaults = cls(**base)
        for key, value in given.items():
            _check_type(f"{policy}.{key}", getattr(defaults, key), value, optional=fields[key])
        try:
            params[policy] = cls(**{**base, **given})
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{policy}: {exc}") from exc
    budget, budget_given = params["budget"], over.get("budget", {})
    if "max_step" not in budget_given and max_change * STEP_MARGIN < budget.max_step - 1e-9:
        step = max_change * STEP_MARGIN
        band = budget.dead_band if budget.dead_band < step or "dead_band" in budget_given else step / 2
        try:
            budget = dataclasses.replace(budget, max_step=step, dead_band=band)
        except ValueError as exc:
            raise ValueError(
                f"budget: {exc} (its step follows the guardrails' max_change of {max_change:.0%})"
            ) from exc
        params["budget"] = budget
    if "move_learning" not in budget_given:  # judged against the step in force, overridden or not
        params["budget"] = dataclasses.replace(budget, move_learning=learning_step >= budget.max_step)
    return params


def _check_type(name: str, default: Any, value: Any, *, optional: bool) -> None:
    """``value`` must be of the parameter's kind, judged by its default: a whole number where the default is
    an int, any number where it is a float, true/false, or a string; null too where the parameter is
    ``optional`` (its type admits None)."""
    if optional and value is None:
        return
    if isinstance(default, bool):
        ok, kind = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, kind = isinstance(value, int) and not isinstance(value, bool), "a whole number"
    elif isinstance(default, float) or default is None:
        number = isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)
        ok, kind = number, "a number or null" if optional else "a number"
    else:
        ok, kind = isinstance(value, type(default)), f"a {type(default).__name__}"
    if not ok:
        raise ValueError(f"{name}: expected {kind}, got {value!r}")


def policy_set(
    name: str,
    *,
    rules: Sequence[Any] = (),
    launch_cap: int | None = None,
    overrides: Overrides | None = None,
    seed: int = 0,
    learning_step: float = 1.0,
    max_change: float = 1.0,
) -> list[Policy]:
    """The policies run together under ``name``; user rules (if any) run first in every set. ``launch_cap``:
    the guardrails' launches per ad set per week, which the ``adpilot`` policies plan within (None: the
    default of ``CandidatePrior``, equal to the guardrails' default). ``overrides``: parameters of the
    ``adpilot`` set's policies (``parse_overrides``); the baselines follow their specifications and take none.
    ``seed``: the agent's, for the draws a policy holds across cycles (its per-cycle numbers come with each
    call). ``learning_step``, ``max_change``: the guardrails' largest edit on an ad set still learning, and on
    any (``adpilot_params``)."""
    from adpilot.policies import baselines
    from adpilot.policies.rules import RulesPolicy

    out: list[Policy] = [RulesPolicy(tuple(rules))] if rules else []
    if name == "adpilot":
        from adpilot.policies.budget import BudgetPolicy
        from adpilot.policies.creative import CreativePolicy
        from adpilot.policies.fatigue import FatiguePolicy

        p = adpilot_params(overrides, launch_cap, seed, learning_step, max_change)
        fatigue = p["fatigue"]
        return [*out, FatiguePolicy(fatigue), CreativePolicy(p["creative"], fatigue=fatigue), BudgetPolicy(p["budget"])]
    if overrides:
        raise ValueError(f"overrides: the {name!r} baseline follows its specification and takes no parameters")
    classes = {
        "uniform": baselines.UniformPolicy,
        "seed-rules": baselines.SeedRulesPolicy,
        "seed-bandit": baselines.SeedBanditPolicy,
        "thompson": baselines.ThompsonPolicy,
    }
    if name not in classes:
        raise ValueError(f"policies: unknown policy set {name!r} (known: {', '.join(POLICY_SETS)})")
    return [*out, classes[name]()]
