"""Texts and formats for people, in Spanish (Peru) and English.

Every text a person reads (plan documents now, the web UI later) goes through the
gettext catalogs in ``locales/<lang>/LC_MESSAGES/messages.po``. The ``.po`` files are
read with Babel at run time and compiled in memory once per language, so a fresh
install needs no ``compile_catalog`` step and the catalogs in the wheel are the ones
people edit. Source strings (msgids) are English; the English catalog only exists so
both languages load the same way.

Numbers and dates use CLDR data through Babel: ``es_PE`` for Spanish (as CLDR has it:
decimal point and comma grouping, dates such as "12 de enero de 2027") and ``en`` for
English. Times are shown in the clinic's time zone (America/Lima).

Marking strings for extraction (``pybabel extract -F babel.cfg``): call
:func:`gettext`, :func:`ngettext` or :func:`pgettext` (or ``_ = translator(lang)``)
with literal strings, or wrap module-level constants in :func:`N_` and translate them
later with :func:`gettext`.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Mapping
from functools import cache, lru_cache
from importlib import resources

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from health_advisor.errors import InputError

__all__ = [
    "DEFAULT",
    "DISPLAY_TIMEZONE",
    "LOCALES",
    "N_",
    "SUPPORTED",
    "check_lang",
    "code_name",
    "format_date",
    "format_datetime",
    "format_decimal",
    "format_number",
    "format_percent",
    "format_time",
    "gettext",
    "humanize",
    "local_date",
    "locale",
    "ngettext",
    "pgettext",
    "translations",
    "translator",
]

SUPPORTED: tuple[str, ...] = ("es", "en")
DEFAULT = "es"
LOCALES: dict[str, str] = {"es": "es_PE", "en": "en"}  # CLDR locale of each language
DISPLAY_TIMEZONE = "America/Lima"
DOMAIN = "messages"


def check_lang(lang: str) -> str:
    """``lang`` when supported; an :class:`InputError` naming the choices otherwise."""
    if lang not in SUPPORTED:
        raise InputError(f"unsupported language {lang!r}: expected one of {', '.join(SUPPORTED)}")
    return lang


def locale(lang: str) -> Locale:
    """The Babel locale used for numbers and dates in ``lang``."""
    return _locale(check_lang(lang))


@cache
def _locale(lang: str) -> Locale:
    return Locale.parse(LOCALES[lang])


@cache
def _translations(lang: str) -> Translations:
    po = resources.files(__package__ or "health_advisor").joinpath(
        "locales", lang, "LC_MESSAGES", f"{DOMAIN}.po"
    )
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=LOCALES[lang], domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)  # fuzzy entries are left out, as msgfmt does
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def translations(lang: str) -> Translations:
    """The compiled catalog of ``lang`` (read once per process); a
    :class:`gettext.GNUTranslations`, so Jinja2's i18n extension can install it."""
    return _translations(check_lang(lang))


def gettext(message: str, lang: str) -> str:
    """``message`` translated to ``lang`` (the msgid itself when untranslated)."""
    return translations(lang).gettext(message)


def ngettext(singular: str, plural: str, n: int, lang: str) -> str:
    """The singular or plural form for ``n``, by the plural rule of ``lang``."""
    return translations(lang).ngettext(singular, plural, n)


def pgettext(context: str, message: str, lang: str) -> str:
    """``message`` translated in ``context``: one English word, several Spanish ones
    (``moderate`` intensity is *moderada*, a ``moderate`` risk is *moderado*)."""
    return str(translations(lang).pgettext(context, message))


def translator(lang: str) -> Callable[[str], str]:
    """A ``_()`` for one language: ``_ = translator(lang); _("Weekly minutes")``."""
    return translations(lang).gettext


def N_(message: str) -> str:
    """Mark a constant for extraction without translating it yet."""
    return message


def humanize(code: object) -> str:
    """A readable fallback for a code no table knows: ``new_kind`` -> ``new kind``."""
    return str(code).replace("_", " ").strip()


def code_name(table: Mapping[str, str], code: str, lang: str) -> str:
    """The display name of ``code``: its constant in ``table`` (marked with :func:`N_`)
    translated, or the code made readable when the table does not know it."""
    marked = table.get(code)
    return gettext(marked, lang) if marked is not None else humanize(code)


# --------------------------------------------------------------------------- formats


@lru_cache(maxsize=8192)  # plans repeat the same figures
def format_number(value: float, lang: str, *, max_fraction: int = 1) -> str:
    """A number with the locale's separators and at most ``max_fraction`` decimals
    (trailing zeros dropped): 7700 -> ``7,700``; 5.65 -> ``5.7``."""
    pattern = "#,##0" + ("." + "#" * max_fraction if max_fraction > 0 else "")
    return babel_numbers.format_decimal(value, format=pattern, locale=locale(lang))


@lru_cache(maxsize=8192)  # plans repeat the same figures
def format_decimal(value: float, lang: str, *, digits: int = 1) -> str:
    """A number with exactly ``digits`` decimals: 7.5 -> ``7.50`` with ``digits=2``."""
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return babel_numbers.format_decimal(value, format=pattern, locale=locale(lang))


@lru_cache(maxsize=8192)  # plans repeat the same figures
def format_percent(fraction: float, lang: str) -> str:
    """A 0-1 fraction as a whole percentage in the locale's style (``72 %`` / ``72%``)."""
    return babel_numbers.format_percent(fraction, locale=locale(lang))


@lru_cache(maxsize=8192)  # plans repeat the same figures
def format_date(value: dt.date, lang: str, *, format: str = "long") -> str:
    """A date in the locale's ``short``/``medium``/``long``/``full`` style
    (es-PE long: ``12 de enero de 2027``)."""
    return babel_dates.format_date(value, format=format, locale=locale(lang))


def format_time(
    value: dt.datetime, lang: str, *, format: str = "short", tz: str = DISPLAY_TIMEZONE
) -> str:
    """The clock time of a moment in the clinic's time zone (es-PE: ``10:30 a. m.``)."""
    return babel_dates.format_time(
        _aware(value), format=format, tzinfo=babel_dates.get_timezone(tz), locale=locale(lang)
    )


def local_date(value: dt.datetime, *, tz: str = DISPLAY_TIMEZONE) -> dt.date:
    """The calendar date of a moment in the clinic's time zone (naive means UTC)."""
    return _aware(value).astimezone(babel_dates.get_timezone(tz)).date()


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def format_datetime(
    value: dt.datetime, lang: str, *, format: str = "medium", tz: str = DISPLAY_TIMEZONE
) -> str:
    """A moment in the clinic's time zone; a naive datetime is taken as UTC (the store
    keeps UTC)."""
    return babel_dates.format_datetime(
        _aware(value), format=format, tzinfo=babel_dates.get_timezone(tz), locale=locale(lang)
    )
