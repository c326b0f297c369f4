"""The gettext catalogs and the es-PE / en formats."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from health_advisor import i18n
from health_advisor.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
LOCALES = ROOT / "src" / "health_advisor" / "locales"

MsgKey = tuple[str | None, str]  # (context, msgid); a plural's key is its singular


def _catalog(lang: str) -> Catalog:
    with (LOCALES / lang / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=i18n.LOCALES[lang])


def _keys(catalog: Catalog) -> set[MsgKey]:
    keys: set[MsgKey] = set()
    for message in catalog:
        if message.id:
            msgid = message.id[0] if isinstance(message.id, tuple | list) else message.id
            keys.add((message.context, msgid))
    return keys


@pytest.fixture(scope="module")
def extracted() -> dict[MsgKey, str]:
    """What ``pybabel extract -F babel.cfg src`` finds: key -> first location."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found: dict[MsgKey, str] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT / "src"), method_map, options_map
    ):
        msgid = message[0] if isinstance(message, tuple | list) else message
        found.setdefault((context, msgid), f"{filename}:{lineno}")
    return found


# --------------------------------------------------------------------------- languages


def test_supported_languages_and_default() -> None:
    assert i18n.SUPPORTED == ("es", "en")
    assert i18n.DEFAULT == "es"
    assert i18n.check_lang("en") == "en"


@pytest.mark.parametrize(
    "call",
    [
        lambda: i18n.translations("fr"),
        lambda: i18n.gettext("Draft", "pt"),
        lambda: i18n.format_number(1, "es_PE"),
        lambda: i18n.format_date(dt.date(2027, 1, 1), ""),
        lambda: i18n.translator("EN"),
    ],
)
def test_unknown_language_is_an_input_error(call: object) -> None:
    with pytest.raises(InputError, match="unsupported language"):
        call()  # type: ignore[operator]


def test_catalogs_are_loaded_once_per_language() -> None:
    assert i18n.translations("es") is i18n.translations("es")
    assert i18n.translations("es") is not i18n.translations("en")


def test_spanish_translates_and_english_is_the_source_text() -> None:
    assert i18n.gettext("Draft", "es") == "Borrador"
    assert i18n.gettext("Draft", "en") == "Draft"
    _ = i18n.translator("es")
    assert _("Weekly time") == "Tiempo semanal"
    assert i18n.gettext("a text nobody marked", "es") == "a text nobody marked"


def test_contexts_keep_spanish_gender_apart() -> None:
    assert i18n.pgettext("intensity", "moderate", "es") == "moderada"
    assert i18n.pgettext("risk category", "moderate", "es") == "nivel moderado"
    assert i18n.pgettext("intensity", "moderate", "en") == "moderate"


def test_plural_forms_follow_each_language() -> None:
    singular = "%(clients)s similar client tried it and followed it %(percent)s on average."
    plural = "%(clients)s similar clients tried it and followed it %(percent)s on average."
    assert "cliente con" in i18n.ngettext(singular, plural, 1, "es")
    assert "clientes con" in i18n.ngettext(singular, plural, 2, "es")
    assert i18n.ngettext(singular, plural, 2, "en") == plural


# --------------------------------------------------------------------------- formats


def test_numbers_use_cldr_es_pe_as_it_is() -> None:
    # CLDR's es_PE: decimal point and comma grouping (like en), percent without a space.
    assert i18n.format_number(7700.46, "es") == "7,700.5"
    assert i18n.format_number(7700.0, "es") == "7,700"
    assert i18n.format_number(1234567.891, "en", max_fraction=2) == "1,234,567.89"
    assert i18n.format_decimal(7.5, "es", digits=2) == "7.50"
    assert i18n.format_percent(0.723, "es") == "72%"
    assert i18n.format_percent(0.723, "en") == "72%"


def test_dates_and_times_in_each_language() -> None:
    day = dt.date(2027, 1, 12)
    assert i18n.format_date(day, "es") == "12 de enero de 2027"
    assert i18n.format_date(day, "en") == "January 12, 2027"
    assert i18n.format_date(day, "es", format="medium") == "12 ene. 2027"
    moment = dt.datetime(2027, 1, 12, 15, 30, tzinfo=dt.UTC)  # 10:30 in Lima (UTC-5)
    assert _spaces(i18n.format_time(moment, "es")) == "10:30 a. m."
    assert _spaces(i18n.format_time(moment, "en")) == "10:30 AM"
    assert "12 ene. 2027" in i18n.format_datetime(moment, "es")


def test_moments_are_shown_on_the_clinic_calendar() -> None:
    late = dt.datetime(2027, 1, 13, 3, 0, tzinfo=dt.UTC)  # still the 12th in Lima
    assert i18n.local_date(late) == dt.date(2027, 1, 12)
    assert i18n.local_date(late.replace(tzinfo=None)) == dt.date(2027, 1, 12)  # naive = UTC


def _spaces(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


# --------------------------------------------------------------------------- catalogs


def test_every_msgid_has_a_spanish_translation() -> None:
    untranslated = [
        message.id
        for message in _catalog("es")
        if message.id and (message.fuzzy or not all(_strings(message.string)))
    ]
    assert untranslated == []


def test_spanish_placeholders_match_the_source() -> None:
    problems = [(message.id, errors) for message, errors in _catalog("es").check()]
    assert problems == []


def test_both_catalogs_hold_the_same_msgids() -> None:
    assert _keys(_catalog("es")) == _keys(_catalog("en"))


def test_extraction_finds_no_msgid_missing_from_the_catalogs(
    extracted: dict[MsgKey, str],
) -> None:
    assert len(extracted) > 100  # the extraction really ran over code and templates
    assert any(".html:" in place for place in extracted.values())
    for lang in i18n.SUPPORTED:
        known = _keys(_catalog(lang))
        missing = {key: place for key, place in extracted.items() if key not in known}
        assert missing == {}, f"{lang}: run pybabel extract/update (see babel.cfg)"


def test_catalogs_hold_no_obsolete_msgid(extracted: dict[MsgKey, str]) -> None:
    for lang in i18n.SUPPORTED:
        assert _keys(_catalog(lang)) - set(extracted) == set(), f"{lang}: msgids no code uses"


def _strings(value: object) -> list[str]:
    return list(value) if isinstance(value, tuple | list) else [str(value)]
