"""Faults a simulated session can be given from the command line (``treadguard sim --fault``).

Each fault is real, not a flag the controller reads: it breaks a part of the simulated world
the way the part breaks — a chip stops acknowledging on the bus, a twin's outputs freeze, the
clip turns on the belt, the treadmill process stops answering or closes its pty, the e-stop
contact opens, the relay's contact welds, the loop's own thread is blocked, the configuration
file is edited on disk. The controller finds out only through its drivers, as it would on the
machine. Injected by :func:`inject` at ``--fault-at-s`` (default 20 s: walking at the session
speed); the table of every fault and what the controller must do is in ``docs/reliability.md``.

``kind`` says which deadline applies (:data:`controller.fault_matrix.DEADLINE_MS`): ``sensor``
faults must be made safe within 100 ms of the fault (the first byte lowering the speed or
stopping the belt, or the relay opening); ``link`` faults within the treadmill's 0.5 s
communication watchdog; ``chain`` faults (e-stop, key, relay) within 100 ms; ``clip`` (the clip
turning on the belt) within the gravity estimate's 0.5 s time constant (``[health]
clip_lowpass_s``); ``belt`` (a belt faster than commanded) within the read-back check (the
0.5 km/h tolerance reached at the belt's 0.5 m/s², then ``[treadmill] readback_time_s``, and
two polls: 0.9 s); ``loop`` within the stall itself, the stall limit and a tick; ``process``
(the controller's process killed) within the treadmill's watchdog, the belt stopped by the
treadmill alone; ``config`` must change nothing in the running session.
"""

from __future__ import annotations

import math
import os
import random
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from controller.app import System
from hardware.clock import Clock
from hardware.sim.motion import Motion, Vec3
from hardware.sim.runner import EventKind, RunnerEvent
from hardware.sim.world import SimTreadmillWorld, SimWorld

G: Final = 9.80665
STALL_S: Final = 0.6
"""How long ``loop-stall`` blocks the loop's thread (longer than the treadmill's watchdog)."""
UNPLUGGED_S: Final = 1.0
"""How long ``imu-unplugged`` leaves the cable out before it is pushed back (chip reset)."""
SLIP_AFTER_S: Final = 0.5
"""``belt-ignores-stop`` and ``relay-welded`` show only when a stop is needed: the runner slips
(or the operator presses the e-stop) this long after the fault."""


class SimFaultError(Exception):
    """A fault that this session cannot be given (e.g. a rail fault without ``[rails]``)."""


@dataclass(frozen=True)
class SimFault:
    """One fault: its name, its deadline class and what it breaks.

    Attributes:
        onset_after_s: when what needs the stop happens, after the injection (a welded relay
            or a belt that ignores stops needs a stop first: the e-stop, a slip).
    """

    name: str
    kind: str  # sensor, link, belt, chain, loop, config
    description: str
    inject: Callable[[System[SimWorld], Path | None], None]
    onset_after_s: float = 0.0
    needs: tuple[str, ...] = ()
    """What the session must have: ``treadmill``, ``touch``, ``force``, ``key``, ``feedback``,
    ``runner`` (checked by :func:`check_applicable` before the session starts)."""


# ---------------------------------------------------------------------- motion wrappers


class ClipSlipped:
    """The walking motion, with the clip turning 90° about the sensor's y axis on the belt
    (gravity ends along sensor x), from ``start_s`` over ``turn_s``: a smooth turn that the
    gyroscope sees as a real chip would (a turn of the accelerometer's readings with no
    rotation rate is not something a clip can do)."""

    def __init__(self, inner: Motion, start_s: float, turn_s: float = 0.15) -> None:
        self.inner = inner
        self.start_s = start_s
        self.turn_s = turn_s

    def at(self, t_s: float) -> tuple[Vec3, Vec3]:
        acc, gyro = self.inner.at(t_s)
        u = min(1.0, max(0.0, (t_s - self.start_s) / self.turn_s))
        # Smooth step 0 → 90°, and its rate (rad/s) while turning.
        theta = 0.5 * math.pi * (3.0 * u * u - 2.0 * u * u * u)
        rate = (0.5 * math.pi * 6.0 * u * (1.0 - u) / self.turn_s
                if 0.0 < u < 1.0 else 0.0)
        c, s = math.cos(theta), math.sin(theta)

        def turned(v: Vec3) -> Vec3:
            return (c * v[0] + s * v[2], v[1], -s * v[0] + c * v[2])

        gx, gy, gz = turned(gyro)
        # A body-fixed vector seen from a sensor turning at +rate about y: its coordinates turn
        # the other way, so the gyro reads -rate about y.
        return turned(acc), (gx, gy - rate, gz)


class Garbage:
    """The sensor reports noise over its whole range on every axis (a broken chip, a failing
    solder joint on its supply), seeded."""

    def __init__(self, seed: int, full_scale_mps2: float, full_scale_rads: float) -> None:
        self._rng = random.Random(seed)
        self._acc = full_scale_mps2
        self._gyro = full_scale_rads

    def at(self, t_s: float) -> tuple[Vec3, Vec3]:
        r = self._rng
        acc = (r.uniform(-self._acc, self._acc), r.uniform(-self._acc, self._acc),
               r.uniform(-self._acc, self._acc))
        return acc, (r.uniform(-self._gyro, self._gyro), r.uniform(-self._gyro, self._gyro),
                     r.uniform(-self._gyro, self._gyro))


class Stall:
    """Blocks the loop's own thread once, inside its tick (the IMU read asks the motion for
    its samples): ``STALL_S`` of clock time passes in one tick, as a hung syscall would."""

    def __init__(self, inner: Motion, clock: Clock, seconds: float) -> None:
        self.inner = inner
        self._clock = clock
        self._seconds = seconds
        self.done = False

    def at(self, t_s: float) -> tuple[Vec3, Vec3]:
        if not self.done:
            self.done = True
            self._clock.sleep_until(self._clock.now_s() + self._seconds)
        return self.inner.at(t_s)


# ---------------------------------------------------------------------- injections


def _treadmill(system: System[SimWorld]) -> SimTreadmillWorld:
    world = system.world
    if not isinstance(world, SimTreadmillWorld):
        raise SimFaultError("this fault needs the simulated treadmill ([treadmill] protocol = "
                            "\"trackmaster\", simulated = true)")
    return world


def _rails(system: System[SimWorld]) -> SimWorld:
    if system.settings.rails is None:
        raise SimFaultError("this fault needs [rails] in the configuration")
    return system.world


def _imu_address(system: System[SimWorld]) -> int:
    return system.settings.imu.address


def _runner_event(system: System[SimWorld], kind: EventKind, after_s: float) -> None:
    """Schedule a runner event ``after_s`` from now (the runner the scenario put on the belt)."""
    runner = system.world.runner
    if runner is None:
        raise SimFaultError("this fault needs a runner scenario (walk-backward, …)")
    now = system.clock.now_s()
    runner.events = tuple(sorted((*runner.events, RunnerEvent(now + after_s, kind)),
                                 key=lambda e: e.t_s))


def _imu_unplugged(system: System[SimWorld], _: Path | None) -> None:
    bus = system.world.bus
    address = _imu_address(system)
    bus.unplug(address)
    # The cable pushed back in a second later: the chip comes back in its power-on state.
    system.world.later(system.clock.now_s() + UNPLUGGED_S, lambda: bus.replug(address))


def _imu_garbage(system: System[SimWorld], _: Path | None) -> None:
    imu = system.settings.imu
    system.world.imu_model.motion = Garbage(7, imu.accel_range_g * G * 1.5,
                                            imu.gyro_range_dps * 0.0174533 * 1.5)


def _touch_chip(system: System[SimWorld]) -> object:
    touch = _rails(system).rail_twins.touch
    if touch is None:
        raise SimFaultError("this fault needs a touch chip ([rails] touch_chip = \"mpr121\")")
    return touch


def _rail_nack(system: System[SimWorld], _: Path | None) -> None:
    rails = system.settings.rails
    if rails is None:
        raise SimFaultError("this fault needs [rails] in the configuration")
    _touch_chip(system)
    system.world.bus.set_error_rate(rails.mpr121_address, 1.0)


def _force_frozen(system: System[SimWorld], _: Path | None) -> None:
    force = _rails(system).rail_twins.force
    if not force:
        raise SimFaultError("this fault needs a force chip ([rails] force_chip = \"ads1115\")")
    for twin in force.values():
        twin.freeze = True


def _touch_reset(system: System[SimWorld], _: Path | None) -> None:
    touch = _touch_chip(system)
    touch.power_on_reset()  # type: ignore[attr-defined]


def _treadmill_fault(name: str, **params: float) -> Callable[[System[SimWorld], Path | None],
                                                             None]:
    def inject(system: System[SimWorld], _: Path | None) -> None:
        _treadmill(system).treadmill.inject(name, **params)

    return inject


def _ignores_stop(system: System[SimWorld], _: Path | None) -> None:
    _treadmill(system).treadmill.inject("ignore_stop")
    _runner_event(system, EventKind.SLIP, SLIP_AFTER_S)


def _loop_stall(system: System[SimWorld], _: Path | None) -> None:
    model = system.world.imu_model
    model.motion = Stall(model.motion, system.clock, STALL_S)


def _estop(system: System[SimWorld], _: Path | None) -> None:
    system.world.estop_pressed = True


def _key_pulled(system: System[SimWorld], _: Path | None) -> None:
    key = system.settings.gpio.key_pin
    if key is None:
        raise SimFaultError("this fault needs a safety-key input ([gpio] key_pin)")
    system.world.pin_factory.pin(key).drive_high()  # key out


def _relay_welded(system: System[SimWorld], _: Path | None) -> None:
    g = system.settings.gpio
    if g.relay_feedback_pin is None:
        raise SimFaultError("this fault needs relay feedback ([gpio] relay_feedback_pin)")
    system.world.pin_factory.pin(g.relay_pin).input_pin = None  # the contact stays closed
    world = system.world
    world.later(system.clock.now_s() + SLIP_AFTER_S, lambda: setattr(world, "estop_pressed",
                                                                       True))


CONFIG_EDIT: Final = ("speed_kmh = 1.5", "speed_kmh = 2.9")
"""What ``config-changed-while-running`` writes into the session's configuration file."""


def _config_changed(system: System[SimWorld], path: Path | None) -> None:
    if path is None:
        raise SimFaultError("config-changed-while-running needs the configuration file")
    text = path.read_text(encoding="utf-8")
    before, after = CONFIG_EDIT
    if before not in text:
        raise SimFaultError(f"{path}: no line {before!r} to change")
    path.write_text(text.replace(before, after), encoding="utf-8")


REPORT_NAME: Final = "treadmill-after-the-controller.json"
"""What the simulated treadmill writes, in the session's scratch directory, once the controller
process is gone (see ``hardware/sim/treadmill.py``)."""
KILL_AFTER_RUNAWAY_S: Final = 0.3
"""``daemon-restarted-after-runaway``: the controller dies this long after the belt ran away,
before its read-back check has seen it."""


def _kill_controller(system: System[SimWorld], work_dir: Path | None) -> None:
    """SIGKILL this process — the controller — with the belt running: no ``finally``, no
    shutdown, no stop byte. The treadmill process lives on and reports how its belt stopped."""
    if work_dir is None:
        raise SimFaultError("killing the controller needs a scratch directory for the report")
    _treadmill(system).treadmill.report_to(str(work_dir / REPORT_NAME))
    os.kill(os.getpid(), signal.SIGKILL)


def _runaway_then_kill(system: System[SimWorld], work_dir: Path | None) -> None:
    _treadmill(system).treadmill.inject("runaway", kmh=2.0)
    system.world.later(system.clock.now_s() + KILL_AFTER_RUNAWAY_S,
                       lambda: _kill_controller(system, work_dir))


def _bus_nack(system: System[SimWorld], _: Path | None) -> None:
    system.world.bus.set_error_rate(_imu_address(system), 1.0)


def _imu_frozen(system: System[SimWorld], _: Path | None) -> None:
    system.world.imu_model.freeze = True


def _clip_slipped(system: System[SimWorld], _: Path | None) -> None:
    model = system.world.imu_model
    model.motion = ClipSlipped(model.motion, system.clock.now_s())


FAULTS: Final = {f.name: f for f in (
    SimFault("imu-nack", "sensor", "the IMU stops acknowledging (every transfer EREMOTEIO)",
             _bus_nack),
    SimFault("imu-frozen", "sensor", "the IMU answers but its outputs stop changing",
             _imu_frozen),
    SimFault("imu-unplugged", "sensor", "the IMU's cable pulled; pushed back 1 s later (the "
             "chip back in its power-on state)", _imu_unplugged),
    SimFault("imu-garbage", "sensor", "the IMU reports noise over its whole range",
             _imu_garbage),
    SimFault("imu-clip-slipped", "clip", "the clip turns 90° on the belt in 0.15 s", _clip_slipped),
    SimFault("rail-nack", "sensor", "the touch chip stops acknowledging", _rail_nack,
             needs=("touch",)),
    SimFault("rail-force-chip-frozen", "sensor", "the force chips' conversions freeze",
             _force_frozen, needs=("force",)),
    SimFault("touch-chip-reset", "sensor", "the touch chip resets (configuration lost, "
             "not scanning)", _touch_reset, needs=("touch",)),
    SimFault("serial-unplugged", "link", "the serial cable pulled (the pty closes)",
             _treadmill_fault("unplug"), needs=("treadmill",)),
    SimFault("serial-garbage", "link", "the treadmill answers random bytes",
             _treadmill_fault("garbage"), needs=("treadmill",)),
    SimFault("treadmill-silent", "link", "the treadmill stops answering",
             _treadmill_fault("silent"), needs=("treadmill",)),
    SimFault("treadmill-slow-replies", "link", "every reply 0.3 s late",
             _treadmill_fault("delay_s", seconds=0.3), needs=("treadmill",)),
    SimFault("treadmill-out-of-range", "link", "every command answered BE (out of range)",
             _treadmill_fault("nak", code=0xBE), needs=("treadmill",)),
    SimFault("treadmill-power-cycle", "link", "the treadmill loses power for 1 s",
             _treadmill_fault("power_cycle", off_s=1.0), needs=("treadmill",)),
    SimFault("belt-runaway", "belt", "the belt runs 2 km/h above its set speed",
             _treadmill_fault("runaway", kmh=2.0), needs=("treadmill",)),
    SimFault("belt-ignores-stop", "link", "stop commands acknowledged but ignored; the "
             "runner slips 0.5 s later (the onset)", _ignores_stop, SLIP_AFTER_S,
             needs=("treadmill", "runner")),
    SimFault("loop-stall", "loop", "the loop's thread blocked for 0.6 s inside a tick",
             _loop_stall),
    SimFault("estop-pressed", "chain", "the operator presses the e-stop", _estop),
    SimFault("safety-key-pulled", "chain", "the safety key is pulled out", _key_pulled,
             needs=("key",)),
    SimFault("relay-welded", "chain", "the stop relay's contact welds; the operator presses "
             "the e-stop 0.5 s later (the onset)", _relay_welded, SLIP_AFTER_S,
             needs=("feedback",)),
    SimFault("daemon-killed", "process", "the controller process killed (SIGKILL) with the "
             "belt running; the restarted controller must come up latched, power cut",
             _kill_controller, needs=("treadmill",)),
    SimFault("daemon-restarted-after-runaway", "process", "the belt runs away, the controller "
             "is killed 0.3 s later (SIGKILL); the restarted controller must come up latched, "
             "power cut", _runaway_then_kill, needs=("treadmill",)),
    SimFault("config-changed-while-running", "config", "[session] speed_kmh 1.5 → 2.9 "
             "written to the configuration file mid-session", _config_changed),
)}
"""Every fault ``--fault`` takes, by name."""
def check_applicable(name: str, system: System[SimWorld]) -> None:
    """Raise :class:`SimFaultError` (one line) when the session lacks what fault ``name``
    breaks, before the session starts."""
    s = system.settings
    have = {
        "treadmill": isinstance(system.world, SimTreadmillWorld),
        "touch": s.rails is not None and system.world.rail_twins.touch is not None,
        "force": s.rails is not None and bool(system.world.rail_twins.force),
        "key": s.gpio.key_pin is not None,
        "feedback": s.gpio.relay_feedback_pin is not None,
        "runner": system.world.runner is not None,
    }
    for need in FAULTS[name].needs:
        if not have[need]:
            raise SimFaultError(f"{name} needs {NEEDS[need]}")


NEEDS: Final = {
    "treadmill": "the simulated treadmill ([treadmill] protocol = \"trackmaster\", "
                 "simulated = true)",
    "touch": "a touch chip ([rails] touch_chip = \"mpr121\")",
    "force": "a force chip ([rails] force_chip = \"ads1115\")",
    "key": "a safety-key input ([gpio] key_pin)",
    "feedback": "relay feedback ([gpio] relay_feedback_pin)",
    "runner": "a runner scenario (walk-backward, …)",
}


def inject(name: str, system: System[SimWorld], config_path: Path | None,
           work_dir: Path | None = None) -> None:
    """Break what fault ``name`` breaks, now (a ``process`` fault: this process dies; it gets
    the session's scratch directory, the others the configuration file).

    Raises:
        SimFaultError: the session lacks the part the fault breaks.
    """
    fault = FAULTS[name]
    fault.inject(system, work_dir if fault.kind == "process" else config_path)
