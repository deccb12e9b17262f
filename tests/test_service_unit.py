"""systemd/treadguard.service: what it promises (restart only into the latched state, a stop
timeout longer than the hardest controlled stop, outputs made safe after any exit, the device
list), and what systemd's own tools say about the unit installed in a scratch root: ``verify``
prints nothing, ``security --offline=true`` rates the exposure at 3.0 or lower.

systemd-analyze is required, never skipped: make test installs it (scripts/install-test-deps.sh,
Debian package systemd)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from controller.app import SHUTDOWN_FLUSH_S, SHUTDOWN_MARGIN_S
from controller.options import option
from controller.settings import HARD_MAX_SPEED_KMH, LimitsSettings
from controller.supervisor import STOP_MARGIN_S

REPO = Path(__file__).resolve().parent.parent
UNIT = REPO / "systemd" / "treadguard.service"
MAX_EXPOSURE = 3.0


def directives(path: Path = UNIT) -> dict[str, list[str]]:
    """{key: [values in order]} of every ``Key=value`` line."""
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def one(key: str) -> str:
    values = directives()[key]
    assert len(values) == 1, key
    return values[0]


def analyze() -> str:
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze is missing: run scripts/install-test-deps.sh (make test does)"
    return tool


@pytest.fixture(scope="module")
def scratch_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """install.sh --no-venv into a scratch root, plus stand-ins for the two programs the unit
    runs (the scratch root has no venv and no /bin/kill; verify checks they are executable)."""
    root = tmp_path_factory.mktemp("root")
    subprocess.run(["bash", str(REPO / "install.sh"), "--root", str(root), "--no-venv"],
                   check=True, capture_output=True)
    for program in ("opt/treadguard/.venv/bin/treadguard", "bin/kill"):
        stub = root / program
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text("#!/bin/sh\n")
        stub.chmod(0o755)
    return root


def test_verify_on_the_installed_unit_prints_nothing(scratch_root: Path) -> None:
    done = subprocess.run([analyze(), "verify", f"--root={scratch_root}",
                           "--recursive-errors=no", "--man=no",
                           "/etc/systemd/system/treadguard.service"],
                          capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_verify_catches_a_broken_unit(scratch_root: Path, tmp_path: Path) -> None:
    """The check above can fail: a misspelt directive is reported."""
    broken = tmp_path / "root"
    shutil.copytree(scratch_root, broken, symlinks=True)
    unit = broken / "etc/systemd/system/treadguard.service"
    unit.write_text(unit.read_text().replace("DevicePolicy=", "DevicePolicey="))
    done = subprocess.run([analyze(), "verify", f"--root={broken}", "--recursive-errors=no",
                           "--man=no", "/etc/systemd/system/treadguard.service"],
                          capture_output=True, text=True, check=False)
    assert "DevicePolicey" in done.stderr


def exposure(root: Path) -> float:
    done = subprocess.run([analyze(), "security", "--offline=true", f"--root={root}",
                           "--no-pager", "treadguard.service"],
                          capture_output=True, text=True, check=False)
    found = re.search(r"Overall exposure level for treadguard\.service: (\d+\.\d)", done.stdout)
    assert found, done.stdout + done.stderr
    return float(found.group(1))


def test_security_exposure_is_at_most_3(scratch_root: Path) -> None:
    score = exposure(scratch_root)
    print(f"systemd-analyze security --offline=true: overall exposure {score}")
    assert score <= MAX_EXPOSURE


def test_the_fleet_drop_in_keeps_exposure_low(scratch_root: Path, tmp_path: Path) -> None:
    """docs/install.md's drop-in for a fleet link (IP) stays under the bound too."""
    root = tmp_path / "root"
    shutil.copytree(scratch_root, root, symlinks=True)
    drop_in = root / "etc/systemd/system/treadguard.service.d/fleet.conf"
    drop_in.parent.mkdir(parents=True)
    drop_in.write_text((REPO / "systemd/fleet-link.conf").read_text())
    assert exposure(scratch_root) < exposure(root) <= MAX_EXPOSURE


def test_restarts_only_on_failure_and_not_forever() -> None:
    assert one("Restart") == "on-failure"
    assert one("Type") == "notify" and float(one("WatchdogSec")) > 0
    assert 1 <= int(one("StartLimitBurst")) <= 5 and int(one("StartLimitIntervalSec")) > 0


def test_stop_timeout_covers_a_controlled_stop_from_the_hardest_cap() -> None:
    """The longest controlled stop: from HARD_MAX_SPEED_KMH at the slowest deceleration the
    settings allow, plus the supervisor's and the shutdown's margins (5.4 + 0.6 s)."""
    slowest = option(LimitsSettings, "stop_decel_mps2").spec.min
    assert slowest is not None
    longest_s = (HARD_MAX_SPEED_KMH / 3.6 / slowest + STOP_MARGIN_S + SHUTDOWN_MARGIN_S
                 + SHUTDOWN_FLUSH_S)
    assert longest_s == pytest.approx(6.04, abs=0.01)
    assert float(one("TimeoutStopSec")) >= 2 * longest_s


def test_outputs_are_made_safe_after_any_exit() -> None:
    start = one("ExecStart")
    config = start.split("--config ", 1)[1]
    assert one("ExecStopPost") == start.split(" run ")[0] + f" safe-outputs --config {config}"


def test_only_the_buses_pins_and_serial_ports_are_reachable() -> None:
    d = directives()
    assert one("DevicePolicy") == "closed"
    assert sorted(d["DeviceAllow"]) == sorted(
        f"char-{name} rw" for name in ("i2c", "gpiochip", "ttyAMA", "ttyUSB", "ttyACM"))
    assert one("RestrictAddressFamilies") == "AF_UNIX" and one("PrivateNetwork") == "yes"
    assert one("UMask") == "0077" and one("NoNewPrivileges") == "yes"
    assert one("ProtectSystem") == "strict" and one("CPUSchedulingPolicy") == "fifo"
    for key in ("StateDirectory", "RuntimeDirectory", "ConfigurationDirectory"):
        assert one(key) == "treadguard"
