"""Operator command: give an account a new password (the way back for a locked-out admin).

    docker compose exec hub python3 -m edahub_hub.admin reset-password [USERNAME]

For the native login (EDAHUB_AUTH=native). USERNAME defaults to EDAHUB_ADMIN_USER. A new
random password is printed once; only its bcrypt hash is stored, in the hub's database,
and the account is approved. Logging in with the old password stops working at once.
Five wrong passwords lock an account for ten minutes; the lock lives in the hub's
memory, so `docker compose restart hub` lifts it too.
"""

import argparse
import os
import secrets
import sys

from edahub_core.names import valid_username

from . import HUB_DB_URL

PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"


def reset_password(username, db_url=HUB_DB_URL, password=None):
    """Store a new password for ``username`` (creating the account if missing); return it."""
    import bcrypt
    from nativeauthenticator.orm import UserInfo
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    password = password or "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(20))
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt())
    engine = create_engine(db_url)
    UserInfo.metadata.create_all(engine, tables=[UserInfo.__table__])
    db = sessionmaker(bind=engine)()
    try:
        info = UserInfo.find(db, username)
        if info is None:
            db.add(UserInfo(username=username, password=hashed, is_authorized=True))
        else:
            info.password = hashed
            info.is_authorized = True
        db.commit()
    finally:
        db.close()
        engine.dispose()
    return password


def main(argv=None):
    """Command-line entry point (run inside the hub container)."""
    parser = argparse.ArgumentParser(prog="python3 -m edahub_hub.admin",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    reset = sub.add_parser("reset-password", help="give an account a new, random password")
    reset.add_argument("username", nargs="?", default=os.environ.get("EDAHUB_ADMIN_USER") or "admin")
    args = parser.parse_args(argv)
    if (os.environ.get("EDAHUB_AUTH") or "native") != "native":
        print("error: this hub logs people in with Bitbucket, which keeps no passwords\n"
              "  How to fix: manage access in Bitbucket and EDAHUB_BITBUCKET_* in .env",
              file=sys.stderr)
        return 1
    if not valid_username(args.username):
        print(f"error: {args.username!r} is not a valid username", file=sys.stderr)
        return 1
    password = reset_password(args.username)
    print(f"New password for {args.username!r}: {password}\n"
          "It is shown only now and stored nowhere in clear. If the account was locked "
          "after wrong passwords, `docker compose restart hub` lifts the lock at once.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
