"""``treadguard fleet-broker-config``: mosquitto's configuration and ACL for one gym.

Writes ``treadguard.conf`` (a file for ``/etc/mosquitto/conf.d/``: no anonymous clients, the
password file, the ACL file, a TLS listener) and ``treadguard.acl`` — each Pi (``pi-<treadmill>``)
writes only its own treadmill's four topics and reads only its own ``cmd/``; each supervisor
reads everything and writes only its own ``cmd/stop/<user>``; each read-only user reads
everything and writes nothing — and prints the ``mosquitto_passwd`` commands that create the
users (``docs/fleet.md``, "Setting up mosquitto for a gym").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Final

from controller.config import ConfigError
from controller.fleet import topics

PI_LEAVES: Final = (topics.ONLINE, topics.STATUS, topics.EVENTS, topics.SESSION)
CONF_NAME: Final = "treadguard.conf"
ACL_NAME: Final = "treadguard.acl"
PASSWD_NAME: Final = "treadguard.passwd"


def register(sub: Any) -> None:
    p = sub.add_parser("fleet-broker-config",
                       help="write mosquitto's configuration and ACL for a gym's treadmills")
    p.add_argument("--site", required=True, help="the site's topic level")
    p.add_argument("--treadmills", required=True, metavar="TM1,TM2,...",
                   help="the treadmills' names (each Pi's broker user is PREFIX + name)")
    p.add_argument("--supervisors", default="", metavar="USER,...",
                   help="broker users who may see everything and send stop")
    p.add_argument("--readers", default="", metavar="USER,...",
                   help="broker users who may only see (a read-only dashboard)")
    p.add_argument("--pi-prefix", default="pi-", help="Pi users are PREFIX + treadmill "
                                                      "(default pi-)")
    p.add_argument("--out", required=True, metavar="DIR", help="where to write the files")
    p.add_argument("--etc", default="/etc/mosquitto", metavar="DIR",
                   help="where the files will live on the broker (default /etc/mosquitto)")
    p.add_argument("--port", type=int, default=8883, help="the TLS listener's port (8883)")
    p.add_argument("--certfile", default="/etc/mosquitto/certs/broker.crt")
    p.add_argument("--keyfile", default="/etc/mosquitto/certs/broker.key")
    p.add_argument("--cafile", default="/etc/mosquitto/certs/gym-ca.pem")
    p.add_argument("--require-certificate", action="store_true",
                   help="clients must present a certificate signed by --cafile")
    p.add_argument("--plain-listener", default=None, metavar="HOST:PORT",
                   help="a listener without TLS instead (a test on loopback only)")
    p.set_defaults(func=cmd_broker_config)


def names(option: str, text: str) -> list[str]:
    """The comma-separated names of ``option``, each a valid topic level."""
    out = [n.strip() for n in text.split(",") if n.strip()]
    for name in out:
        problem = topics.name_problem(option, name)
        if problem is not None:
            raise ConfigError(problem)
    return out


def acl_text(site: str, treadmills: list[str], supervisors: list[str], readers: list[str],
             pi_prefix: str = "pi-") -> str:
    """The ACL file (mosquitto's ``acl_file`` format)."""
    lines = [f"# treadguard: site {site} (written by treadguard fleet-broker-config)", ""]
    for tm in treadmills:
        base = topics.base(site, tm)
        lines += [f"user {pi_prefix}{tm}"]
        lines += [f"topic write {base}/{leaf}" for leaf in PI_LEAVES]
        lines += [f"topic read {base}/cmd/#", ""]
    for user in supervisors:
        lines += [f"user {user}", f"topic read {topics.ROOT}/{site}/#",
                  f"topic write {topics.ROOT}/{site}/+/{topics.CMD_STOP}/{user}", ""]
    for user in readers:
        lines += [f"user {user}", f"topic read {topics.ROOT}/{site}/#", ""]
    return "\n".join(lines)


def conf_text(etc: str, listener: str, tls: dict[str, str] | None,
              require_certificate: bool) -> str:
    """The configuration file (for ``conf.d``)."""
    lines = ["# treadguard (written by treadguard fleet-broker-config)",
             "per_listener_settings false", "allow_anonymous false",
             f"password_file {etc}/{PASSWD_NAME}", f"acl_file {etc}/{ACL_NAME}",
             "max_queued_messages 1000", "", listener]
    if tls is not None:
        lines += [f"certfile {tls['certfile']}", f"keyfile {tls['keyfile']}",
                  f"cafile {tls['cafile']}", "tls_version tlsv1.2"]
        if require_certificate:
            lines += ["require_certificate true"]
    return "\n".join(lines) + "\n"


def cmd_broker_config(args: argparse.Namespace) -> int:
    site = names("--site", args.site)
    if len(site) != 1:
        raise ConfigError("--site: expected one name")
    treadmills = names("--treadmills", args.treadmills)
    supervisors = names("--supervisors", args.supervisors)
    readers = names("--readers", args.readers)
    if not treadmills:
        raise ConfigError("--treadmills: expected at least one name")
    pis = [args.pi_prefix + tm for tm in treadmills]
    names("--pi-prefix", pis[0])
    users = pis + supervisors + readers
    twice = sorted({u for u in users if users.count(u) > 1})
    if twice:
        raise ConfigError(f"broker user {twice[0]!r} named twice (one role per user)")
    if args.plain_listener:
        host, _, port = args.plain_listener.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"--plain-listener: expected HOST:PORT, got "
                              f"{args.plain_listener!r}")
        listener, tls = f"listener {port} {host}", None
    else:
        listener = f"listener {args.port}"
        tls = {"certfile": args.certfile, "keyfile": args.keyfile, "cafile": args.cafile}
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / ACL_NAME).write_text(acl_text(site[0], treadmills, supervisors, readers,
                                             args.pi_prefix), encoding="utf-8")
        (out / CONF_NAME).write_text(conf_text(args.etc, listener, tls,
                                               args.require_certificate), encoding="utf-8")
    except OSError as exc:
        print(f"treadguard: {out}: cannot write: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out / CONF_NAME} (to {args.etc}/conf.d/) and {out / ACL_NAME} "
          f"(to {args.etc}/); then create the users, one password each:")
    passwd = f"{args.etc}/{PASSWD_NAME}"
    for i, user in enumerate(users):
        print(f"  sudo mosquitto_passwd {'-c ' if i == 0 else ''}{passwd} {user}")
    print("and give each Pi its password in [fleet] password_file (mode 0600); then "
          "`sudo systemctl restart mosquitto`")
    return 0
