"""Declaring a configuration option once, and reading it from TOML.

Every option is one field of a frozen settings dataclass in :mod:`controller.config`::

    max_speed_kmh: float = field(default=3.0, metadata=spec(
        "cap for this machine and profile", min=0.1, max=HARD_MAX_SPEED_KMH))

The field gives the name, the type and the default (no ``default=`` means required); :func:`spec`
adds the bounds and the one-line meaning; the unit is read from the name's suffix. From that one
declaration

* :func:`read` validates a ``[section]`` of the TOML file and returns the values,
* the dataclass's own field defaults are what ``DetectSettings()`` gives evaluation and tests,
* :func:`markdown` writes ``docs/configuration.md``.

A choice between named values is a ``Literal[...]`` type, checked here once. Rules that join
two options (start speed ≤ max speed, pins not shared, ...) are plain functions in
:mod:`controller.config`, run after every option passed its own check.
"""

from __future__ import annotations

import math
import types
from dataclasses import MISSING, dataclass, fields
from typing import Any, Final, Literal, get_args, get_origin, get_type_hints


class ConfigError(Exception):
    """A configuration problem. ``str()`` is one line naming the file, section and option."""


class _Missing:
    def __repr__(self) -> str:
        return "<required>"


REQUIRED: Final = _Missing()
"""The default of an option the file must set."""


# ----------------------------------------------------------------------------- declaring


@dataclass(frozen=True)
class Spec:
    """What a field's type does not say: the meaning and the bounds.

    Attributes:
        doc: one line: what the option means and what changing it does to safety.
        min / max: inclusive bounds of a number.
        above: exclusive lower bound of a number (``> above``).
        one_of: the only numbers accepted (chip ranges, baud rates).
        default_doc: for a default that depends on another option: says which.
    """

    doc: str
    min: float | None = None
    max: float | None = None
    above: float | None = None
    one_of: tuple[float, ...] = ()
    default_doc: str = ""


def spec(
    doc: str,
    *,
    min: float | None = None,
    max: float | None = None,
    above: float | None = None,
    one_of: tuple[float, ...] = (),
    default_doc: str = "",
) -> dict[str, Spec]:
    """The ``metadata`` of a ``dataclasses.field`` that declares an option."""
    return {"spec": Spec(doc, min, max, above, one_of, default_doc)}


@dataclass(frozen=True)
class Option:
    """One declared option, as :func:`options` reads it back from a settings dataclass."""

    name: str
    type: Any  # the resolved annotation: float, int, bool, str, int | None or a Literal
    default: object  # REQUIRED when the file must set it (or another option decides it)
    spec: Spec

    @property
    def choices(self) -> tuple[str, ...]:
        """The allowed strings of a ``Literal`` option, else ()."""
        return get_args(self.type) if get_origin(self.type) is Literal else ()

    @property
    def optional(self) -> bool:
        """``int | None``: absent from the file means "not fitted"."""
        return get_origin(self.type) is types.UnionType and type(None) in get_args(self.type)

    @property
    def unit(self) -> str:
        for suffix, unit in UNITS:
            if self.name.endswith(suffix):
                return unit
        return ""


# The unit is in the option's name (a rule of the file format). Longest suffix first: "_per_s"
# before "_s", "_mps" before "_s".
UNITS: Final = (
    ("_microsiemens_per_n", "µS/N"), ("_errors_per_s", "errors/s"), ("_mps2", "m/s²"),
    ("_kmh", "km/h"), ("_mps", "m/s"), ("_dps", "°/s"), ("_deg", "°"), ("_hz", "Hz"),
    ("_counts", "counts"), ("_samples", "samples"), ("_ohm", "Ω"), ("_pin", "BCM GPIO"),
    ("_g", "g"), ("_n", "N"), ("_v", "V"), ("_s", "s"),
)


def options(cls: type) -> list[Option]:
    """The options a settings dataclass declares, in declaration order."""
    hints = get_type_hints(cls)
    out = []
    for f in fields(cls):
        default = REQUIRED if f.default is MISSING else f.default
        out.append(Option(f.name, hints[f.name], default, f.metadata["spec"]))
    return out


def option(cls: type, name: str) -> Option:
    """One declared option of a settings dataclass, by name."""
    (found,) = [o for o in options(cls) if o.name == name]
    return found


def default_of(cls: type, name: str) -> Any:
    """The declared default of one option (for a default that another option then limits)."""
    return option(cls, name).default


# ----------------------------------------------------------------------------- reading


class Section:
    """Typed, bounded access to one ``[section]`` of a TOML document.

    Every getter records the option as known; :meth:`finish` then rejects whatever is left.
    A default goes through the same checks as a value from the file.
    """

    def __init__(self, path: str, name: str, data: dict[str, Any]) -> None:
        self.path = path
        self.name = name
        self._data = data
        self._seen: set[str] = set()

    def error(self, option: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: [{self.name}] {option}: {message}")

    def has(self, option: str) -> bool:
        return option in self._data

    def _raw(self, option: str, default: object) -> object:
        self._seen.add(option)
        if option in self._data:
            return self._data[option]
        if default is REQUIRED:
            raise self.error(option, "missing (this option is required)")
        return default

    def get_float(self, option: str, default: object = REQUIRED, *, min_value: float | None = None,
                  max_value: float | None = None, above: float | None = None) -> float:
        """A finite number (TOML integer or float). ``above`` is an exclusive lower bound."""
        value = self._raw(option, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not (
            math.isfinite(value)
            and (min_value is None or value >= min_value)
            and (max_value is None or value <= max_value)
            and (above is None or value > above)
        ):
            raise self.error(option, f"expected a number{_range(min_value, max_value, above)}, "
                                     f"got {_show(value)}")
        return float(value)

    def get_int(self, option: str, default: object = REQUIRED, *, min_value: float | None = None,
                max_value: float | None = None) -> int:
        """An integer (TOML integers, including ``0x6A`` hex)."""
        value = self._raw(option, default)
        if isinstance(value, bool) or not isinstance(value, int) or (
            (min_value is not None and value < min_value)
            or (max_value is not None and value > max_value)
        ):
            raise self.error(option, f"expected an integer{_range(min_value, max_value, None)}, "
                                     f"got {_show(value)}")
        return value

    def get_optional_int(self, option: str, *, min_value: float | None = None,
                         max_value: float | None = None) -> int | None:
        """An integer, or None when the file leaves the option out (a part not fitted)."""
        if not self.has(option):
            self._seen.add(option)
            return None
        return self.get_int(option, min_value=min_value, max_value=max_value)

    def get_optional_str(self, option: str) -> str:
        """A non-empty string, or "" when the file leaves the option out (nothing chosen)."""
        if not self.has(option):
            self._seen.add(option)
            return ""
        return self.get_str(option)

    def get_bool(self, option: str, default: object = REQUIRED) -> bool:
        value = self._raw(option, default)
        if not isinstance(value, bool):
            raise self.error(option, f"expected true or false, got {_show(value)}")
        return value

    def get_str(self, option: str, default: object = REQUIRED, *,
                choices: tuple[str, ...] = ()) -> str:
        value = self._raw(option, default)
        if not isinstance(value, str) or (choices and value not in choices):
            expected = ("one of " + ", ".join(f'"{c}"' for c in choices)) if choices else "a string"
            raise self.error(option, f"expected {expected}, got {_show(value)}")
        if not value:
            raise self.error(option, "expected a non-empty string")
        return value

    def finish(self) -> None:
        """Reject options nothing asked for (typos, options from another version)."""
        unknown = sorted(set(self._data) - self._seen)
        if unknown:
            raise self.error(unknown[0], f"unknown option (known: {', '.join(sorted(self._seen))})")


def read_option(s: Section, option: Option, default: object = None,
                choices: tuple[str, ...] = ()) -> Any:
    """One option's value from ``s``, checked against its declaration.

    ``default`` and ``choices`` replace the declared ones where another option decides them
    (``None`` / ``()``: the declared ones).
    """
    name, sp = option.name, option.spec
    default = option.default if default is None else default
    if option.optional:
        return s.get_optional_int(name, min_value=sp.min, max_value=sp.max)
    if option.type is bool:
        return s.get_bool(name, default)
    if option.type is str and default == "":
        return s.get_optional_str(name)
    if option.type is str or option.choices:
        return s.get_str(name, default, choices=choices or option.choices)
    value: float
    if option.type is int:
        value = s.get_int(name, default, min_value=sp.min, max_value=sp.max)
    else:
        value = s.get_float(name, default, min_value=sp.min, max_value=sp.max, above=sp.above)
    if sp.one_of and value not in sp.one_of:
        raise s.error(name, f"expected one of {', '.join(f'{v:g}' for v in sp.one_of)}, "
                            f"got {value:g}")
    return value


def read(s: Section, cls: type, *, defaults: dict[str, object] | None = None,
         choices: dict[str, tuple[str, ...]] | None = None) -> dict[str, Any]:
    """Every option ``cls`` declares, read from ``s`` in declaration order (keyword arguments
    for ``cls``). ``defaults`` / ``choices``: the ones another option decides, by name."""
    defaults, choices = defaults or {}, choices or {}
    return {o.name: read_option(s, o, defaults.get(o.name), choices.get(o.name, ()))
            for o in options(cls)}


def _range(lo: float | None, hi: float | None, above: float | None) -> str:
    if above is not None and hi is not None:
        return f" above {above:g} and at most {hi:g}"
    if above is not None:
        return f" above {above:g}"
    if lo is not None and hi is not None:
        return f" from {lo:g} to {hi:g}"
    if lo is not None:
        return f" ≥ {lo:g}"
    if hi is not None:
        return f" ≤ {hi:g}"
    return ""


def _show(value: object) -> str:
    if isinstance(value, _Missing):
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value)


class Document:
    """A parsed TOML file whose sections are handed out once each, then checked for leftovers."""

    def __init__(self, path: str, data: dict[str, Any]) -> None:
        self.path = path
        self._data = data
        self._sections: dict[str, Section] = {}

    def section(self, name: str, *, required: bool = True) -> Section | None:
        """The ``[name]`` section; None if it is absent and not ``required``."""
        raw = self._data.get(name)
        if raw is None:
            if required:
                raise ConfigError(f"{self.path}: [{name}]: missing (this section is required)")
            self._sections[name] = Section(self.path, name, {})
            return None
        if not isinstance(raw, dict):
            raise ConfigError(f"{self.path}: {name}: expected a [{name}] section, got {_show(raw)}")
        sec = Section(self.path, name, raw)
        self._sections[name] = sec
        return sec

    def require(self, name: str) -> Section:
        sec = self.section(name, required=True)
        assert sec is not None
        return sec

    def optional(self, name: str) -> Section:
        """The ``[name]`` section, empty when absent (every option then takes its default)."""
        self.section(name, required=False)
        return self._sections[name]

    def finish(self) -> None:
        unknown = sorted(set(self._data) - set(self._sections))
        if unknown:
            raise ConfigError(
                f"{self.path}: [{unknown[0]}]: unknown section "
                f"(known: {', '.join(sorted(self._sections))})"
            )
        for sec in self._sections.values():
            sec.finish()


# ----------------------------------------------------------------------------- documenting


def markdown(sections: list[tuple[str, type]], intro: str) -> str:
    """``docs/configuration.md``: per section its docstring and a table of its options."""
    out = [intro.rstrip(), ""]
    for name, cls in sections:
        # The docstrings are reStructuredText (``code``); Markdown wants `code`.
        out += [f"## `[{name}]`", "", _dedent(cls.__doc__ or "").replace("``", "`"), "",
                "| option | type | unit | default | accepted | meaning |",
                "| --- | --- | --- | --- | --- | --- |"]
        for o in options(cls):
            cells = (f"`{o.name}`", _type(o), o.unit or "—", _default(o), _accepted(o), o.spec.doc)
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        out.append("")
    return "\n".join(out)


def _dedent(doc: str) -> str:
    first, _, rest = doc.partition("\n")
    lines = [first.strip()] + [line[4:] if line.startswith("    ") else line.strip()
                               for line in rest.splitlines()]
    return "\n".join(lines).strip()


def _type(o: Option) -> str:
    if o.choices:
        return "text"
    if o.optional:
        return "integer or absent"
    return {bool: "true/false", int: "integer", float: "number", str: "text"}[o.type]


def _default(o: Option) -> str:
    if o.spec.default_doc:
        return o.spec.default_doc
    if o.default is REQUIRED:
        return "**required**"
    if o.default is None:
        return "absent (not fitted)"
    if isinstance(o.default, bool):
        return "true" if o.default else "false"
    if isinstance(o.default, str):
        return f'"{o.default}"'
    assert isinstance(o.default, int | float)
    return _number(o, o.default)


def _accepted(o: Option) -> str:
    sp = o.spec
    if o.choices:
        return ", ".join(f'"{c}"' for c in o.choices)
    if sp.one_of:
        return ", ".join(f"{v:g}" for v in sp.one_of)
    if o.type is bool or o.type is str:
        return "—"
    if sp.above is not None:
        return f"> {_number(o, sp.above)}" + (f", ≤ {_number(o, sp.max)}" if sp.max is not None
                                              else "")
    if sp.min is not None and sp.max is not None:
        return f"{_number(o, sp.min)} – {_number(o, sp.max)}"
    if sp.min is not None:
        return f"≥ {_number(o, sp.min)}"
    return "any"


def _number(o: Option, value: float) -> str:
    """A number as the file would write it: addresses in hex, the rest without a trailing .0."""
    return hex(int(value)) if o.name.endswith("address") else f"{value:g}"
