"""The intervention catalog's schema and its contraindication rules (pure, no I/O).

The catalog (``catalog/interventions.yaml``) lists what a plan may recommend. This module
validates it and evaluates its machine-readable rules against a client's *facts*: the
risk categories the features computed, the client's known conditions, age, sex and
whether a physician has cleared them for exercise. The plan composer uses the verdicts
to exclude, gate or force items and the explanations show the facts that decided it.

Rule language (one key per mapping, composable; YAML-friendly)::

    risk: {blood_pressure: [stage_2, crisis]}   every named key is in one of its categories
    condition: [heart_failure, pregnancy]       the client has at least one of them
    age: {gte: 45, lt: 76}                      every bound holds (unknown age never holds)
    sex: female                                 or a list; unknown sex never matches
    medical_clearance: true                     the clearance flag equals this value
    any: [rule, ...]    all: [rule, ...]    not: rule

A missing risk key counts as ``unknown``, and ``unknown`` satisfies a risk predicate only
when the rule names ``unknown``. A contraindication fires when ``when`` holds and its
optional ``unless`` does not (``unless: {medical_clearance: true}`` is the ACSM 2015 way to
say "requires medical clearance").
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Annotated, Any, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from health_advisor.core import vocabulary
from health_advisor.core.metrics import BY_NAME

__all__ = [
    "RULE_KEYS",
    "SEXES",
    "AgeBounds",
    "AgeRule",
    "AllRule",
    "AnyRule",
    "Catalog",
    "CatalogError",
    "ClearanceRule",
    "ConditionRule",
    "Contraindication",
    "ContraindicationHit",
    "Effect",
    "Evidence",
    "Facts",
    "Intervention",
    "LocalizedText",
    "NotRule",
    "RiskRule",
    "Rule",
    "RuleOutcome",
    "SexRule",
    "as_facts",
    "evaluate_rule",
    "parse_catalog",
]

SEXES: tuple[str, ...] = ("female", "male", "other", "unknown")  # FHIR administrative gender

_ID_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
_STRICT = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _one_of(value: object, allowed: Iterable[str], what: str = "") -> str:
    """``value`` if it is one of ``allowed``, else a ValueError phrased for a person."""
    options = tuple(allowed)
    if isinstance(value, str) and value in options:
        return value
    prefix = f"{what}: " if what else ""
    raise ValueError(f"{prefix}expected one of {', '.join(options)}, got {value!r}")


def _as_list(value: object) -> object:
    """Let YAML authors write ``condition: pregnancy`` for ``condition: [pregnancy]``."""
    return [value] if isinstance(value, str) else value


def _unique(values: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate {what} {value!r}")
        seen.add(value)


# --------------------------------------------------------------------------- texts


class LocalizedText(BaseModel):
    """A text shown to people, in Spanish (as spoken in Peru) and English; both required."""

    model_config = _STRICT

    es: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, lang: str) -> str:
        return self.es if lang == "es" else self.en


# --------------------------------------------------------------------------- facts


class Facts(BaseModel):
    """What the rules may look at about one client."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    risk: dict[str, str] = Field(default_factory=dict)
    conditions: frozenset[str] = frozenset()
    age: int | None = Field(default=None, ge=0, le=130)
    sex: str | None = None
    medical_clearance: bool = False

    @field_validator("risk")
    @classmethod
    def _known_risk(cls, risk: dict[str, str]) -> dict[str, str]:
        for key, category in risk.items():
            _one_of(key, vocabulary.RISK_CATEGORIES, "risk key")
            _one_of(category, vocabulary.RISK_CATEGORIES[key], f"risk.{key}")
        return risk

    @field_validator("conditions")
    @classmethod
    def _known_conditions(cls, conditions: frozenset[str]) -> frozenset[str]:
        for condition in sorted(conditions):
            _one_of(condition, vocabulary.CONDITIONS, "condition")
        return conditions

    @field_validator("sex")
    @classmethod
    def _known_sex(cls, sex: str | None) -> str | None:
        return None if sex is None else _one_of(sex, SEXES, "sex")

    def category(self, key: str) -> str:
        """The client's category for a risk key; ``unknown`` when not computed."""
        return self.risk.get(key, "unknown")


def as_facts(facts: Facts | Mapping[str, Any]) -> Facts:
    """Accept either a :class:`Facts` or the plain mapping other modules build."""
    return facts if isinstance(facts, Facts) else Facts.model_validate(dict(facts))


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """Whether a rule holds and the facts that decided it, e.g. ``risk.bmi=obese_2``."""

    fired: bool
    because: tuple[str, ...]

    def __bool__(self) -> bool:
        return self.fired


class RiskRule(BaseModel):
    """Every named risk key is in one of its listed categories (conjunction over keys)."""

    model_config = _STRICT

    risk: dict[str, tuple[str, ...]]

    @field_validator("risk", mode="before")
    @classmethod
    def _check(cls, value: object) -> object:
        if not isinstance(value, Mapping) or not value:
            raise ValueError(f"expected a mapping of risk key to categories, got {value!r}")
        normalized: dict[str, object] = {}
        for key, categories in value.items():
            _one_of(key, vocabulary.RISK_CATEGORIES, "risk key")
            listed = _as_list(categories)
            if not isinstance(listed, list | tuple) or not listed:
                raise ValueError(f"risk.{key}: expected a category or a list, got {categories!r}")
            for category in listed:
                _one_of(category, vocabulary.RISK_CATEGORIES[key], f"risk.{key}")
            normalized[key] = listed
        return normalized

    def evaluate(self, facts: Facts) -> RuleOutcome:
        observed = {key: facts.category(key) for key in self.risk}
        failing = tuple(f"risk.{k}={v}" for k, v in observed.items() if v not in self.risk[k])
        if failing:
            return RuleOutcome(False, failing)
        return RuleOutcome(True, tuple(f"risk.{k}={v}" for k, v in observed.items()))


class ConditionRule(BaseModel):
    """The client has at least one of the listed conditions."""

    model_config = _STRICT

    condition: tuple[str, ...] = Field(min_length=1)

    @field_validator("condition", mode="before")
    @classmethod
    def _check(cls, value: object) -> object:
        listed = _as_list(value)
        if isinstance(listed, list | tuple):
            for condition in listed:
                _one_of(condition, vocabulary.CONDITIONS, "condition")
        return listed

    def evaluate(self, facts: Facts) -> RuleOutcome:
        present = tuple(f"condition={c}" for c in self.condition if c in facts.conditions)
        if present:
            return RuleOutcome(True, present)
        return RuleOutcome(False, (f"condition not in [{', '.join(self.condition)}]",))


class AgeBounds(BaseModel):
    model_config = _STRICT

    gte: int | None = Field(default=None, ge=0)
    gt: int | None = Field(default=None, ge=0)
    lte: int | None = Field(default=None, ge=0)
    lt: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _some_bound(self) -> AgeBounds:
        if all(bound is None for bound in (self.gte, self.gt, self.lte, self.lt)):
            raise ValueError("expected at least one of gte, gt, lte, lt")
        return self

    def holds(self, age: int) -> bool:
        return (
            (self.gte is None or age >= self.gte)
            and (self.gt is None or age > self.gt)
            and (self.lte is None or age <= self.lte)
            and (self.lt is None or age < self.lt)
        )


class AgeRule(BaseModel):
    """The client's age satisfies every bound; an unknown age satisfies none."""

    model_config = _STRICT

    age: AgeBounds

    def evaluate(self, facts: Facts) -> RuleOutcome:
        if facts.age is None:
            return RuleOutcome(False, ("age=unknown",))
        return RuleOutcome(self.age.holds(facts.age), (f"age={facts.age}",))


class SexRule(BaseModel):
    """The client's recorded sex is one of the listed values."""

    model_config = _STRICT

    sex: tuple[str, ...] = Field(min_length=1)

    @field_validator("sex", mode="before")
    @classmethod
    def _check(cls, value: object) -> object:
        listed = _as_list(value)
        if isinstance(listed, list | tuple):
            for sex in listed:
                _one_of(sex, SEXES, "sex")
        return listed

    def evaluate(self, facts: Facts) -> RuleOutcome:
        sex = facts.sex or "unknown"
        return RuleOutcome(sex in self.sex, (f"sex={sex}",))


class ClearanceRule(BaseModel):
    """A physician has (true) or has not (false) cleared the client for exercise."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    medical_clearance: bool

    def evaluate(self, facts: Facts) -> RuleOutcome:
        flag = "true" if facts.medical_clearance else "false"
        return RuleOutcome(
            facts.medical_clearance is self.medical_clearance, (f"medical_clearance={flag}",)
        )


class AnyRule(BaseModel):
    """At least one sub-rule holds; the facts of every holding sub-rule are reported."""

    model_config = _STRICT

    any: tuple[Rule, ...] = Field(min_length=1)

    def evaluate(self, facts: Facts) -> RuleOutcome:
        outcomes = [rule.evaluate(facts) for rule in self.any]
        fired = [o for o in outcomes if o.fired]
        chosen = fired or outcomes
        return RuleOutcome(bool(fired), tuple(f for o in chosen for f in o.because))


class AllRule(BaseModel):
    """Every sub-rule holds; when one fails, the facts of the failing ones are reported."""

    model_config = _STRICT

    all: tuple[Rule, ...] = Field(min_length=1)

    def evaluate(self, facts: Facts) -> RuleOutcome:
        outcomes = [rule.evaluate(facts) for rule in self.all]
        failed = [o for o in outcomes if not o.fired]
        chosen = failed or outcomes
        return RuleOutcome(not failed, tuple(f for o in chosen for f in o.because))


class NotRule(BaseModel):
    """The sub-rule does not hold; its deciding facts are reported as they are."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True
    )

    not_: Rule = Field(alias="not")

    def evaluate(self, facts: Facts) -> RuleOutcome:
        inner = self.not_.evaluate(facts)
        return RuleOutcome(not inner.fired, inner.because)


_RULE_TAGS: dict[type[BaseModel], str] = {
    RiskRule: "risk",
    ConditionRule: "condition",
    AgeRule: "age",
    SexRule: "sex",
    ClearanceRule: "medical_clearance",
    AnyRule: "any",
    AllRule: "all",
    NotRule: "not",
}
RULE_KEYS: tuple[str, ...] = tuple(_RULE_TAGS.values())


def _rule_tag(value: object) -> str | None:
    if isinstance(value, BaseModel):
        return _RULE_TAGS.get(type(value))
    if isinstance(value, Mapping) and len(value) == 1:
        key = next(iter(value))
        return key if key in RULE_KEYS else None
    return None


Rule = Annotated[
    Union[  # noqa: UP007 - a tagged union needs the explicit form
        Annotated[RiskRule, Tag("risk")],
        Annotated[ConditionRule, Tag("condition")],
        Annotated[AgeRule, Tag("age")],
        Annotated[SexRule, Tag("sex")],
        Annotated[ClearanceRule, Tag("medical_clearance")],
        Annotated[AnyRule, Tag("any")],
        Annotated[AllRule, Tag("all")],
        Annotated[NotRule, Tag("not")],
    ],
    Discriminator(
        _rule_tag,
        custom_error_type="invalid_rule",
        custom_error_message=(
            "expected a rule: a mapping with exactly one of the keys " + ", ".join(RULE_KEYS)
        ),
    ),
]

for _model in (AnyRule, AllRule, NotRule):
    _model.model_rebuild()


def evaluate_rule(rule: Rule, facts: Facts | Mapping[str, Any]) -> RuleOutcome:
    """Evaluate one rule against a client's facts."""
    return rule.evaluate(as_facts(facts))


# --------------------------------------------------------------------------- interventions


@dataclass(frozen=True, slots=True)
class ContraindicationHit:
    """A contraindication that fired for a client, with what a person needs to act on it."""

    intervention_id: str
    contraindication_id: str
    triggers: tuple[str, ...]
    reason: LocalizedText
    clearance_lifts: bool  # a physician's clearance would lift it (ACSM "requires clearance")


class Contraindication(BaseModel):
    model_config = _STRICT

    id: str = Field(pattern=_ID_PATTERN.pattern)
    when: Rule
    unless: Rule | None = None
    reason: LocalizedText

    def evaluate(self, facts: Facts) -> RuleOutcome:
        """Fires when ``when`` holds and ``unless`` (if any) does not."""
        when = self.when.evaluate(facts)
        if not when.fired or self.unless is None:
            return when
        unless = self.unless.evaluate(facts)
        return RuleOutcome(not unless.fired, when.because if not unless.fired else unless.because)

    def clearance_lifts(self, facts: Facts) -> bool:
        if self.unless is None:
            return False
        cleared = facts.model_copy(update={"medical_clearance": True})
        return self.unless.evaluate(cleared).fired


class Effect(BaseModel):
    """An expected change of a metric, in the metric's canonical unit, after some weeks."""

    model_config = _STRICT

    metric: str
    change: float
    unit: str
    horizon_weeks: int = Field(gt=0, le=520)

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, metric: str) -> str:
        if metric not in BY_NAME:
            raise ValueError(f"unknown metric {metric!r} (see core.metrics)")
        return metric

    @model_validator(mode="after")
    def _canonical_unit(self) -> Effect:
        expected = BY_NAME[self.metric].unit
        if self.unit != expected:
            raise _field_error(
                "unit", f"{self.metric} is expressed in {expected!r}, got {self.unit!r}"
            )
        return self


class Evidence(BaseModel):
    model_config = _STRICT

    note_en: str = Field(min_length=1)
    note_es: str | None = Field(default=None, min_length=1)
    citation: str = Field(min_length=1)


class Intervention(BaseModel):
    """One recommendable item of the catalog."""

    model_config = _STRICT

    id: str
    domain: str
    title: LocalizedText
    description: LocalizedText
    weekly_minutes: int = Field(ge=0, le=7 * 24 * 60)
    intensity: str
    met: float | None = None
    settings: tuple[str, ...] = Field(min_length=1)
    cost_tier: str
    target_metrics: tuple[str, ...] = ()
    effects: tuple[Effect, ...] = ()
    evidence: Evidence
    goals: tuple[str, ...] = Field(min_length=1)
    contraindications: tuple[Contraindication, ...] = ()
    conflicts_with: tuple[str, ...] = ()
    mandatory_when: Rule | None = None
    mandatory_reason: LocalizedText | None = None

    @field_validator("id")
    @classmethod
    def _snake_case(cls, value: str) -> str:
        if not _ID_PATTERN.match(value):
            raise ValueError(f"expected a snake_case id such as 'ex_brisk_walking', got {value!r}")
        return value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        return _one_of(value, vocabulary.DOMAINS)

    @field_validator("intensity")
    @classmethod
    def _intensity(cls, value: str) -> str:
        return _one_of(value, vocabulary.INTENSITIES)

    @field_validator("cost_tier")
    @classmethod
    def _cost_tier(cls, value: str) -> str:
        return _one_of(value, vocabulary.COST_TIERS)

    @field_validator("settings")
    @classmethod
    def _settings(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        _unique(values, "setting")
        return tuple(_one_of(v, vocabulary.SETTINGS) for v in values)

    @field_validator("goals")
    @classmethod
    def _goals(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        _unique(values, "goal")
        return tuple(_one_of(v, vocabulary.GOALS) for v in values)

    @field_validator("target_metrics")
    @classmethod
    def _metrics(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        _unique(values, "metric")
        for value in values:
            if value not in BY_NAME:
                raise ValueError(f"unknown metric {value!r} (see core.metrics)")
        return values

    @field_validator("contraindications")
    @classmethod
    def _unique_rules(cls, values: tuple[Contraindication, ...]) -> tuple[Contraindication, ...]:
        _unique((c.id for c in values), "contraindication id")
        return values

    @field_validator("conflicts_with")
    @classmethod
    def _conflicts(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        _unique(values, "conflict")
        return values

    @model_validator(mode="after")
    def _consistent(self) -> Intervention:
        if self.met is not None:
            low, high = self.met_range_of_intensity
            if not low <= self.met <= high:
                raise _field_error(
                    "met", f"{self.intensity} means {low}-{high} MET, got {self.met}"
                )
        if self.id in self.conflicts_with:
            raise _field_error("conflicts_with", "an intervention cannot conflict with itself")
        for effect in self.effects:
            if effect.metric not in self.target_metrics:
                raise _field_error(
                    "effects", f"metric {effect.metric!r} is not listed in target_metrics"
                )
        if (self.mandatory_when is None) != (self.mandatory_reason is None):
            raise _field_error(
                "mandatory_reason", "mandatory_when and mandatory_reason go together"
            )
        return self

    @property
    def met_range_of_intensity(self) -> tuple[float, float]:
        return vocabulary.INTENSITIES[self.intensity]

    @property
    def met_range(self) -> tuple[float, float]:
        """The MET range of the intensity, narrowed to the explicit ``met`` when given."""
        return (self.met, self.met) if self.met is not None else self.met_range_of_intensity

    @property
    def met_estimate(self) -> float:
        low, high = self.met_range
        return self.met if self.met is not None else round((low + high) / 2, 2)

    def contraindicated(self, facts: Facts | Mapping[str, Any]) -> list[ContraindicationHit]:
        """The contraindications that fire for these facts (empty: the item is allowed)."""
        facts = as_facts(facts)
        hits = []
        for rule in self.contraindications:
            outcome = rule.evaluate(facts)
            if outcome.fired:
                hits.append(
                    ContraindicationHit(
                        self.id, rule.id, outcome.because, rule.reason, rule.clearance_lifts(facts)
                    )
                )
        return hits

    def is_allowed(self, facts: Facts | Mapping[str, Any]) -> bool:
        return not self.contraindicated(facts)

    def mandatory(self, facts: Facts | Mapping[str, Any]) -> RuleOutcome | None:
        """The deciding facts when the guidelines make this item mandatory, else None."""
        if self.mandatory_when is None:
            return None
        outcome = self.mandatory_when.evaluate(as_facts(facts))
        return outcome if outcome.fired else None


def _field_error(field: str, message: str) -> PydanticCustomError:
    return PydanticCustomError("catalog_field", "{message}", {"field": field, "message": message})


def _integrity_error(intervention_id: str, field: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(
        "catalog_integrity",
        "{message}",
        {"intervention_id": intervention_id, "field": field, "message": message},
    )


# --------------------------------------------------------------------------- the catalog


class Catalog(BaseModel):
    """The versioned set of interventions, checked as a whole."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1)
    templates: dict[str, Any] = Field(default_factory=dict, exclude=True)
    interventions: tuple[Intervention, ...] = Field(min_length=1)

    @field_validator("version", mode="before")
    @classmethod
    def _quoted_version(cls, value: object) -> object:
        if not isinstance(value, str):
            raise ValueError(f"expected a quoted string such as '2025.1', got {value!r}")
        return value

    @model_validator(mode="after")
    def _integrity(self) -> Catalog:
        ids = [item.id for item in self.interventions]
        seen: set[str] = set()
        for item_id in ids:
            if item_id in seen:
                raise _integrity_error(item_id, "id", "duplicate id")
            seen.add(item_id)
        for item in self.interventions:
            for other in item.conflicts_with:
                if other not in seen:
                    raise _integrity_error(item.id, "conflicts_with", f"unknown id {other!r}")
                if item.id not in self.by_id[other].conflicts_with:
                    raise _integrity_error(
                        other, "conflicts_with", f"must list {item.id!r} (conflicts are symmetric)"
                    )
        missing = [d for d in vocabulary.DOMAINS if d not in {i.domain for i in self.interventions}]
        if missing:
            raise PydanticCustomError(
                "catalog_integrity",
                "{message}",
                {"field": "interventions", "message": f"no intervention in domain(s) {missing}"},
            )
        return self

    @cached_property
    def by_id(self) -> Mapping[str, Intervention]:
        return MappingProxyType({item.id: item for item in self.interventions})

    @cached_property
    def by_domain(self) -> Mapping[str, tuple[Intervention, ...]]:
        grouped = {
            d: tuple(i for i in self.interventions if i.domain == d) for d in vocabulary.DOMAINS
        }
        return MappingProxyType(grouped)

    @cached_property
    def content_hash(self) -> str:
        """sha256 of the canonical content: the same catalog hashes alike however the
        YAML is laid out (order of keys, anchors, comments); any change of content shows."""
        canonical = json.dumps(
            self.model_dump(mode="json", by_alias=True),
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def get(self, intervention_id: str) -> Intervention:
        try:
            return self.by_id[intervention_id]
        except KeyError:
            raise KeyError(f"unknown intervention {intervention_id!r}") from None

    def conflict(self, first: str, second: str) -> bool:
        return second in self.get(first).conflicts_with

    def eligible(self, facts: Facts | Mapping[str, Any]) -> list[Intervention]:
        """Items with no contraindication firing for these facts, in catalog order."""
        facts = as_facts(facts)
        return [item for item in self.interventions if item.is_allowed(facts)]

    def mandatory_for(
        self, facts: Facts | Mapping[str, Any]
    ) -> list[tuple[Intervention, RuleOutcome]]:
        facts = as_facts(facts)
        found = [(item, item.mandatory(facts)) for item in self.interventions]
        return [(item, outcome) for item, outcome in found if outcome is not None]


# --------------------------------------------------------------------------- errors


class CatalogError(ValueError):
    """A catalog that fails its schema: names the intervention and the field at fault."""

    def __init__(self, intervention_id: str | None, field: str, detail: str) -> None:
        self.intervention_id = intervention_id
        self.field = field
        self.detail = detail
        where = ""
        if intervention_id:
            shown = intervention_id if intervention_id.startswith("#") else repr(intervention_id)
            where = f"intervention {shown} "
        super().__init__(f"{where}field {field!r}: {detail}")


def parse_catalog(data: object) -> Catalog:
    """Validate parsed YAML into a :class:`Catalog`, or raise :class:`CatalogError`."""
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = _catalog_error(errors[0], data)
        if len(errors) > 1:
            more = f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
            raise CatalogError(first.intervention_id, first.field, first.detail + more) from None
        raise first from None


def _catalog_error(error: ErrorDetails, data: object) -> CatalogError:
    ctx = error.get("ctx") or {}
    loc = _collapse(error["loc"])
    intervention_id: str | None = ctx.get("intervention_id")
    if intervention_id is None and len(loc) >= 2 and loc[0] == "interventions":
        intervention_id = _id_at(data, loc[1])
        loc = loc[2:]
    field = _format_loc(loc)
    if "field" in ctx:
        field = ".".join(part for part in (field, str(ctx["field"])) if part)
    return CatalogError(intervention_id, field or "(catalog)", _describe(error))


def _collapse(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """Drop the tag pydantic repeats for tagged unions (``when.risk.risk`` → ``when.risk``)."""
    out: list[int | str] = []
    for part in loc:
        if not (out and isinstance(part, str) and part == out[-1] and part in RULE_KEYS):
            out.append(part)
    return tuple(out)


def _format_loc(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _id_at(data: object, index: int | str) -> str:
    items = data.get("interventions") if isinstance(data, Mapping) else None
    if isinstance(index, int) and isinstance(items, list) and index < len(items):
        item = items[index]
        if isinstance(item, Mapping) and isinstance(item.get("id"), str):
            return str(item["id"])
    return f"#{index + 1 if isinstance(index, int) else index} (no id)"


_BOUNDS: dict[str, tuple[str, str]] = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}


def _describe(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in ("catalog_field", "catalog_integrity"):
        return str(ctx["message"])
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return f"unknown field (got {error['input']!r})"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "too_short":
        return f"expected at least {ctx.get('min_length', 1)} item(s), got {error['input']!r}"
    if kind in _BOUNDS:
        symbol, key = _BOUNDS[kind]
        return f"expected a value {symbol} {ctx.get(key)}, got {error['input']!r}"
    message = error["msg"]
    return f"{message[:1].lower()}{message[1:]}, got {error['input']!r}"
