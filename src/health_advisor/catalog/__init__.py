"""The packaged intervention catalog and its loader.

``interventions.yaml`` beside this module is the catalog the product ships; the schema
and the rules live in :mod:`health_advisor.core.catalog` (pure). This module only reads
the file and turns schema failures into one-line :class:`~health_advisor.errors.InputError`
messages naming the file, the intervention and the field, e.g.::

    interventions.yaml: intervention 'ex_hiit' field 'intensity': expected one of light,
    moderate, vigorous, got 'extreme'

The default catalog is parsed once per process (plans ask for it often); a catalog read
from an explicit path is parsed on every call.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from health_advisor.core.catalog import Catalog, CatalogError, parse_catalog
from health_advisor.errors import InputError, MalformedFileError

__all__ = ["DEFAULT_CATALOG_PATH", "Catalog", "load_catalog", "parse_catalog_text"]

# libyaml's loader parses the catalog ~30x faster than the pure-Python one; same safety.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_RESOURCE = resources.files(__name__).joinpath("interventions.yaml")
DEFAULT_CATALOG_PATH: Path = Path(str(_RESOURCE))


def load_catalog(path: Path | None = None) -> Catalog:
    """The catalog at ``path``, or the packaged one (cached) when ``path`` is None."""
    if path is None:
        return _default_catalog()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: catalog file not found") from None
    except UnicodeDecodeError as exc:
        raise MalformedFileError(path, None, f"not UTF-8 text ({exc.reason})") from None
    return parse_catalog_text(text, name=str(path))


@lru_cache(maxsize=1)
def _default_catalog() -> Catalog:
    return parse_catalog_text(_RESOURCE.read_text(encoding="utf-8"), name=DEFAULT_CATALOG_PATH.name)


def parse_catalog_text(text: str, *, name: str = "<catalog>") -> Catalog:
    """Parse catalog YAML; ``name`` is the file named in error messages."""
    try:
        data = yaml.load(text, Loader=_Loader)  # a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise MalformedFileError(name, line, f"not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise InputError(f"{name}: expected a mapping with 'version' and 'interventions'")
    try:
        return parse_catalog(data)
    except CatalogError as exc:
        raise InputError(f"{name}: {exc}") from None
