"""The simulated bus offers every smbus2.SMBus call, with smbus2's signatures and errors.

A driver written for ``smbus2.SMBus`` must run unchanged on :class:`SimBus`; each test below
exercises one smbus2 method on a plain auto-incrementing register device and checks the bytes
the device saw and the value the call returned.
"""

from __future__ import annotations

import errno
import inspect

import pytest
import smbus2

from hardware.sim.bus import SimBus, crc8

ADDR = 0x40


class Registers:
    """256 plain registers behind an auto-incrementing pointer; records every message."""

    def __init__(self) -> None:
        self.regs = bytearray(range(256))
        self.pointer = 0
        self.log: list[tuple[str, bytes]] = []

    def write(self, data: bytes) -> None:
        self.log.append(("w", bytes(data)))
        if not data:
            return
        self.pointer = data[0]
        for value in data[1:]:
            self.regs[self.pointer] = value
            self.pointer = (self.pointer + 1) & 0xFF

    def read(self, length: int) -> bytes:
        out = bytearray()
        for _ in range(length):
            out.append(self.regs[self.pointer])
            self.pointer = (self.pointer + 1) & 0xFF
        self.log.append(("r", bytes(out)))
        return bytes(out)


@pytest.fixture
def wired() -> tuple[SimBus, Registers]:
    bus = SimBus()
    dev = Registers()
    bus.attach(ADDR, dev)
    return bus, dev


def test_every_smbus2_method_exists_with_the_same_parameters() -> None:
    for name, member in inspect.getmembers(smbus2.SMBus, inspect.isfunction):
        if name.startswith("_") and name not in ("__enter__", "__exit__"):
            continue
        ours = getattr(SimBus, name, None)
        assert ours is not None, f"SimBus lacks smbus2.SMBus.{name}"
        theirs = list(inspect.signature(member).parameters)
        mine = list(inspect.signature(ours).parameters)
        if name == "__exit__":
            continue  # (exc_type, exc_val, exc_tb) taken as *exc
        assert mine == theirs, f"{name}: {mine} != smbus2's {theirs}"
    for attribute in ("fd", "funcs", "address", "force", "pec"):
        assert hasattr(SimBus(), attribute)


def test_write_quick_probes_presence(wired: tuple[SimBus, Registers]) -> None:
    bus, dev = wired
    bus.write_quick(ADDR)
    assert dev.log == []  # address only: no byte reaches the registers
    with pytest.raises(OSError) as err:
        bus.write_quick(0x41)
    assert err.value.errno == errno.EREMOTEIO


def test_read_byte_reads_from_the_current_pointer(wired: tuple[SimBus, Registers]) -> None:
    bus, dev = wired
    dev.pointer = 0x10
    assert bus.read_byte(ADDR) == 0x10
    assert bus.read_byte(ADDR) == 0x11  # the pointer moved on


def test_write_byte_sets_the_pointer(wired: tuple[SimBus, Registers]) -> None:
    bus, dev = wired
    bus.write_byte(ADDR, 0x20)
    assert dev.pointer == 0x20 and dev.log == [("w", b"\x20")]
    assert bus.read_byte(ADDR) == 0x20


def test_byte_data(wired: tuple[SimBus, Registers]) -> None:
    bus, dev = wired
    bus.write_byte_data(ADDR, 0x05, 0xAB)
    assert dev.regs[5] == 0xAB
    assert bus.read_byte_data(ADDR, 0x05) == 0xAB
    bus.write_byte_data(ADDR, 0x06, 0x1FF)  # ctypes keeps the low byte, as smbus2 does
    assert dev.regs[6] == 0xFF


def test_word_data_is_low_byte_first(wired: tuple[SimBus, Registers]) -> None:
    bus, dev = wired
    bus.write_word_data(ADDR, 0x30, 0x1234)
    assert dev.regs[0x30:0x32] == b"\x34\x12"
    assert bus.read_word_data(ADDR, 0x30) == 0x1234


def test_process_call_writes_then_reads_a_word(wired: tuple[SimBus, Registers]) -> None:
    bus, dev = wired
    got = bus.process_call(ADDR, 0x50, 0xBEEF)
    assert dev.regs[0x50:0x52] == b"\xef\xbe"
    assert got == 0x5352  # the two registers after the written ones, low byte first
    assert dev.log == [("w", b"\x50\xef\xbe"), ("r", b"\x52\x53")]


def test_block_data_carries_a_count(wired: tuple[SimBus, Registers]) -> None:
    bus, dev = wired
    bus.write_block_data(ADDR, 0x60, [1, 2, 3])
    assert dev.log[-1] == ("w", b"\x60\x03\x01\x02\x03")
    dev.regs[0x70] = 3  # a device answering a block read sends its count first
    assert bus.read_block_data(ADDR, 0x70) == [0x71, 0x72, 0x73]
    with pytest.raises(ValueError, match="cannot exceed 32"):
        bus.write_block_data(ADDR, 0x60, [0] * 33)


def test_block_read_count_over_32_is_a_protocol_error(wired: tuple[SimBus, Registers]) -> None:
    bus, dev = wired
    dev.regs[0x70] = 33
    with pytest.raises(OSError) as err:
        bus.read_block_data(ADDR, 0x70)
    assert err.value.errno == errno.EPROTO


def test_block_process_call(wired: tuple[SimBus, Registers]) -> None:
    bus, dev = wired
    dev.regs[0x83] = 2  # after writing 0x80 (count) 0x81 0x82, the reply count sits at 0x83
    assert bus.block_process_call(ADDR, 0x80, [9, 8]) == [0x84, 0x85]
    assert dev.regs[0x81:0x83] == b"\x09\x08"
    with pytest.raises(ValueError, match="cannot exceed 32"):
        bus.block_process_call(ADDR, 0x80, [0] * 33)


def test_i2c_block_data_refuses_over_32_bytes(wired: tuple[SimBus, Registers]) -> None:
    bus, dev = wired
    bus.write_i2c_block_data(ADDR, 0x90, list(range(32)))
    assert dev.regs[0x90:0xB0] == bytes(range(32))
    assert bus.read_i2c_block_data(ADDR, 0x90, 32) == list(range(32))
    with pytest.raises(ValueError, match="cannot exceed 32"):
        bus.write_i2c_block_data(ADDR, 0x90, [0] * 33)
    with pytest.raises(ValueError, match="over 32"):
        bus.read_i2c_block_data(ADDR, 0x90, 33)
    assert dev.regs[0x90:0xB0] == bytes(range(32))  # the refused write wrote nothing


def test_i2c_rdwr_combined_transfer(wired: tuple[SimBus, Registers]) -> None:
    bus, _dev = wired
    write = smbus2.i2c_msg.write(ADDR, [0xC0])
    read = smbus2.i2c_msg.read(ADDR, 40)  # no 32-byte limit on plain I²C messages
    bus.i2c_rdwr(write, read)
    assert list(bytes(read)) == list(range(0xC0, 0xE8))
    with pytest.raises(OSError) as err:
        bus.i2c_rdwr(*[smbus2.i2c_msg.write(ADDR, [0])] * 43)
    assert err.value.errno == errno.EINVAL
    with pytest.raises(TypeError):
        bus.i2c_rdwr(b"\x00")  # type: ignore[arg-type]


def test_i2c_rdwr_stops_at_the_first_missing_acknowledge(wired: tuple[SimBus, Registers]) -> None:
    bus, dev = wired
    with pytest.raises(OSError) as err:
        bus.i2c_rdwr(smbus2.i2c_msg.write(0x41, [0]), smbus2.i2c_msg.write(ADDR, [7, 7]))
    assert err.value.errno == errno.EREMOTEIO
    assert dev.log == []


def test_open_close_and_context_manager(wired: tuple[SimBus, Registers]) -> None:
    bus, _dev = wired
    with bus as same:
        assert same is bus
        same.read_byte_data(ADDR, 0)
        selected = bus.address
    assert selected == ADDR
    assert bus.closed and bus.address is None
    with pytest.raises(TypeError):  # smbus2 hands fd None to ioctl
        bus.read_byte_data(ADDR, 0)
    with pytest.raises(TypeError):
        bus.open(1.5)  # type: ignore[arg-type]
    bus.open(1)
    assert bus.read_byte_data(ADDR, 3) == 3


def test_addresses_beyond_7_bits_are_refused(wired: tuple[SimBus, Registers]) -> None:
    bus, _ = wired
    with pytest.raises(OSError) as err:
        bus.read_byte_data(0x80, 0)
    assert err.value.errno == errno.EINVAL


def test_pec_appends_a_crc_the_chip_does_not_understand(wired: tuple[SimBus, Registers]) -> None:
    bus, dev = wired
    assert bus.pec == 0
    bus.pec = 1
    bus.write_byte_data(ADDR, 0x10, 0x55)
    pec = crc8(bytes([ADDR << 1, 0x10, 0x55]))
    assert dev.regs[0x10:0x12] == bytes([0x55, pec])  # the PEC byte lands in the next register
    with pytest.raises(OSError) as err:
        bus.read_byte_data(ADDR, 0x20)  # the "PEC" read is register 0x21: a mismatch
    assert err.value.errno == errno.EBADMSG
    # A device whose next byte happens to be the right CRC passes.
    dev.regs[0x21] = crc8(bytes([ADDR << 1, 0x20, (ADDR << 1) | 1, dev.regs[0x20]]))
    assert bus.read_byte_data(ADDR, 0x20) == dev.regs[0x20]
    bus.close()
    assert bus.pec == 0  # smbus2 forgets PEC on close


def test_crc8_matches_the_smbus_check_value() -> None:
    assert crc8(b"123456789") == 0xF4  # CRC-8/SMBUS catalogue check value
