"""Opening the transports — the I²C bus, the treadmill's serial port, the GPIO pin factory —
for every command: ``run`` and ``sim`` (:func:`controller.app.build`), ``check``,
``calibrate rails``, ``treadmill-test`` and ``bench-link``.

A part is simulated exactly where the configuration says so (``[i2c] simulated = true``,
``[treadmill] simulated = true``, ``[gpio] pin_factory = "mock"``), and then it is the simulated
world's (:mod:`hardware.sim.world`). Real hardware that is missing raises
:class:`HardwareError` with one line naming the option and the device: never a fallback to a
twin, which would report a calm runner on a real belt.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Final

import serial

from controller import config as cfg
from hardware.i2c import I2CBus
from hardware.sim.world import SimTreadmillWorld, SimWorld

REAL_WRITE_TIMEOUT_S: Final = 0.05
"""Bound on one write to a real serial port, s (a command is 2–6 bytes: 12.5 ms at 4800 baud)."""

PIN_FACTORIES: Final = {
    "lgpio": ("gpiozero.pins.lgpio", "LGPIOFactory"),
    "rpigpio": ("gpiozero.pins.rpigpio", "RPiGPIOFactory"),
}
"""The real gpiozero backends accepted (pigpio is not: a daemon over a socket in the safety
path). ``"mock"`` is the simulated world's ``MockFactory``."""


class HardwareError(Exception):
    """Configured hardware is missing or does not answer as expected. One line, names the part."""


def open_bus(settings: cfg.Settings, world: SimWorld | None) -> I2CBus:
    """The ``[i2c]`` bus: the world's :class:`~hardware.sim.bus.SimBus` when simulated, else
    ``smbus2.SMBus(bus)``.

    Raises:
        HardwareError: ``/dev/i2c-N`` is missing (I²C not enabled, or a wrong bus number) or
            cannot be opened.
    """
    if settings.i2c.simulated:
        return _world(world, "[i2c] simulated = true").bus
    path = f"/dev/i2c-{settings.i2c.bus}"
    if not os.path.exists(path):
        raise HardwareError(f"{settings.path}: [i2c] bus = {settings.i2c.bus}: {path} not found "
                            f"(enable I²C with dtparam=i2c_arm=on, or fix the bus number)")
    from smbus2 import SMBus

    try:
        bus: I2CBus = SMBus(settings.i2c.bus)
    except OSError as exc:
        raise HardwareError(f"{settings.path}: [i2c] bus = {settings.i2c.bus}: cannot open "
                            f"{path}: {exc}") from None
    return bus


def open_serial(url: str, baud: int, write_timeout_s: float | None = REAL_WRITE_TIMEOUT_S
                ) -> Any:
    """A pyserial port for the treadmill link: 8N1, non-blocking reads, each write bounded by
    ``write_timeout_s`` of wall-clock time (default :data:`REAL_WRITE_TIMEOUT_S`; None for a
    simulated treadmill in lockstep — see :func:`open_port`).

    Raises:
        serial.SerialException, ValueError: the port cannot be opened (a bad URL or device).
    """
    return serial.serial_for_url(url, baudrate=baud, bytesize=8, parity="N", stopbits=1,
                                 timeout=0, write_timeout=write_timeout_s)


def open_port(settings: cfg.Settings, world: SimWorld | None) -> Any:
    """The ``[treadmill]`` serial port: ``port`` (a device or a pyserial URL), or the simulated
    treadmill's pty when ``simulated = true``.

    Raises:
        HardwareError: the port cannot be opened.
    """
    t = settings.treadmill
    url = t.port
    # A real port's writes are bounded in wall-clock time (a wedged USB adapter must become a
    # link fault). The simulated treadmill's pty is read in lockstep, so a write never waits on
    # it; a wall-clock bound there would only let the machine's load into simulated time.
    write_timeout_s: float | None = REAL_WRITE_TIMEOUT_S
    if t.simulated:
        sim = _world(world, "[treadmill] simulated = true")
        if not isinstance(sim, SimTreadmillWorld):
            raise ValueError("[treadmill] simulated = true needs a world with a treadmill")
        url = sim.treadmill.port
        write_timeout_s = None
    try:
        return open_serial(url, t.baud, write_timeout_s)
    except (serial.SerialException, ValueError) as exc:
        raise HardwareError(f"{settings.path}: [treadmill] port = \"{t.port}\": cannot open: "
                            f"{exc}") from None


def open_pin_factory(settings: cfg.Settings, world: SimWorld | None) -> Any:
    """The ``[gpio]`` pin factory: the world's ``MockFactory`` for ``"mock"`` (claim its pins
    through :meth:`SimWorld.claim_pins`), else the named gpiozero backend.

    Raises:
        HardwareError: the backend cannot start (no GPIO chip, or the backend not installed:
            the message then says how to install it).
    """
    name = settings.gpio.pin_factory
    if name == "mock":
        return _world(world, '[gpio] pin_factory = "mock"').pin_factory
    module_name, class_name = PIN_FACTORIES[name]
    try:
        return getattr(importlib.import_module(module_name), class_name)()
    except Exception as exc:  # gpiozero raises assorted errors when no GPIO chip is present
        # The backend is an optional extra: say how to install it rather than leave a bare
        # "No module named 'lgpio'" (a Pi 5 has no other working backend).
        hint = ("; install the Pi extra: .venv/bin/pip install 'treadguard[pi]' (or "
                "apt install python3-lgpio)"
                if isinstance(exc, ModuleNotFoundError) and exc.name == "lgpio" else "")
        raise HardwareError(f"{settings.path}: [gpio] pin_factory = \"{name}\": cannot start "
                            f"({type(exc).__name__}: {exc}){hint}") from None


def _world(world: SimWorld | None, option: str) -> SimWorld:
    """The simulated world a simulated part comes from (a caller's bug if there is none)."""
    if world is None:
        raise ValueError(f"{option}: the simulated part needs a simulated world")
    return world
