"""Narrow the hub's database rights on volumes older than edahub 0.2.1.

A new volume gets edahub's procedures and a provisioning account that may only call them
(mariadb/initdb.d). An older volume keeps the account's first rights (global CREATE
USER, everything on `u_%` databases) until this runs: it adds the procedures (the same
SQL file) and leaves every ``edahub_provisioner`` account with the right to call them
and nothing else. It runs as root inside the mariadb container, is safe to run again,
and `bootstrap.py upgrade` runs it once the new hub is up (which falls back to the old
statements while the procedures are missing).

MongoDB: the hub now has no account there (the mongodb-accounts service makes users'
accounts as root); the old ``edahub_provisioner`` account and its role are dropped.
"""

import io

from edahub_core.names import PROVISIONER

from .backup import MARIADB_ROOT, MONGOSH, Stack
from .installer import ROOT

PROCEDURES_SQL = ROOT / "mariadb" / "initdb.d" / "05-edahub-provisioning.sql"
PROCEDURES = ("ensure_account", "drop_account")
_HOSTS = (MARIADB_ROOT + f" -N -e \"SELECT Host FROM mysql.user WHERE User = '{PROVISIONER}'\"")


DROP_MONGODB_PROVISIONER = f"""
const admin = db.getSiblingDB("admin");
let dropped = [];
if (admin.getUser("{PROVISIONER}")) {{ admin.dropUser("{PROVISIONER}"); dropped.push("account"); }}
if (admin.getRole("edahubProvisioner")) {{ admin.dropRole("edahubProvisioner"); dropped.push("role"); }}
print(dropped.length ? "dropped its " + dropped.join(" and ") : "none there");
"""


def narrowing_sql(hosts):
    """Root's SQL leaving each ``edahub_provisioner@host`` the procedures only."""
    statements = []
    for host in hosts:
        account = f"'{PROVISIONER}'@'{host}'"
        statements.append(f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account};")
        statements += [f"GRANT EXECUTE ON PROCEDURE `edahub_admin`.`{p}` TO {account};"
                       for p in PROCEDURES]
    return "\n".join(statements) + "\n"


def narrow_mariadb_provisioner(inst):
    """Install the procedures and narrow the account(s); returns the hosts narrowed."""
    stack = Stack(inst)
    stack.require_running()
    with open(PROCEDURES_SQL, "rb") as sql:
        stack.exec_with_input("mariadb", MARIADB_ROOT, sql)
    hosts = stack.exec_with_input("mariadb", _HOSTS).split()
    for host in hosts:  # an address or '%': nothing that needs quoting
        if not all(c.isalnum() or c in ".:%_-" for c in host):
            raise ValueError(f"unexpected host {host!r} of {PROVISIONER}")
    stack.exec_with_input("mariadb", MARIADB_ROOT, io.BytesIO(narrowing_sql(hosts).encode()))
    return hosts


def drop_mongodb_provisioner(inst):
    """Drop MongoDB's old provisioning account and role, if there; what was done."""
    output = Stack(inst).exec_with_input("mongodb", MONGOSH,
                                         env={"EDAHUB_JS": DROP_MONGODB_PROVISIONER})
    return output.strip().splitlines()[-1] if output.strip() else "none there"
