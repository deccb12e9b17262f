"""The simulated outside world of one session, built in one go: everything the controller's
drivers would meet on a real machine, and the person at it.

- :class:`SimWorld` — a simulated I²C bus holding a twin of every configured chip (the IMU fed
  by the scenario's motion, the rail chips by :attr:`SimWorld.hands`), and gpiozero's
  ``MockFactory`` wired like a healthy machine (:mod:`hardware.sim.safety_io_wiring`), with the
  scripted operator's hands on its buttons. This is the whole world in relay-only mode
  (``[treadmill] protocol = "none"``), and what ``treadguard check`` / ``calibrate rails`` simulate.
- :class:`SimTreadmillWorld` — the same, plus the simulated treadmill process on a pty
  (:class:`~hardware.sim.treadmill.SimTreadmill`), kept in lockstep with the controller's clock.

Nothing in either is optional: a relay-only world simply has no ``treadmill`` attribute.
The world takes plain values (chips, addresses, pins, seed); the composition root
(:mod:`controller.devices`) unpacks the configuration for it. It opens no serial port: the
controller's end of the treadmill's pty is opened by :mod:`controller.transports`, and handed
back with :meth:`SimTreadmillWorld.connect` so the lockstep can wait for its bytes.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar

from gpiozero.pins.mock import MockFactory

from hardware.clock import Clock
from hardware.fsr import FsrDivider
from hardware.safety_io import SafetyIO
from hardware.sim.bus import SimBus
from hardware.sim.grip import Grip, Hands
from hardware.sim.handrails import RailTwins, attach_rail_twins
from hardware.sim.lsm6dsox import Lsm6dsoxModel
from hardware.sim.motion import Motion
from hardware.sim.mpu6050 import Mpu6050Model
from hardware.sim.runner import Runner
from hardware.sim.safety_io_wiring import wire_after, wire_before
from hardware.sim.scenarios import Action
from hardware.sim.treadmill import SimTreadmill
from hardware.sim.vl53l1x import Vl53l1xModel
from hardware.trackmaster import TrackmasterLink

ImuModel = Lsm6dsoxModel | Mpu6050Model
T = TypeVar("T")
DECK_MIDDLE_M = 0.8
"""Where the deck twin sees the runner until something feeds it: mid-deck, metres from the
console's sensor (inside every default zone of ``[deck]``)."""


def deck_distance_m(runner: Runner | None) -> float:
    """What the console's distance sensor reads: from the console to the runner's back, m.
    The runner walks backward toward the console (``position_m`` + is toward it, from the
    deck's middle); without a runner model, :data:`DECK_MIDDLE_M`."""
    if runner is None:
        return DECK_MIDDLE_M
    return DECK_MIDDLE_M - runner.position_m


PIN_HISTORY: Final = 100_000
"""States each mock pin remembers (≈ 8 minutes of a heartbeat toggling at 200 Hz)."""


@dataclass(frozen=True)
class RailChips:
    """Where the rail chips sit on the bus (plain values from ``[rails]``).

    Attributes:
        touch_address: the MPR121's I²C address, or None for no touch chip.
        electrodes: its (left, right) rail electrodes.
        force_inputs: ``(address, channel)`` of the left rail's force input, then the right
            one's (one address twice: one ADS1115 switched between two inputs); empty for no
            force chip.
        fsr: the FSR divider model turning grip force into the input's volts (None without
            force inputs).
    """

    touch_address: int | None
    electrodes: tuple[int, int]
    force_inputs: tuple[tuple[int, int], ...]
    fsr: FsrDivider | None


@dataclass(frozen=True)
class PanelPins:
    """BCM numbers of the machine's pins (the ones :class:`SafetyIO` is given)."""

    relay: int
    relay_feedback: int | None
    estop: int
    key: int | None
    reset: int


def attach_sensor_twins(bus: SimBus, clock: Clock, motion: Motion, grip: Grip, *,
                        imu_chip: Literal["lsm6dsox", "mpu6050"], imu_address: int,
                        rails: RailChips | None, seed: int) -> tuple[ImuModel, RailTwins]:
    """Attach the IMU's twin (fed by ``motion``) and the rail chips' twins (fed by ``grip``;
    none when ``rails`` is None) to ``bus``; return them for fault injection."""
    imu: ImuModel = (Mpu6050Model(clock, motion, seed=seed) if imu_chip == "mpu6050"
                     else Lsm6dsoxModel(clock, motion, seed=seed))
    bus.attach(imu_address, imu)
    if rails is None:
        return imu, RailTwins()
    return imu, attach_rail_twins(bus, clock, grip, touch_address=rails.touch_address,
                                  electrodes=rails.electrodes, force_inputs=rails.force_inputs,
                                  fsr=rails.fsr, seed=seed)


class SimWorld:
    """The simulated machine without a treadmill link: bus and twins, mock pins, operator.

    Args:
        clock: the controller's clock (the twins and the operator read time from it only).
        imu_chip, imu_address, rails: the chips on the bus (see :func:`attach_sensor_twins`).
        pins: the machine's pins, wired like a healthy machine: relay feedback follows the coil.
        motion: what the IMU twin feels (the scenario's runner).
        actions: the operator's button presses, in time order (default none: nobody there).
        seed: noise seed of the bus and twins (default 1).
        deck_address: the deck position sensor's address (``[deck] address``), None = none.

    Attributes:
        bus, imu_model, rail_twins: the simulated bus and its twins, for fault injection
            (``rail_twins`` is empty without ``[rails]``).
        deck_twin: the deck position sensor's twin (None without ``[deck]``); it sees the
            runner at :data:`DECK_MIDDLE_M` until fed (``set_distance_m`` or a callable).
        hands: the grip every rail twin reads; tests and ``calibrate`` set ``left``/``right``.
        pin_factory: the ``MockFactory`` the controller claims its pins from.
        estop_pressed: the operator holds the e-stop pressed (tests set it; default False).
        final_state, final_wire: empty here; see :class:`SimTreadmillWorld`.
    """

    def __init__(self, clock: Clock, *, imu_chip: Literal["lsm6dsox", "mpu6050"],
                 imu_address: int, rails: RailChips | None, pins: PanelPins, motion: Motion,
                 actions: Sequence[Action] = (), seed: int = 1,
                 deck_address: int | None = None) -> None:
        self.clock = clock
        self.actions = tuple(actions)
        self.pins = pins
        self.hands = Hands()
        self.bus = SimBus(seed=seed)
        self.imu_model, self.rail_twins = attach_sensor_twins(
            self.bus, clock, motion, self.hands, imu_chip=imu_chip, imu_address=imu_address,
            rails=rails, seed=seed)
        # The person on the belt, when the scenario has one: moved every tick, with the belt.
        self.runner = motion if isinstance(motion, Runner) else None
        # The deck position sensor, when fitted: it sees the runner's back where the runner
        # model has them (mid-deck without a runner model; a test may feed it with
        # deck_twin.set_distance_m).
        self.deck_twin: Vl53l1xModel | None = None
        if deck_address is not None:
            self.deck_twin = Vl53l1xModel(clock, lambda t_s: deck_distance_m(self.runner),
                                          seed=seed)
            self.bus.attach(deck_address, self.deck_twin)
        self.pin_factory: Any = MockFactory()
        wire_before(self.pin_factory, pins.relay, pins.relay_feedback)
        self.estop_pressed = False
        self._later: list[tuple[float, Callable[[], None]]] = []
        self.final_state: dict[str, Any] = {}
        self.final_wire: list[tuple[float, str, int]] = []

    def claim_pins(self, claim: Callable[[Any], T]) -> T:
        """Let the controller claim its pins (``claim(pin_factory)``, e.g. building its
        :class:`SafetyIO`), then close the e-stop contact and insert the key: claiming an input
        pulls it up, which on this machine reads "pressed" and "key out"."""
        claimed = claim(self.pin_factory)
        wire_after(self.pin_factory, self.pins.estop, self.pins.key)
        # A mock pin keeps every state it went through; the heartbeat toggles every tick, so a
        # long session (a soak) would grow without bound. Keep the recent history only.
        for pin in self.pin_factory.pins.values():
            pin.states = deque(pin.states, maxlen=PIN_HISTORY)
        return claimed

    def later(self, t_s: float, action: Callable[[], None]) -> None:
        """Do ``action`` in the first tick at or after ``t_s`` (a fault's second act: a cable
        pushed back in, the operator's hand on the e-stop)."""
        self._later.append((t_s, action))

    def before_tick(self) -> None:
        """Advance the world to the clock's time: the operator's hands on the buttons."""
        now = self.clock.now_s()
        due = [later for t_s, later in self._later if t_s <= now]
        self._later = [(t_s, later) for t_s, later in self._later if t_s > now]
        for later in due:
            later()
        pressed = {"reset": False, "estop": self.estop_pressed}
        for action in self.actions:
            if action.t_s <= now < action.t_s + action.hold_s:
                pressed[action.button] = True
        button = self.pin_factory.pin(self.pins.reset)
        button.drive_low() if pressed["reset"] else button.drive_high()
        estop = self.pin_factory.pin(self.pins.estop)
        # Normally-closed e-stop: closed (not pressed) pulls the input low.
        estop.drive_high() if pressed["estop"] else estop.drive_low()
        # The runner feels the belt as the last lockstep left it (one tick, 5 ms, earlier).
        self._move_runner()

    def belt_kmh(self) -> float | None:
        """The belt's speed as the treadmill last read it (None: no treadmill simulated)."""
        return None

    def _move_runner(self) -> None:
        if self.runner is not None:
            self.hands.left, self.hands.right = self.runner.advance(self.clock.now_s(),
                                                                    self.belt_kmh())

    def close(self) -> None:
        """End the world (nothing runs outside this process without a treadmill)."""


class SimTreadmillWorld(SimWorld):
    """:class:`SimWorld` plus the simulated treadmill process, in lockstep with the clock.

    Args:
        units, baud: the simulated treadmill's (``[treadmill] units``, ``baud``).
        (the rest as :class:`SimWorld`; ``seed`` also seeds the treadmill.)

    Attributes:
        treadmill: the process's handle: its pty (``treadmill.port``), fault injection,
            ``state()``, ``wire_log()``.
        final_state, final_wire: the treadmill's state and every byte on the line, kept when
            the world closed (after the controller let go).
    """

    def __init__(self, clock: Clock, *, imu_chip: Literal["lsm6dsox", "mpu6050"],
                 imu_address: int, rails: RailChips | None, pins: PanelPins, motion: Motion,
                 units: str, baud: int, actions: Sequence[Action] = (),
                 seed: int = 1, deck_address: int | None = None) -> None:
        super().__init__(clock, imu_chip=imu_chip, imu_address=imu_address, rails=rails,
                         pins=pins, motion=motion, actions=actions, seed=seed,
                         deck_address=deck_address)
        self.treadmill = SimTreadmill(units, baud, seed=seed)
        self._host: tuple[Any, TrackmasterLink, SafetyIO] | None = None

    def connect(self, port: Any, link: TrackmasterLink, safety_io: SafetyIO) -> None:
        """Hand over the controller's end of the line (once, by the composition root): the
        lockstep tells the treadmill how many bytes the link sent and whether the relay is
        closed, and waits until the treadmill's replies are readable on ``port``."""
        self._host = (port, link, safety_io)

    def before_tick(self) -> None:
        """Advance the operator and the treadmill to the clock's time (lockstep)."""
        super().before_tick()
        if self._host is not None:
            port, link, safety_io = self._host
            self.treadmill.sync_port(self.clock.now_s(), port, link.bytes_sent,
                                     link.bytes_received, safety_io.relay_closed)

    def belt_kmh(self) -> float | None:
        return self.treadmill.belt_kmh

    def close(self) -> None:
        """End the treadmill process, keeping its last state and wire log."""
        if not self.treadmill.closed:
            with contextlib.suppress(Exception):  # a broken lockstep must not block the close
                self.final_state = self.treadmill.state()
                self.final_wire = self.treadmill.wire_log()
            self.treadmill.close()
