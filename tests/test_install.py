"""install.sh into a scratch root (``--root DIR --no-venv``): each step's result, a second run
that changes nothing, an edited configuration that survives, uninstall and purge."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
INSTALL = REPO / "install.sh"
STEPS = ["user", "venv", "command", "config", "state", "i2c", "watchdog", "unit", "enable"]


def run(root: Path, *args: str) -> dict[str, str]:
    """Run the installer; {step: what it said}."""
    done = subprocess.run(["bash", str(INSTALL), "--root", str(root), *args],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    lines = [line.split(": ", 1) for line in done.stdout.splitlines()]
    assert all(len(p) == 2 for p in lines), done.stdout
    return {step: text for step, text in lines}


def tree_digest(root: Path) -> str:
    """Every path, its mode, its content or link target."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        h.update(f"{path.relative_to(root)} {st.st_mode:o}\n".encode())
        if path.is_symlink():
            h.update(os.readlink(path).encode())
        elif path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


@pytest.fixture
def installed(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    return tmp_path, run(tmp_path, "--no-venv")


def test_first_run_does_every_step(installed: tuple[Path, dict[str, str]]) -> None:
    root, said = installed
    assert list(said) == STEPS
    assert "unchanged" not in " ".join(said.values())
    passwd = (root / "etc/passwd").read_text().splitlines()
    assert any(p.startswith("treadguard:") and p.endswith(":/usr/sbin/nologin") for p in passwd)
    groups = {g.split(":")[0]: g.split(":")[3].split(",") for g in
              (root / "etc/group").read_text().splitlines()}
    for group in ("gpio", "i2c", "dialout"):
        assert "treadguard" in groups[group]
    assert (root / "etc/treadguard/treadguard.toml").read_bytes() == \
        (REPO / "examples/pi.toml").read_bytes()
    assert (root / "etc/treadguard/treadguard.toml").stat().st_mode & 0o777 == 0o640
    assert (root / "var/lib/treadguard").is_dir()
    boot = (root / "boot/firmware/config.txt").read_text().splitlines()
    assert "dtparam=i2c_arm=on,i2c_arm_baudrate=400000" in boot
    watchdog = (root / "etc/systemd/system.conf.d/treadguard-watchdog.conf").read_text()
    assert "[Manager]" in watchdog and "\nRuntimeWatchdogSec=" in watchdog
    unit = root / "etc/systemd/system/treadguard.service"
    assert unit.read_bytes() == (REPO / "systemd/treadguard.service").read_bytes()
    wants = root / "etc/systemd/system/multi-user.target.wants/treadguard.service"
    assert os.readlink(wants) == "/etc/systemd/system/treadguard.service"
    assert os.readlink(root / "usr/local/bin/treadguard") == \
        "/opt/treadguard/.venv/bin/treadguard"


def test_second_run_changes_nothing(installed: tuple[Path, dict[str, str]]) -> None:
    root, _ = installed
    before = tree_digest(root)
    said = run(root, "--no-venv")
    assert said == {s: ("skipped (--no-venv)" if s == "venv" else "unchanged") for s in STEPS}
    assert tree_digest(root) == before


def test_existing_i2c_lines_are_commented_out_not_doubled(tmp_path: Path) -> None:
    boot = tmp_path / "boot/firmware/config.txt"
    boot.parent.mkdir(parents=True)
    boot.write_text("dtparam=audio=on\ndtparam=i2c_arm=on\n")
    run(tmp_path, "--no-venv")
    lines = boot.read_text().splitlines()
    assert lines[0] == "dtparam=audio=on"
    assert "#treadguard-disabled: dtparam=i2c_arm=on" in lines
    assert lines.count("dtparam=i2c_arm=on,i2c_arm_baudrate=400000") == 1
    assert run(tmp_path, "--no-venv")["i2c"] == "unchanged"


def test_an_edited_configuration_is_never_overwritten(
        installed: tuple[Path, dict[str, str]]) -> None:
    root, _ = installed
    config = root / "etc/treadguard/treadguard.toml"
    edited = config.read_text().replace("max_speed_kmh = 3.0", "max_speed_kmh = 2.0")
    config.write_text(edited)
    for args in (("--no-venv",), ("--no-venv", "--upgrade"),
                 ("--no-venv", "--example", "pi-relay-only")):
        assert "kept" in run(root, *args)["config"] or "edited" in run(root, *args)["config"]
        assert config.read_text() == edited
    said = run(root, "--uninstall")
    assert "kept" in said["config"] and config.read_text() == edited


def test_an_unedited_configuration_follows_the_example(
        installed: tuple[Path, dict[str, str]]) -> None:
    root, _ = installed
    said = run(root, "--no-venv", "--example", "pi-relay-only")
    assert said["config"].startswith("updated")
    assert (root / "etc/treadguard/treadguard.toml").read_bytes() == \
        (REPO / "examples/pi-relay-only.toml").read_bytes()


def test_uninstall_keeps_runner_data_and_purge_removes_it(
        installed: tuple[Path, dict[str, str]]) -> None:
    root, _ = installed
    runners = root / "var/lib/treadguard/runners.sqlite"
    runners.write_bytes(b"runner data")
    said = run(root, "--uninstall")
    assert said["state"].startswith("kept") and runners.read_bytes() == b"runner data"
    for gone in ("etc/systemd/system/treadguard.service", "usr/local/bin/treadguard",
                 "etc/systemd/system/multi-user.target.wants/treadguard.service",
                 "etc/systemd/system.conf.d/treadguard-watchdog.conf", "etc/treadguard"):
        assert not (root / gone).exists() and not (root / gone).is_symlink(), gone
    assert "treadguard:" in (root / "etc/passwd").read_text()
    said = run(root, "--uninstall", "--purge")
    assert said["state"].startswith("removed") and not runners.exists()
    assert said["user"] == "removed treadguard"
    assert "treadguard" not in (root / "etc/passwd").read_text()
    assert "treadguard" not in (root / "etc/group").read_text()
    assert (root / "etc/group").read_text().splitlines()[0] == "gpio:x:100:"


def test_bad_options_are_one_line_and_non_zero(tmp_path: Path) -> None:
    for args in (["--frobnicate"], ["--purge"], ["--example", "nope"]):
        done = subprocess.run(["bash", str(INSTALL), "--root", str(tmp_path), *args],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 2 and done.stderr.startswith("install.sh:"), args


def test_on_a_machine_that_is_not_a_pi_it_refuses_before_doing_anything(tmp_path: Path) -> None:
    """Without --root, as root, on something that is not a Raspberry Pi: one line, exit 1,
    nothing created (as a non-root user it refuses earlier, for the same exit)."""
    model = tmp_path / "model"
    model.write_bytes(b"Some Desktop PC\0")
    done = subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True, check=False,
                          env={**os.environ, "TREADGUARD_MODEL_FILE": str(model)})
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("install.sh: ") and done.stderr.count("\n") == 1
    if os.geteuid() == 0:
        assert "is not a Raspberry Pi" in done.stderr
