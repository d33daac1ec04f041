"""From a spec table to an estimator: which classes a run spec may name, how a class name is
resolved and imported, and how its parameters are checked before anything is fitted.

A spec is data, not code (docs/security.md): ``class`` names an estimator class of
eag_augment, scikit-learn or imbalanced-learn; a class of any other module is imported only
when the caller grants that module (``allow_imports``).
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Sequence

from sklearn.base import BaseEstimator

from eag_augment.pipelines.spec_checks import SpecError, _expect, _suggest


__all__ = ["build_estimator", "check_allow_imports", "resolve_class"]

_CLASS_MODULES = ("eag_augment.generators", "eag_augment.decoders", "eag_augment.augment")
# Packages whose modules a spec may import without a grant: importing them runs no user code.
_TRUSTED_PACKAGES = ("eag_augment", "sklearn", "imblearn")
_MODULE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def _within(module_name: str, packages) -> bool:
    return any(module_name == p or module_name.startswith(p + ".") for p in packages)


def check_allow_imports(allow_imports, where: str = "allow_imports") -> tuple[str, ...]:
    """The modules a caller grants a spec to import, as a tuple of dotted module names."""
    items = [allow_imports] if isinstance(allow_imports, str) else allow_imports
    if not isinstance(items, Sequence):
        raise SpecError(f"{where} must be a list of module names, got {allow_imports!r}")
    for item in items:
        if not isinstance(item, str) or not _MODULE_NAME.fullmatch(item):
            raise SpecError(f"{where}: {item!r} is not a module name like 'mylab.models'")
    return tuple(items)


def _known_classes() -> dict[str, str]:
    """Class name -> module of the estimators a spec may name without a module path: every
    public class of the generators, decoders and augment modules."""
    known = {}
    for module_name in _CLASS_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            if name[:1].isupper() and not name.startswith("Base"):
                known[name] = module_name
    return known


def resolve_class(name: str, where: str, allow_imports: Sequence[str] = ()) -> type:
    """An estimator class from its short name (see the known classes) or
    ``"package.module:Class"``.

    The module must belong to eag_augment, scikit-learn or imbalanced-learn, or be one of
    ``allow_imports`` (or inside one); nothing else is imported. The class must be a
    ``BaseEstimator``; nothing is called here.
    """
    _expect(name, str, where, "a class name")
    known = _known_classes()
    if ":" in name:
        module_name, _, attr = name.partition(":")
        if not _MODULE_NAME.fullmatch(module_name) or not attr.isidentifier():
            raise SpecError(f"{where}: {name!r} is not of the form 'package.module:ClassName'")
        if not _within(module_name, _TRUSTED_PACKAGES + tuple(allow_imports)):
            raise SpecError(
                f"{where}: cannot import module {module_name!r} for class {name!r}: it is not "
                f"granted. A spec may name estimator classes of "
                f"{', '.join(_TRUSTED_PACKAGES)}; to use "
                f"your own module, grant it when you run the spec: --allow-import "
                f"{module_name} (load_spec(..., allow_imports=[{module_name!r}])). Importing "
                "a module runs its code: grant only modules you trust")
    elif name in known:
        module_name, attr = known[name], name
    else:
        raise SpecError(f"{where}: unknown class {name!r}{_suggest(name, known)} (known: "
                        f"{', '.join(known)}; or give 'package.module:ClassName')")
    try:
        module = importlib.import_module(module_name)
        klass = getattr(module, attr)
    except (ImportError, AttributeError) as err:
        raise SpecError(f"{where}: cannot import class {name!r}: {err}") from err
    if not (isinstance(klass, type) and issubclass(klass, BaseEstimator)):
        raise SpecError(f"{where}: {name!r} is not an estimator class (a scikit-learn "
                        f"BaseEstimator subclass), got {type(klass).__name__} {klass!r}")
    return klass


def build_estimator(table: dict, where: str, default_class: str | None = None,
                    reserved: tuple[str, ...] = (), allow_imports: Sequence[str] = ()
                    ) -> BaseEstimator:
    """Construct the estimator a table describes: ``class`` plus constructor parameters.

    A parameter given as a table with a ``class`` key is built the same way (nested
    estimators, e.g. an EAG generator's ``autoencoder``). Keys in ``reserved`` are left for
    the caller. The class is resolved by :func:`resolve_class` (``allow_imports``: granted
    modules), and the parameters are checked against the class's declared constraints
    (``_parameter_constraints``) without fitting anything.
    """
    _expect(table, dict, where, "a table")
    name = table.get("class", default_class)
    if name is None:
        raise SpecError(f"{where}: missing 'class' (the estimator's class name)")
    klass = resolve_class(name, f"{where}.class", allow_imports)
    params = {}
    for key, value in table.items():
        if key == "class" or key in reserved:
            continue
        params[key] = (build_estimator(value, f"{where}.{key}", allow_imports=allow_imports)
                       if isinstance(value, dict) and "class" in value else value)
    accepted = [p for p in inspect.signature(klass.__init__).parameters if p != "self"]
    for key in params:
        if key not in accepted:
            raise SpecError(f"{where}: {klass.__name__} has no parameter {key!r}"
                            f"{_suggest(key, accepted)} (parameters: {', '.join(accepted)})")
    try:
        estimator = klass(**params)
    except (TypeError, ValueError) as err:
        raise SpecError(f"{where}: cannot build {klass.__name__}: {err}") from err
    if hasattr(estimator, "_parameter_constraints"):
        try:
            estimator._validate_params()
        except (TypeError, ValueError) as err:
            raise SpecError(f"{where}: {err}") from err
    return estimator
