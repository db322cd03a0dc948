"""Stopping the whole platform: `python3 scripts/bootstrap.py stop`.

The hub leaves users' servers running when it stops (hub/jupyterhub_config.py,
``cleanup_servers``), so a restart or an upgrade of the hub ends nobody's work. Stopping
everything is therefore three steps, in this order:

1. stop the hub, so it starts nothing and records nothing while servers go away;
2. stop and remove every user's server of this installation (found by the user-prefix
   label the hub puts on them; their home volumes stay);
3. ``docker compose down``: the databases, then the network, which nothing uses now.

The next ``docker compose up -d`` starts from a clean state: the hub finds every user's
server gone and shows them as stopped.
"""

import argparse
import sys
import time

from . import hostchecks
from .compose import ComposeProject
from .console import UserError, format_duration, progress, run, setup_logging
from .operator import add_installation_arguments, read_settings, user_servers


def stop_platform(project, user_prefix, timeout=60, volumes=False, remove_policy=False,
                  stream=None):
    """Stop the hub, then users' servers, then the rest of ``project``.

    ``volumes``: also remove the stack's own volumes (``down --volumes``); users' home
    volumes are never removed here. ``remove_policy``: also take the network policy's
    rules away (they stay otherwise: harmless while no user's server runs, and in place
    again before the next one starts). Returns the names of the users' servers it stopped.
    """
    stream = stream or sys.stdout
    steps = 4 if remove_policy else 3
    with progress(1, steps, "Stopping the hub", stream) as status:
        states = project.services()
        if "hub" in states and states["hub"].running:
            project.run("stop", "--timeout", str(timeout), "hub", timeout=timeout + 60)
        else:
            status.text = "not running"
    with progress(2, steps, "Stopping users' servers", stream) as status:
        names = user_servers(user_prefix)
        if names:
            # `docker stop` sends SIGTERM and waits: kernels get to exit cleanly. A server
            # the hub was removing as it stopped (a failed spawn, say) may be gone or going
            # by now, so failures here count only if its container stays.
            run(["docker", "stop", "--time", str(timeout), *names], timeout=timeout + 120,
                check=False)
            run(["docker", "rm", "--force", *names], timeout=120, check=False)
            remove_leftovers(user_prefix)
            status.text = f"{len(names)} stopped"
        else:
            status.text = "none running"
    if remove_policy:
        with progress(3, steps, "Removing the network policy's rules", stream):
            # The service first, so nothing puts the rules back; before `down`, because
            # `compose run` would create the project's network and volumes again.
            project.run("stop", "netpolicy", timeout=120)
            project.run("run", "--rm", "--no-deps", "netpolicy", "python3", "-m",
                        "edahub_core.netpolicy", "remove", timeout=300)
    with progress(steps, steps, "Stopping the databases and removing the network", stream):
        args = ["down", "--timeout", str(timeout)] + (["--volumes"] if volumes else [])
        project.run(*args, timeout=timeout + 300)
    return names


def remove_leftovers(user_prefix, attempts=10, pause=2.0):
    """Remove users' containers still there; UserError naming any that stay."""
    left = user_servers(user_prefix)
    for _ in range(attempts):
        if not left:
            return
        time.sleep(pause)  # a removal the engine has in progress
        run(["docker", "rm", "--force", *left], timeout=120, check=False)
        left = user_servers(user_prefix)
    if left:
        raise UserError(f"users' containers could not be removed: {', '.join(left)}",
                        f"docker rm --force {' '.join(left)} (docker's own message says why)")


def main(argv=None):
    """Command line of `bootstrap.py stop`."""
    parser = argparse.ArgumentParser(
        prog="bootstrap.py stop",
        description="Stop the whole platform: the hub, every user's server (their files "
        "stay in their home volumes), then the databases and the network. Start again with "
        "`docker compose up -d`. To restart or upgrade the hub alone, without stopping "
        "anyone's server, use `docker compose up -d` or `docker compose restart hub`.")
    add_installation_arguments(parser)
    parser.add_argument("--remove-network-policy", action="store_true",
                        help="also remove the iptables rules that fence users' servers in "
                        "(when uninstalling; `docker compose up` puts them back)")
    parser.add_argument("--timeout", type=int, default=60,
                        help="seconds each container gets to stop before it is killed "
                        "(default: 60)")
    args = parser.parse_args(argv)
    setup_logging(None)
    started = time.monotonic()
    try:
        settings = read_settings(args.env_file, ["EDAHUB_USER_PREFIX"])
        hostchecks.check_docker_engine()
        project = ComposeProject(args.env_file.resolve(), args.project_name)
        names = stop_platform(project, settings.user_prefix, timeout=args.timeout,
                              remove_policy=args.remove_network_policy)
    except UserError as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return 1
    print(f"edahub stopped ({len(names)} users' servers; "
          f"{format_duration(time.monotonic() - started)}). Start it with `docker compose up -d`.")
    return 0
