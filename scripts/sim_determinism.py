"""Run `treadguard sim --fast` N times while busy processes load every core; count distinct
accounts. A simulated session must give a byte-identical account on any machine, under any load.

    .venv/bin/python scripts/sim_determinism.py [--runs 20] [--scenario walk] [--load N]
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUSY = "while True: pass"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--scenario", default="walk")
    parser.add_argument("--config", default=str(ROOT / "examples" / "sim.toml"))
    parser.add_argument("--load", type=int, default=os.cpu_count() or 2,
                        help="busy processes beside the runs (default: one per core)")
    args = parser.parse_args()
    hogs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(args.load)]
    accounts: collections.Counter[str] = collections.Counter()
    codes: collections.Counter[int] = collections.Counter()
    first: dict[str, str] = {}
    started = time.monotonic()
    try:
        for _ in range(args.runs):
            result = subprocess.run(
                [sys.executable, "-m", "controller.cli", "sim", "--fast", "--scenario",
                 args.scenario, "--config", args.config],
                cwd=ROOT, capture_output=True, text=True, check=False)
            digest = hashlib.sha256(result.stdout.encode()).hexdigest()[:12]
            accounts[digest] += 1
            codes[result.returncode] += 1
            first.setdefault(digest, result.stdout)
    finally:
        for hog in hogs:
            hog.kill()
    elapsed = time.monotonic() - started
    print(f"{args.runs} runs of sim --fast --scenario {args.scenario} beside {args.load} busy "
          f"processes in {elapsed:.0f} s: {len(accounts)} distinct account(s) "
          f"{dict(accounts)}, exit codes {dict(codes)}")
    if len(accounts) > 1:
        for digest, text in first.items():
            print(f"--- {digest}\n{text}")
    return 0 if len(accounts) == 1 and set(codes) == {0} else 1


if __name__ == "__main__":
    sys.exit(main())
