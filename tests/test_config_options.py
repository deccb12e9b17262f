"""Each option is declared once (controller/config.py): the doc, the defaults and the code agree."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller import config as cfg
from controller.options import REQUIRED, ConfigError, Option, Section, options, read_option
from hardware.lsm6dsox import Lsm6dsox
from hardware.mpu6050 import Mpu6050
from hardware.trackmaster import TrackmasterLink

ROOT = Path(__file__).resolve().parent.parent
ALL = [(section, o) for section, cls in cfg.SECTIONS for o in options(cls)]
IDS = [f"{section}.{o.name}" for section, o in ALL]
NUMBERS = [(s, o) for s, o in ALL if o.type in (int, float) and o.optional is False]
OPTION_NAMES = {o.name for _, o in ALL}


def test_docs_configuration_md_is_generated_from_the_declarations() -> None:
    on_disk = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert on_disk == cfg.render_markdown(), (
        "docs/configuration.md is stale: run "
        "`.venv/bin/python -m controller.config --markdown > docs/configuration.md`")


def test_every_section_of_settings_is_declared() -> None:
    fields = {f.name for f in dataclasses.fields(cfg.Settings)} - {"path"}
    assert {name for name, _ in cfg.SECTIONS} == fields


def test_the_doc_lists_every_option_under_its_section() -> None:
    text = cfg.render_markdown()
    for section, cls in cfg.SECTIONS:
        body = text.split(f"## `[{section}]`\n", 1)[1].split("\n## ", 1)[0]
        for o in options(cls):
            assert f"| `{o.name}` |" in body, (section, o.name)


def test_every_option_has_a_meaning_and_its_unit_is_in_its_name() -> None:
    for section, o in ALL:
        assert o.spec.doc and "\n" not in o.spec.doc, (section, o.name)
    # Spot checks of the suffix table (longest suffix first).
    units = {o.name: o.unit for _, o in ALL}
    assert units["i2c_errors_per_s"] == "errors/s"
    assert units["fall_velocity_mps"] == "m/s"
    assert units["fsr_microsiemens_per_n"] == "µS/N"
    assert units["readback_tolerance_kmh"] == "km/h"


@pytest.mark.parametrize(("section", "option"), ALL, ids=IDS)
def test_every_declared_default_passes_its_own_checks(section: str, option: Option) -> None:
    if option.default is REQUIRED or option.default is None:
        return  # required, decided by another option, or a part not fitted
    value = read_option(Section("x.toml", section, {}), option)
    assert value == option.default
    assert type(value) is type(option.default) or option.type is float


@given(data=st.data())
def test_numbers_inside_the_bounds_are_accepted_and_outside_refused(data: st.DataObject) -> None:
    section, o = data.draw(st.sampled_from(NUMBERS))
    sp = o.spec
    lo = sp.above if sp.above is not None else sp.min
    if sp.one_of:
        value: float = data.draw(st.sampled_from(sp.one_of))
    elif o.type is int:
        value = data.draw(st.integers(int(lo or 0), int(sp.max if sp.max is not None else 10**6)))
    else:
        value = data.draw(st.floats(lo, sp.max, exclude_min=sp.above is not None))
    assert read_option(Section("x.toml", section, {o.name: value}), o) == value
    if sp.max is not None and not sp.one_of:
        too_big = sp.max + 1
        with pytest.raises(ConfigError, match=rf"\[{section}\] {o.name}: expected"):
            read_option(Section("x.toml", section, {o.name: too_big}), o)


def test_choices_are_checked_once_from_the_literal_type() -> None:
    imu = {o.name: o for o in options(cfg.ImuSettings)}
    assert imu["chip"].choices == ("lsm6dsox", "mpu6050")
    with pytest.raises(ConfigError, match=r'\[imu\] chip: expected one of "lsm6dsox", "mpu6050"'):
        read_option(Section("x.toml", "imu", {"chip": "bmi270"}), imu["chip"])


def _keyword_defaults(path: Path) -> list[tuple[str, int, str, object]]:
    """(function or class, line, name, default) for every parameter with a constant default
    and every class attribute set to a constant (a dataclass field's default)."""
    found: list[tuple[str, int, str, object]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        is_enum = isinstance(node, ast.ClassDef) and any(
            isinstance(base, ast.Name) and base.id.endswith("Enum") for base in node.bases)
        if isinstance(node, ast.ClassDef) and not is_enum:  # an enum's values are no defaults
            for item in node.body:
                if isinstance(item, ast.AnnAssign | ast.Assign) \
                        and isinstance(item.value, ast.Constant):
                    targets = [item.target] if isinstance(item, ast.AnnAssign) else item.targets
                    for target in targets:
                        if isinstance(target, ast.Name):
                            found.append((node.name, item.lineno, target.id, item.value.value))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            positional = args.posonlyargs + args.args
            pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults,
                             strict=True))
            pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
                      if d is not None]
            for arg, default in pairs:
                if isinstance(default, ast.Constant):
                    found.append((node.name, node.lineno, arg.arg, default.value))
    return found


DETECT_AND_HEALTH = [*sorted((ROOT / "controller" / "detect").glob("*.py")),
                     ROOT / "controller" / "health.py"]


@pytest.mark.parametrize("path", DETECT_AND_HEALTH, ids=lambda p: p.name)
def test_no_detector_or_health_check_declares_a_second_default(path: Path) -> None:
    """A threshold's default lives in DetectSettings/HealthSettings only: a number defaulted in a
    constructor is how free_fall_hold_s came to be 0.35 there and 0.4 in the daemon."""
    for function, line, name, value in _keyword_defaults(path):
        where = f"{path.name}:{line} {function}({name}={value!r})"
        assert name not in OPTION_NAMES, f"{where}: a declared option, take the settings object"
        # A zero is a counter's or a timer's start, not a threshold (a threshold named like its
        # option is caught by the name above).
        number = isinstance(value, int | float) and not isinstance(value, bool) and value != 0
        assert not number, f"{where}: a number default; make it an option or a module constant"


# Drivers in hardware/ are used outside the daemon with their own keyword defaults. They must
# agree with the declarations (the daemon always passes the configured values).
DRIVER_DEFAULTS = [
    (TrackmasterLink, "treadmill", ["stop_mode", "poll_interval_s", "ack_timeout_s",
                                    "readback_tolerance_kmh", "readback_time_s", "allow_reverse"]),
    (TrackmasterLink, "limits", ["ramp_mps2"]),
    (Lsm6dsox, "imu", ["accel_range_g", "gyro_range_dps"]),
    (Mpu6050, "imu", ["accel_range_g", "gyro_range_dps"]),
]


@pytest.mark.parametrize(("cls", "section", "names"), DRIVER_DEFAULTS,
                         ids=[f"{c.__name__}-{s}" for c, s, _ in DRIVER_DEFAULTS])
def test_driver_keyword_defaults_agree_with_the_declarations(
        cls: type, section: str, names: list[str]) -> None:
    declared = {o.name: o.default for s, o in ALL if s == section}
    parameters = inspect.signature(cls).parameters
    for name in names:
        assert parameters[name].default == declared[name], (cls.__name__, name)
