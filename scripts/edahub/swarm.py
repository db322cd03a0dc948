"""`python3 scripts/bootstrap.py swarm`: edahub on a Docker Swarm (docs/scale-out.md).

    bootstrap.py swarm check     is this swarm ready for edahub? (each problem with its fix)
    bootstrap.py swarm deploy    check, then deploy or upgrade the stack, and wait for it
    bootstrap.py swarm move-home USER NODE
                                 copy USER's home to NODE; their next start runs there
                                 (swarm_homes.py)

Run on a manager, in the installation's folder, with the same .env as on one host (create
it there with `bootstrap.py --dry-run`'s plan, or copy it). `deploy` runs
`docker stack deploy -c compose.swarm.yaml <project>` with .env's values, then waits
until every service runs and the hub answers. Running it again upgrades: Swarm replaces
the services whose image or settings changed; users' servers keep running.
"""

import argparse
import hashlib
import os
import sys
import time

from . import envfile, hostchecks
from .console import UserError, format_duration, progress, run
from .installer import ROOT
from .operator import add_installation_arguments
from edahub_core.names import SWARM_NODE_LABELS
from edahub_core.settings import SettingsError, load_settings

STACK_FILE = ROOT / "compose.swarm.yaml"


def swarm_problems(client, settings):
    """What keeps this engine's swarm from running edahub: (problem, fix) pairs."""
    info = client.info()
    swarm = info.get("Swarm") or {}
    if swarm.get("LocalNodeState") != "active":
        return [("this engine is not part of a swarm",
                 "on the first manager: docker swarm init; on the others: the "
                 "`docker swarm join` command that init prints (docs/scale-out.md)")]
    if not swarm.get("ControlAvailable"):
        return [("this node is a worker; the stack is deployed from a manager",
                 "run this on a manager (docker node ls there lists them)")]
    problems = []
    nodes = client.nodes.list()
    ready = [n for n in nodes if n.attrs["Status"].get("State") == "ready"
             and n.attrs["Spec"].get("Availability") == "active"]
    if not any(n.attrs["Spec"].get("Role") == "worker" for n in ready):
        problems.append(("no worker is ready and active: users' servers run on workers",
                         "join a worker with the command `docker swarm join-token worker` "
                         "prints, or `docker node update --availability active <node>`"))
    for service, label in SWARM_NODE_LABELS.items():
        labelled = [n for n in nodes if n.attrs["Spec"].get("Labels", {}).get(label) == "true"]
        if len(labelled) != 1:
            found = ", ".join(n.attrs["Description"]["Hostname"] for n in labelled) or "none"
            problems.append((f"{service} needs exactly one node labelled {label}=true "
                             f"(found: {found}); its data volume lives there",
                             f"docker node update --label-add {label}=true <node> (and "
                             f"--label-rm on the others)"))
    for image in (settings.hub_image, settings.singleuser_image, settings.mariadb_image,
                  settings.mongodb_image):
        problems += image_problems(client, image)
    if settings.tls_cert or settings.tls_key:
        problems.append(("HTTPS (EDAHUB_TLS_CERT) is not built for a swarm yet",
                         "put a TLS-terminating proxy in front of the swarm's port, and "
                         "empty EDAHUB_TLS_CERT and EDAHUB_TLS_KEY in .env"))
    return problems


def image_problems(client, image):
    """Every node pulls ``image``: it must name a registry that has it."""
    try:
        client.images.get_registry_data(image)
    except Exception as error:  # the SDK raises several kinds; each means "not pullable"
        if "/" not in image:  # Docker Hub's library, or an image of this engine only
            return [(f"{image} names no registry, and none serves it, so the other nodes "
                     "cannot pull it",
                     "push the images to a registry every node reaches and name them there "
                     "in .env (EDAHUB_*_IMAGE=registry.example.org/edahub-hub:0.2.1; "
                     "docs/scale-out.md, \"Images\")")]
        return [(f"the registry does not serve {image}: {str(error)[:200]}",
                 f"docker push {image} (and check that every node reaches its registry)")]
    return []


def deploy(env_file, project, stream=None, timeout=600):
    import docker

    stream = stream or sys.stdout
    with progress(1, 4, "Checking the swarm and .env", stream):
        hostchecks.check_docker_engine()
        values, settings = read_settings(env_file)
        problems = swarm_problems(docker.from_env(), settings)
        if problems:
            raise UserError(
                "this swarm cannot run edahub yet:\n" + "\n".join(
                    f"  - {problem}\n    fix: {fix}" for problem, fix in problems),
                "fix the problems above and run `bootstrap.py swarm deploy` again; nothing "
                "was deployed")
    client = docker.from_env()
    with progress(2, 4, "Swarm secrets from .env", stream) as status:
        names, created = ensure_secrets(client, project, values)
        status.text = f"{created} new, {len(names) - created} unchanged"
    with progress(3, 4, f"Deploying stack {project} (docker stack deploy)", stream):
        # The secrets' values stay out of the command's environment: the stack file names
        # the Swarm secrets instead.
        plain = {key: value for key, value in values.items() if not is_secret(key)}
        run(["docker", "stack", "deploy", "--with-registry-auth", "--prune",
             "--compose-file", STACK_FILE, project],
            env={**os.environ, **plain, **names}, cwd=ROOT, timeout=300,
            redact=[v for k, v in values.items() if is_secret(k)])
    with progress(4, 4, "Waiting for every service to run", stream) as status:
        waited = wait_for_services(client, project, timeout)
        removed = remove_unused_secrets(client, project, set(names.values()))
        status.text = (f"all running after {format_duration(waited)}"
                       + (f"; {removed} replaced secret(s) removed" if removed else ""))
    print(f"edahub runs on the swarm as stack {project}; the hub answers on port "
          f"{settings.hub_port} of the manager that runs the proxy.", file=stream)


def read_settings(env_file):
    """``env_file``'s values (for `docker stack deploy`) and the settings they make."""
    if not env_file.exists():
        raise UserError(f"{env_file} does not exist",
                        "create it as on one host (python3 scripts/bootstrap.py --dry-run shows "
                        "the plan), or copy the installation's .env here")
    values = envfile.read_env_file(env_file)
    try:
        return values, load_settings(values)
    except SettingsError as error:
        raise UserError(f"{env_file}: {error}") from None


SECRET_LABEL = "org.edahub.stack"  # on the Swarm secrets `deploy` makes: the stack's name


def swarm_secret_keys():
    """The settings that are secrets: each is a Swarm secret on a swarm."""
    from edahub_core.settings import SETTINGS

    return [setting.key for setting in SETTINGS if setting.secret]


def secret_variable(key):
    """The variable that gives compose.swarm.yaml the Swarm secret's name of ``key``."""
    return f"EDAHUB_SWARM_SECRET_{key.removeprefix('EDAHUB_')}"


def ensure_secrets(client, project, values):
    """A Swarm secret for each secret setting of .env, unless it exists: ({variable: secret
    name}, how many were created). Swarm secrets cannot change, so a name carries its
    setting and a digest of its value (12 hex digits of SHA-256: nothing a guess could
    use, the secrets being random or salted hashes); a new value is a new secret, and the
    services that use it are updated with it. An unset one holds a newline (Swarm refuses
    an empty secret), which the services read as unset."""
    names, created = {}, 0
    existing = {secret.name for secret in client.secrets.list(
        filters={"label": f"{SECRET_LABEL}={project}"})}
    for key in swarm_secret_keys():
        value = values.get(key, "")
        digest = hashlib.sha256(value.encode()).hexdigest()[:12]
        name = f"{project}_{key.removeprefix('EDAHUB_').lower()}_{digest}"
        if name not in existing:
            client.secrets.create(name=name, data=f"{value}\n".encode(),
                                  labels={SECRET_LABEL: project, "org.edahub.setting": key})
            created += 1
        names[secret_variable(key)] = name
    return names, created


def remove_unused_secrets(client, project, keep):
    """Remove this stack's Swarm secrets that the deployment no longer names (once the
    services that used them are replaced); returns how many."""
    removed = 0
    for secret in client.secrets.list(filters={"label": f"{SECRET_LABEL}={project}"}):
        if secret.name not in keep:
            try:
                secret.remove()
                removed += 1
            except Exception:  # still in use by a task being replaced: the next deploy
                pass
    return removed


def is_secret(key):
    from edahub_core.settings import SETTINGS_BY_KEY

    setting = SETTINGS_BY_KEY.get(key)
    return bool(setting and setting.secret)


# How long every service must have looked converged before a deploy counts as done: right
# after `docker stack deploy` of an upgrade the old tasks still run, until Swarm marks the
# update begun (what `docker service update --detach=false` waits for too).
STEADY_SECONDS = 5


def wait_for_services(client, project, timeout, clock=time.monotonic, sleep=time.sleep):
    """Seconds until every service of ``project`` has run all its tasks, with no update
    under way, for STEADY_SECONDS (UserError if not within ``timeout``, or at once if
    Swarm paused an update because its new tasks failed)."""
    started = clock()
    steady_since = None
    while True:
        services = client.services.list(filters={"label": f"com.docker.stack.namespace={project}"})
        waiting = []
        for service in services:
            state = service.attrs.get("UpdateStatus", {})
            if state.get("State") in ("paused", "rollback_paused"):
                raise UserError(
                    f"Swarm stopped updating {service.name}: {state.get('Message', '')}",
                    f"docker service ps {service.name} --no-trunc shows why its new tasks "
                    f"failed; fix that and deploy again (docker service rollback "
                    f"{service.name} returns to the previous version)")
            if not converged(service):
                waiting.append(service.name)
        now = clock()
        if services and not waiting:
            steady_since = now if steady_since is None else steady_since
            if now - steady_since >= STEADY_SECONDS:
                return now - started
        else:
            steady_since = None
        if now - started > timeout:
            raise UserError(f"not running after {timeout}s: {', '.join(waiting) or 'no service'}",
                            f"docker service ps {' '.join(waiting) or project} --no-trunc "
                            "shows why (an image no node can pull, a missing node label)")
        sleep(1)


def converged(service):
    """Whether ``service`` runs as many tasks as it wants (one per replicated replica; at
    least one for a global service) and has no update under way."""
    spec = service.attrs["Spec"]
    want = spec.get("Mode", {}).get("Replicated", {}).get("Replicas", 1)
    if service.attrs.get("UpdateStatus", {}).get("State") in ("updating", "rollback_started"):
        return False
    running = [task for task in service.tasks(filters={"desired-state": "running"})
               if task["Status"]["State"] == "running"]
    return len(running) >= want


def main(argv):
    parser = argparse.ArgumentParser(prog="bootstrap.py swarm", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["check", "deploy", "move-home"])
    parser.add_argument("names", nargs="*", metavar="USER NODE",
                        help="move-home: the user, and the node to move their home to")
    add_installation_arguments(parser)
    parser.add_argument("--timeout", type=int, default=None,
                        help="seconds to wait for the services to run (deploy; default: "
                        "600), or for the copy to end (move-home; default: 3600)")
    args = parser.parse_args(argv)
    project = args.project_name or "edahub"
    if (args.action == "move-home") != bool(args.names) or (args.names and len(args.names) != 2):
        parser.error("move-home takes a user and a node (and check and deploy nothing else)")
    try:
        if args.action == "deploy":
            deploy(args.env_file.resolve(), project, timeout=args.timeout or 600)
        elif args.action == "move-home":
            import docker

            from .swarm_homes import move_home

            hostchecks.check_docker_engine()
            _, settings = read_settings(args.env_file.resolve())
            move_home(docker.from_env(), settings, *args.names, timeout=args.timeout or 3600)
        else:
            import docker

            hostchecks.check_docker_engine()
            _, settings = read_settings(args.env_file.resolve())
            problems = swarm_problems(docker.from_env(), settings)
            for problem, fix in problems:
                print(f"- {problem}\n  fix: {fix}")
            print("this swarm can run edahub" if not problems else
                  f"{len(problems)} problem(s); nothing was changed")
            return 1 if problems else 0
        return 0
    except UserError as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return 1
