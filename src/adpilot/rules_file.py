"""The user-rules YAML file: validated at the edge (pydantic, unknown keys refused), turned into pure rules.

Every problem names its field path the way a person reads the file (``rules[2].when.all[0].metric``)
so a marketer can find it; ``load_rules`` raises ``RulesFileError`` carrying all of them at once. The
format is documented in ``docs/rules.md``.
"""

from __future__ import annotations

import math
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from adpilot.domain.ids import Platform
from adpilot.errors import AdpilotError
from adpilot.policies.rules import (
    OP_WORDS,
    WEEKDAYS,
    AllOf,
    AnyOf,
    Approval,
    Condition,
    Metric,
    Op,
    PauseEntity,
    ResumeEntity,
    Rule,
    RuleAction,
    RuleLevel,
    ScaleBudget,
    Schedule,
    Scope,
    SetBudgetTo,
    When,
)

_METRICS = ", ".join(m.value for m in Metric)
_OPS = ", ".join([o.value for o in Op] + list(OP_WORDS))
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.\-]{0,79}")
_QUOTE_HINT = "in YAML write operators as words (gt, gte, lt, lte, eq, ne) or quote them: op: '>'"
_ACTIONS = "pause, resume, {scale_budget: FRACTION}, {set_budget: AMOUNT}"
_DAY_NAMES = {name: i for i, name in enumerate(WEEKDAYS)} | {
    full: i for i, full in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
}


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class RulesFileError(AdpilotError):
    """A rules file that cannot be used; ``problems`` names every field at fault."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__(f"{source}: " + "; ".join(str(p) for p in self.problems))


def _parse_action(raw: object) -> RuleAction:
    """``pause`` | ``resume`` | ``{scale_budget: 0.15}`` | ``{set_budget: 200}``."""
    simple: dict[str, RuleAction] = {"pause": PauseEntity(), "resume": ResumeEntity()}
    if isinstance(raw, str) and raw in simple:
        return simple[raw]
    if isinstance(raw, dict) and len(raw) == 1:
        ((key, arg),) = raw.items()
        if key in simple and arg in (None, {}):
            return simple[key]
        if key in ("scale_budget", "set_budget"):
            if isinstance(arg, bool) or not isinstance(arg, int | float) or not math.isfinite(arg):
                raise ValueError(f"{key}: expected a number, got {arg!r}")
            if key == "scale_budget":
                if not (arg > -1 and arg != 0):
                    raise ValueError(f"scale_budget: a non-zero fraction above -1 (0.15 = +15 %), got {arg!r}")
                return ScaleBudget(float(arg))
            if arg <= 0:
                raise ValueError(f"set_budget: a positive amount in the reporting currency, got {arg!r}")
            return SetBudgetTo(float(arg))
    if isinstance(raw, str | dict):
        raise ValueError(f"unknown action {raw!r} (known: {_ACTIONS})")
    raise ValueError(f"expected one of {_ACTIONS}, got {raw!r}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WhenModel(_Model):
    """Either a comparison (metric, op, value[, window_days]) or ``all:`` / ``any:`` of conditions."""

    metric: str | None = None
    op: str | None = None
    value: FiniteFloat | None = None
    window_days: int | None = Field(default=None, ge=1, le=366)
    all: list[WhenModel] | None = Field(default=None, min_length=1)
    any: list[WhenModel] | None = Field(default=None, min_length=1)

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, v: str | None) -> str | None:
        if v is not None and v not in Metric.__members__.values():
            raise ValueError(f"unknown metric {v!r} (known: {_METRICS})")
        return v

    @field_validator("op")
    @classmethod
    def _known_op(cls, v: str | None) -> str | None:
        if v is None:
            return None
        if v in OP_WORDS:
            return OP_WORDS[v].value
        if not v.strip():
            raise ValueError(f"empty operator; {_QUOTE_HINT}")
        if v not in Op.__members__.values():
            raise ValueError(f"unknown operator {v!r} (known: {_OPS})")
        return v

    @model_validator(mode="after")
    def _one_form(self) -> WhenModel:
        compare = [k for k in ("metric", "op", "value", "window_days") if getattr(self, k) is not None]
        groups = [k for k in ("all", "any") if getattr(self, k) is not None]
        if len(groups) > 1 or (groups and compare):
            raise ValueError(
                f"a condition is one of: a comparison (metric, op, value), all: [...], any: [...]; "
                f"got {', '.join(groups + compare)}"
            )
        if not groups:
            missing = [k for k in ("metric", "op", "value") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"a comparison needs metric, op and value; missing {', '.join(missing)}")
        return self

    def to_value(self, default_window: int) -> When:
        if self.all is not None:
            return AllOf(tuple(c.to_value(default_window) for c in self.all))
        if self.any is not None:
            return AnyOf(tuple(c.to_value(default_window) for c in self.any))
        assert self.metric is not None and self.op is not None and self.value is not None  # _one_form
        return Condition(Metric(self.metric), Op(self.op), self.value, self.window_days or default_window)


class ScheduleModel(_Model):
    weekdays: list[str] = Field(default_factory=lambda: list(WEEKDAYS), min_length=1)
    hours: tuple[int, int] = (0, 24)

    @field_validator("weekdays")
    @classmethod
    def _known_days(cls, v: list[str]) -> list[str]:
        unknown = [d for d in v if d.casefold() not in _DAY_NAMES]
        if unknown:
            raise ValueError(f"unknown weekday {unknown[0]!r} (known: {', '.join(WEEKDAYS)})")
        return v

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: tuple[int, int]) -> tuple[int, int]:
        start, end = v
        if not (0 <= start <= 23 and 1 <= end <= 24 and start != end):
            raise ValueError(f"[start, end): start in 0..23, end in 1..24, not equal; got [{start}, {end}]")
        return v

    def to_value(self) -> Schedule:
        return Schedule(frozenset(_DAY_NAMES[d.casefold()] for d in self.weekdays), *self.hours)


class RuleModel(_Model):
    name: str
    description: str = ""
    platforms: list[Platform] = Field(default_factory=lambda: list(Platform), min_length=1)
    level: RuleLevel = RuleLevel.AD_SET
    scope: Scope = Scope.EACH
    name_contains: str | None = Field(default=None, min_length=1)
    window_days: int = Field(default=7, ge=1, le=366)
    when: WhenModel
    min_spend: FiniteFloat | None = Field(default=None, ge=0)
    action: Annotated[RuleAction, PlainValidator(_parse_action)]
    cooldown_hours: FiniteFloat = Field(default=24.0, ge=0)
    schedule: ScheduleModel | None = None
    approval: Approval = Approval.APPROVE

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.fullmatch(v):
            raise ValueError(
                f"{v!r}: up to 80 letters, digits, spaces, '_', '-' or '.', starting with a letter or digit"
            )
        return v

    @field_validator("action")
    @classmethod
    def _budget_on_ad_sets(cls, v: RuleAction, info: ValidationInfo) -> RuleAction:
        if isinstance(v, ScaleBudget | SetBudgetTo) and info.data.get("level") is RuleLevel.AD:
            raise ValueError("budgets live on ad sets (or their campaigns): use level: ad_set for budget actions")
        return v

    def to_value(self) -> Rule:
        return Rule(
            name=self.name,
            when=self.when.to_value(self.window_days),
            action=self.action,
            level=self.level,
            scope=self.scope,
            platforms=frozenset(self.platforms),
            name_contains=self.name_contains,
            cooldown_hours=self.cooldown_hours,
            schedule=self.schedule.to_value() if self.schedule else None,
            approval=self.approval,
            min_spend=self.min_spend,
            description=self.description,
        )


class RulesFileModel(_Model):
    version: Literal[1] = 1
    rules: list[RuleModel] = Field(min_length=1)


# -- errors that read like the file --------------------------------------------------------------------


def _path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"


def _model_at(loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The model a location points into (to list the known fields next to an unknown one)."""
    model: type[BaseModel] | None = RulesFileModel
    for part in loc:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        f = model.model_fields.get(part)
        model = _inner_model(f.annotation) if f is not None else None
    return model


def _inner_model(tp: Any) -> type[BaseModel] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is not None:
        for arg in typing.get_args(tp):
            found = _inner_model(arg)
            if found is not None:
                return found
    return None


def _problem(err: Any) -> Problem:
    loc = tuple(err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        model = _model_at(loc[:-1])
        known = f" (known: {', '.join(model.model_fields)})" if model is not None else ""
        msg = f"unknown field{known}"
    elif err["type"] == "missing":
        msg = "required"
    return Problem(_path(loc), msg)


def parse_rules(text: str, source: str = "<rules>") -> tuple[Rule, ...]:
    """Rules from YAML text; every problem in one ``RulesFileError``."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "(file)"
        what = getattr(exc, "problem", None) or str(exc)
        line = text.splitlines()[mark.line] if mark is not None and mark.line < len(text.splitlines()) else ""
        if "op:" in line:
            what += f" ({_QUOTE_HINT})"
        raise RulesFileError(source, [Problem(where, f"not valid YAML: {what}")]) from None
    if raw is None:
        raise RulesFileError(source, [Problem("(file)", "empty; expected a mapping with 'rules:'")])
    problems = _duplicate_names(raw)
    try:
        model = RulesFileModel.model_validate(raw)
    except ValidationError as exc:
        problems = [_problem(e) for e in exc.errors()] + problems
    if problems:
        raise RulesFileError(source, problems)
    return tuple(r.to_value() for r in model.rules)


def _duplicate_names(raw: object) -> list[Problem]:
    """Rule names identify rules in approvals and cooldowns: each must be unique in the file."""
    rules = raw.get("rules") if isinstance(raw, dict) else None
    if not isinstance(rules, list):
        return []
    first: dict[str, int] = {}
    problems = []
    for i, r in enumerate(rules):
        name = r.get("name") if isinstance(r, dict) else None
        if not isinstance(name, str):
            continue
        if name in first:
            problems.append(Problem(f"rules[{i}].name", f"duplicate rule name {name!r} (also rules[{first[name]}])"))
        first.setdefault(name, i)
    return problems


def load_rules(path: Path) -> tuple[Rule, ...]:
    """Rules from a YAML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesFileError(str(path), [Problem("(file)", f"cannot read: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError:
        raise RulesFileError(str(path), [Problem("(file)", "not UTF-8 text")]) from None
    return parse_rules(text, str(path))
