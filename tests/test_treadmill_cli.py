"""``treadguard treadmill-test``, ``sim-treadmill`` and ``bench-link``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from controller import link_bench
from controller.cli import main
from controller.link_bench import bench_simulated
from controller.treadmill_cli import FAULTS
from hardware.sim.treadmill_model import TreadmillFault, TreadmillModel

from .conftest import ROOT


def test_help_lists_the_link_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("treadmill-test", "sim-treadmill", "bench-link"):
        assert command in out


@pytest.mark.parametrize(("units", "stop_mode"), [("mph", "A2"), ("kmh", "AA")])
def test_treadmill_test_against_the_simulated_treadmill(
        capsys: pytest.CaptureFixture[str], units: str, stop_mode: str) -> None:
    code = main(["treadmill-test", "--simulated", "--units", units, "--stop-mode", stop_mode,
                 "--speed-kmh", "1.0", "--hold-s", "0.5"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["result"] == "ok" and summary["fault"] is None
    assert summary["bytes_sent"] > 0 and summary["bytes_received"] > 0
    assert {"A0", stop_mode, "A3", "C0", "C1"} <= set(summary["round_trip"])
    # 1.0 km/h is 0.6 mph (0.97 km/h) on an mph unit.
    assert summary["max_speed_read_kmh"] == pytest.approx(1.0, abs=0.05)
    assert summary["speeds_read_kmh"][-1][1] == 0.0
    assert captured.err == ""


def test_treadmill_test_fault_sends_stop_and_exits_non_zero(
        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["treadmill-test", "--simulated", "--sim-fault", "silent", "--units", "kmh",
                 "--hold-s", "0.2"])
    captured = capsys.readouterr()
    assert code == 1
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "no acknowledgement" in lines[0] and "stop sent" in lines[0]


def test_treadmill_test_missing_port_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["treadmill-test", "--port", "/dev/does-not-exist", "--units", "kmh"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "cannot open /dev/does-not-exist" in err[0]


def _start_realtime_sim(*extra: str) -> tuple[subprocess.Popen[str], str]:
    """``treadguard sim-treadmill --pty``: the simulated treadmill in real time on a pty."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller.cli", "sim-treadmill", "--pty", "--units", "kmh",
         *extra], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    path = proc.stdout.readline().strip()
    assert path.startswith("/dev/")
    return proc, path


@pytest.fixture
def realtime_sim_pty() -> Iterator[str]:
    proc, path = _start_realtime_sim()
    try:
        yield path
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_treadmill_test_in_real_time_sees_an_injected_fault(
        capsys: pytest.CaptureFixture[str]) -> None:
    proc, path = _start_realtime_sim("--fault", "silent", "--fault-after-s", "1.0")
    try:
        code = main(["treadmill-test", "--port", path, "--units", "kmh", "--speed-kmh", "0.5",
                     "--hold-s", "3"])
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "no acknowledgement" in err[0]


def test_treadmill_test_in_real_time_over_a_pty(realtime_sim_pty: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """What a person runs at the bench, with the simulated treadmill in the treadmill's place
    (real clock; about 1.5 s)."""
    code = main(["treadmill-test", "--port", realtime_sim_pty, "--units", "kmh",
                 "--speed-kmh", "0.5", "--hold-s", "0.2"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["result"] == "ok"
    c1 = summary["round_trip"]["C1"]
    assert 12.0 <= c1["median_ms"] <= 40.0  # 6 bytes at 4800 baud = 12.5 ms, plus scheduling


def test_bench_simulated_figures_are_sane() -> None:
    figures = bench_simulated("kmh", 4800, hold_s=1.0, cycles=3)
    assert figures["speed_reads_per_s"] >= 9.5
    assert figures["max_gap_between_host_commands_ms"] <= 100.0
    assert figures["stop_request_to_stop_byte"]["max_ms"] <= 14.0
    assert figures["round_trip_sim"]["C1"]["median_ms"] == pytest.approx(13.0, abs=0.6)


def test_treadmill_test_refuses_a_belt_that_is_already_moving() -> None:
    from controller.treadmill_bench import BenchError, SimRig, treadmill_test

    with SimRig(units="kmh", tick_s=0.001) as rig:
        rig.treadmill.inject("runaway", kmh=1.0)  # someone left it running
        rig.clock.advance_s(1.0)
        rig.treadmill.sync(1.0, 0, True)
        with pytest.raises(BenchError, match="moving"):
            treadmill_test(rig.link, rig.clock, rig.tick, 1.0, 0.2)
        assert 0xA0 not in {b for _, who, b in rig.treadmill.wire_log() if who == "host"}
        assert rig.treadmill.wire_log()[0][2] == 0xA2  # the stop went out first


def test_sim_treadmill_answers_on_a_serial_port_url() -> None:
    """``treadguard sim-treadmill --port URL``: the real-time treadmill on a port it opens by
    URL (here the far end of a pty pair, as a null-modem cable would be)."""
    import os
    import select
    import tty

    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller.cli", "sim-treadmill", "--port", os.ttyname(slave),
         "--units", "kmh"], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        assert "simulated kmh treadmill" in proc.stderr.readline()
        os.write(master, b"\xc0")
        reply = b""
        while len(reply) < 2 and select.select([master], [], [], 5.0)[0]:
            reply += os.read(master, 16)
        assert reply == b"\xd0\x31"  # status: stopped
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        os.close(master)
        os.close(slave)


def one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run ``treadguard argv``: it must fail with exactly one line on stderr, no traceback."""
    code = main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code != 0
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["treadmill-test", "--simulated", "--units", "kmh", "--hold-s", "-5"],
         "treadmill-test: --hold-s must be a finite number ≥ 0, got -5"),
        (["treadmill-test", "--simulated", "--units", "kmh", "--hold-s", "nan"],
         "treadmill-test: --hold-s must be a finite number ≥ 0, got nan"),
        (["treadmill-test", "--simulated", "--units", "kmh", "--baud", "0"],
         "treadmill-test: --baud must be one of 1200, 2400, 4800, 9600, 19200, 38400, got 0"),
        (["sim-treadmill", "--pty", "--units", "kmh", "--fault", "silent",
          "--fault-after-s", "-1"], "sim-treadmill: --fault-after-s must be a finite number ≥ 0"),
        (["sim-treadmill", "--pty", "--units", "kmh", "--fault-after-s", "inf"],
         "sim-treadmill: --fault-after-s must be a finite number ≥ 0, got inf"),
        (["sim-treadmill", "--pty", "--units", "kmh", "--baud", "-9600"],
         "sim-treadmill: --baud must be one of"),
        (["bench-link", "--no-realtime", "--hold-s", "0"],
         "bench-link: --hold-s must be a finite number > 0, got 0"),
        (["bench-link", "--no-realtime", "--hold-s=-inf"],
         "bench-link: --hold-s must be a finite number > 0, got -inf"),
        (["bench-link", "--no-realtime", "--stop-cycles", "0"],
         "bench-link: --stop-cycles must be a finite number > 0, got 0"),
    ],
)
def test_bad_numeric_options_are_one_line_errors(capsys: pytest.CaptureFixture[str],
                                                 argv: list[str], expected: str) -> None:
    assert expected in one_line_error(capsys, argv)


def test_sim_treadmill_missing_port_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_error(capsys, ["sim-treadmill", "--port", "/dev/does-not-exist",
                                   "--units", "kmh"])
    assert line.startswith("treadguard sim-treadmill: cannot open /dev/does-not-exist")


def test_bench_link_names_the_link_fault(capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The real-time simulated treadmill falls silent 0.3 s in: the link faults during the
    real-time run. One line naming the fault, exit 1 (it used to crash in ``max()``)."""
    def silent_sim(units: str, baud: int) -> tuple[subprocess.Popen[str], str]:
        return _start_realtime_sim("--fault", "silent", "--fault-after-s", "0.3")

    monkeypatch.setattr(link_bench, "start_realtime_sim", silent_sim)
    line = one_line_error(capsys, ["bench-link", "--hold-s", "0.2", "--stop-cycles", "1"])
    assert line.startswith("treadguard bench-link: real-time run (1 ms steps): treadmill link "
                           "fault: no acknowledgement of"), line


def test_bench_link_reports_a_slow_treadmills_stop_latency(
        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench-link", "--no-realtime", "--hold-s", "0.5", "--stop-cycles", "4",
                 "--reply-delay-s", "0.22", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    [slow] = json.loads(captured.out)["simulated_slow_treadmill"]
    assert slow["reply_delay_s"] == 0.22 and slow["stop_request_to_stop_byte"]["n"] == 4
    assert slow["stop_request_to_stop_byte"]["max_ms"] <= slow["budget_ms"] == 17.5


def test_bench_link_prints_a_table_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench-link", "--no-realtime", "--hold-s", "0.3", "--stop-cycles", "2",
                 "--reply-delay-s", "0.08"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.splitlines()
    assert lines[0].split() == ["figure", "value"]
    cells = dict(line.split(None, 1) for line in lines[2:])
    assert cells["simulated_slow_treadmill[0].reply_delay_s"] == "0.08"
    assert cells["simulated_slow_treadmill[0].budget_ms"] == "17.5"
    assert cells["simulated.stop_request_to_stop_byte.n"] == "2"


def test_bench_link_with_a_reply_later_than_the_ack_timeout_is_one_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_error(capsys, ["bench-link", "--no-realtime", "--hold-s", "0.2",
                                   "--stop-cycles", "1", "--reply-delay-s", "0.3"])
    assert line.startswith("treadguard bench-link: reply delay 0.3 s: treadmill link fault: "
                           "no acknowledgement of"), line


@pytest.mark.parametrize("fault", [f for f in TreadmillFault
                                   if f not in (TreadmillFault.UNPLUG, TreadmillFault.CLEAR)])
def test_every_named_fault_is_one_the_model_takes_and_the_command_line_offers(
        fault: TreadmillFault) -> None:
    """One list of fault names: the command line's choices and the model's inject() agree."""
    TreadmillModel(units="kmh").inject(fault)
    assert fault in FAULTS


def test_sim_faults_meet_a_belt_at_speed_and_each_has_its_own_outcome(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Injected as the hold begins (not at the start command): silent, lossy, slow and
    power-cycled treadmills each end with their own line, and every one with the stop sent."""
    lines = {}
    for fault in ("silent", "drop", "delay_s", "power_cycle"):
        code = main(["treadmill-test", "--simulated", "--sim-fault", fault, "--units", "kmh",
                     "--hold-s", "1"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 1 and len(err) == 1 and "stop sent" in err[0]
        assert err[0].startswith("treadguard treadmill-test: hold: ")  # at speed, not at A0
        lines[fault] = err[0]
    assert len(set(lines.values())) == 4
    assert "no byte from the treadmill" in lines["silent"]
    assert "bad reply" in lines["drop"]
    assert "answered again 0.2" in lines["delay_s"]
    assert "answered again 0.9" in lines["power_cycle"]


def test_sim_treadmill_unplug_closes_the_port() -> None:
    import os
    import select

    proc, path = _start_realtime_sim("--fault", "unplug", "--fault-after-s", "0.3")
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        try:
            gone = False
            for _ in range(40):  # up to 2 s of real time for the 0.3 s fault
                select.select([fd], [], [], 0.05)
                try:
                    if os.read(fd, 64) == b"":
                        gone = True
                except OSError:  # EIO: the other end of the pty is closed
                    gone = True
                if gone:
                    break
            assert gone
        finally:
            os.close(fd)
        assert proc.wait(timeout=5) == 0  # and the process ended on its own
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
