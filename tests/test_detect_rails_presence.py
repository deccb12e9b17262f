"""Handrail and no-runner detectors, and the ``[detect]`` configuration section."""

from __future__ import annotations

import pytest

from controller.config import ConfigError, DetectSettings, Document, _detect
from controller.detect import build_default, build_no_runner, build_rails
from controller.detect.base import Level
from hardware.rail_sample import RailSample


def rail(t: float, left: float | None = None, right: float | None = None,
         touch_l: bool | None = None, touch_r: bool | None = None) -> RailSample:
    return RailSample(t, int(t * 100), touch_l, touch_r, left, right)


def test_light_touch_is_ok_and_counts_as_contact() -> None:
    det = build_rails()
    for i in range(100):
        d = det.update(rail(i / 100, 8.0, 10.0))  # light touch: about 1 kg per hand
        assert d.level is Level.OK
    assert det.rail_contact
    det.update(rail(1.01, 0.0, 0.0))
    assert not det.rail_contact


def test_sudden_grab_stops() -> None:
    det = build_rails()
    for i in range(50):
        assert det.update(rail(i / 100, 3.0, 3.0)).level is Level.OK
    d = det.update(rail(0.51, 60.0, 50.0))
    assert (d.level, d.reason) == (Level.STOP, "rail_grab")


def test_slow_load_up_to_overload_stops_as_overload() -> None:
    det = build_rails()
    reasons = set()
    for i in range(1000):  # 0 → 200 N over 10 s: never sudden
        d = det.update(rail(i / 100, i * 0.1, i * 0.1))
        if d.level is Level.STOP:
            reasons.add(d.reason)
            assert i * 0.2 > 150.0
            break
    assert reasons == {"rail_overload"}


def test_hands_off_in_hands_on_mode_is_a_caution_at_once_and_a_stop_after_the_time() -> None:
    det = build_rails(hands_on=True)
    assert det.update(rail(0.0, touch_l=True, touch_r=True)).level is Level.OK
    d = det.update(rail(0.3, touch_l=True, touch_r=False))
    assert (d.level, d.reason) == (Level.CAUTION, "hands_off")
    assert det.update(rail(0.7, touch_l=True, touch_r=False)).level is Level.CAUTION
    d = det.update(rail(0.81, touch_l=True, touch_r=False))
    assert (d.level, d.reason) == (Level.STOP, "hands_off")
    assert det.update(rail(0.9, touch_l=True, touch_r=True)).level is Level.OK
    # Back within the time: cautions only, and the time starts again at the next release.
    assert det.update(rail(1.0, touch_l=False, touch_r=True)).level is Level.CAUTION
    assert det.update(rail(1.4, touch_l=False, touch_r=True)).level is Level.CAUTION
    assert det.update(rail(1.45, touch_l=True, touch_r=True)).level is Level.OK
    assert det.update(rail(1.5, touch_l=True, touch_r=False)).level is Level.CAUTION
    assert det.update(rail(1.9, touch_l=True, touch_r=False)).level is Level.CAUTION


def test_hands_on_mode_without_sensors_stops() -> None:
    det = build_rails(hands_on=True)
    d = det.update(rail(0.0))
    assert (d.level, d.reason) == (Level.STOP, "rail_not_fitted")
    # Outside hands-on mode, no sensors is not a reason to stop.
    assert build_rails().update(rail(0.0)).level is Level.OK


def test_no_runner_countdown_then_stop() -> None:
    det = build_no_runner()
    levels = {}
    for t in range(0, 45):
        levels[t] = det.update(float(t), True, 7, False)
    assert levels[29].level is Level.OK
    assert (levels[30].level, levels[30].reason) == (Level.CAUTION, "no_runner_countdown")
    assert levels[39].level is Level.CAUTION
    assert (levels[40].level, levels[40].reason) == (Level.STOP, "no_runner")


def test_no_runner_is_reset_by_steps_rail_contact_and_a_stopped_belt() -> None:
    det = build_no_runner()
    det.update(0.0, True, 0, False)
    assert det.update(29.0, True, 1, False).level is Level.OK  # a step at 29 s
    assert det.update(58.0, True, 1, False).level is Level.OK
    assert det.update(59.5, True, 1, True).level is Level.OK  # rail contact
    assert det.update(89.0, True, 1, False).level is Level.OK
    assert det.update(95.0, False, 1, False).level is Level.OK  # belt stopped
    assert det.update(124.0, True, 1, False).level is Level.OK
    assert det.update(125.5, True, 1, False).level is Level.CAUTION


def test_step_counter_feeds_the_no_runner_detector() -> None:
    imu = build_default()
    presence = build_no_runner()
    # The public API the loop uses: the running step total.
    assert presence.update(0.0, True, imu.steps.steps, False).level is Level.OK


def test_detect_section_defaults_and_bounds() -> None:
    assert _detect(Document("x.toml", {})) == DetectSettings()
    s = _detect(Document("x.toml", {"detect": {"model_logit": 5.0, "no_runner_s": 20}}))
    assert (s.model_logit, s.no_runner_s) == (5.0, 20.0)
    with pytest.raises(ConfigError, match=r"\[detect\] fall_velocity_mps"):
        _detect(Document("x.toml", {"detect": {"fall_velocity_mps": 9.0}}))
    doc = Document("x.toml", {"detect": {"fall_velocty_mps": 1.0}})
    _detect(doc)
    with pytest.raises(ConfigError, match="unknown option"):
        doc.finish()
