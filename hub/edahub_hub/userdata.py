"""Admin command: drop a user's data (databases, accounts, home volume) for good.

    docker compose exec hub python3 -m edahub_hub.userdata drop USERNAME --yes

Deleting a user in the hub keeps their data unless EDAHUB_DELETE_USER_DATA is on; this
command is how an admin removes it later (or for a user who still exists, whose server
must be stopped first). The same code runs for EDAHUB_DELETE_USER_DATA.
"""

import argparse
import os
import sys

from edahub_core.errors import UserError
from edahub_core.names import database_name, home_volume_name

from .databases import MariaDBProvisioner, MongoDBProvisioner


def drop_user_data(username, *, mariadb_password, mongodb_password, volume, database=None,
                   docker_client=None):
    """Drop ``username``'s databases and accounts (named ``database``, else
    ``database_name(username)``) and home ``volume``; return what was removed.

    Raises ``UserError`` when the volume is in use (the user's server runs): the caller,
    the command line or the hub, reports it; nothing here exits the process.
    """
    name = database or database_name(username)
    MariaDBProvisioner(mariadb_password).drop(name)
    MongoDBProvisioner(mongodb_password).drop(name)
    removed = [f"MariaDB database and account {name}", f"MongoDB database and account {name}"]
    if docker_client is None:
        import docker

        docker_client = docker.from_env()
    import docker.errors

    try:
        docker_client.volumes.get(volume).remove()
        removed.append(f"home volume {volume}")
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as error:  # in use by a running server
        raise UserError(f"cannot remove {volume}: {error.explanation}",
                        "stop the user's server first, then run this again") from None
    return removed


def main(argv=None):
    """Command-line entry point (run inside the hub container)."""
    parser = argparse.ArgumentParser(prog="python3 -m edahub_hub.userdata",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    drop = sub.add_parser("drop", help="drop a user's databases, accounts and home volume")
    drop.add_argument("username")
    drop.add_argument("--yes", action="store_true", help="confirm; without it nothing happens")
    args = parser.parse_args(argv)
    if not args.yes:
        print(f"This drops {args.username!r}'s databases and home files for good. "
              "Add --yes to do it.", file=sys.stderr)
        return 1
    from jupyterhub import orm
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from edahub_core.settings import SettingsError, load_settings

    try:  # each secret directly or as <KEY>_FILE (a Swarm secret)
        settings = load_settings(os.environ, keys=[
            "EDAHUB_MARIADB_PROVISIONER_PASSWORD", "EDAHUB_MONGODB_PROVISIONER_PASSWORD",
            "EDAHUB_USER_PREFIX"])
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

    from .dbnames import DatabaseNames

    import edahub_hub

    engine = create_engine(edahub_hub.HUB_DB_URL)
    session = sessionmaker(bind=engine)()
    try:
        names = DatabaseNames(session)
        user = session.query(orm.User).filter_by(name=args.username).first()
        database = names.name_of(args.username) or names.expected_name(
            args.username, user.created if user else None)
        removed = drop_user_data(
            args.username, database=database,
            mariadb_password=settings.mariadb_provisioner_password,
            mongodb_password=settings.mongodb_provisioner_password,
            volume=home_volume_name(settings.user_prefix, args.username),
        )
        names.forget(args.username)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        session.close()
        engine.dispose()
    for item in removed:
        print(f"removed {item}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
