"""Bring database volumes older than edahub 0.2.1 to its account model, in two steps.

A new volume gets edahub's procedures and a provisioning account that may only call them
(mariadb/initdb.d). An older volume keeps the account's first rights (global CREATE
USER, everything on `u_%` databases) until this runs: it adds the procedures (the same
SQL file) and leaves every ``edahub_provisioner`` account with the right to call them
and nothing else. MongoDB: the hub has no account there any more; the mongodb-accounts
service makes users' accounts as root, so root must accept that service's address, and
the old ``edahub_provisioner`` account and its role go.

`bootstrap.py upgrade` runs ``prepare_databases`` before the new containers start (it
only adds: the old hub keeps working) and ``narrow_old_rights`` once they run (the new
hub falls back to the old MariaDB statements while the procedures are missing). Both run
as root inside the database containers and are safe to run again.
"""

import io

from edahub_core.names import PROVISIONER
from edahub_core.netpolicy import Layout

from .backup import MARIADB_ROOT, MONGOSH, Stack
from .console import run
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


ALLOW_MONGODB_ACCOUNTS = """
const address = process.env.EDAHUB_ADDRESS;
db.getSiblingDB("admin").updateUser("root", {
  authenticationRestrictions: [{clientSource: ["127.0.0.1", "::1", address]}]});
print("root accepts " + address + " and MongoDB's own loopback");
"""


def _provisioner_hosts(stack):
    hosts = stack.exec_with_input("mariadb", _HOSTS).split()
    for host in hosts:  # an address or '%': nothing that needs quoting
        if not all(c.isalnum() or c in ".:%_-" for c in host):
            raise ValueError(f"unexpected host {host!r} of {PROVISIONER}")
    return hosts


def prepare_databases(inst):
    """Add what the new version needs, taking nothing away; a line saying what was done."""
    stack = Stack(inst)
    # Started if they were stopped; recreated if their settings changed.
    run(inst.compose("up", "--detach", "--no-build", "--wait", "mariadb", "mongodb"),
        timeout=600)
    with open(PROCEDURES_SQL, "rb") as sql:
        stack.exec_with_input("mariadb", MARIADB_ROOT, sql)
    hosts = _provisioner_hosts(stack)
    grants = "\n".join(f"GRANT EXECUTE ON PROCEDURE `edahub_admin`.`{p}` TO "
                       f"'{PROVISIONER}'@'{host}';" for host in hosts for p in PROCEDURES)
    stack.exec_with_input("mariadb", MARIADB_ROOT, io.BytesIO(grants.encode() + b"\n"))
    address = Layout(stack.settings.network_prefix).mongodb_accounts
    stack.exec_with_input("mongodb", MONGOSH, env={"EDAHUB_JS": ALLOW_MONGODB_ACCOUNTS,
                                                   "EDAHUB_ADDRESS": address})
    return f"MariaDB's procedures in place; MongoDB's root accepts mongodb-accounts ({address})"


def narrow_old_rights(inst):
    """Take the old rights away; a line saying what was done."""
    stack = Stack(inst)
    stack.require_running()
    hosts = _provisioner_hosts(stack)
    stack.exec_with_input("mariadb", MARIADB_ROOT, io.BytesIO(narrowing_sql(hosts).encode()))
    output = stack.exec_with_input("mongodb", MONGOSH, env={"EDAHUB_JS": DROP_MONGODB_PROVISIONER})
    mongodb = output.strip().splitlines()[-1] if output.strip() else "none there"
    return (f"MariaDB's {PROVISIONER}@{', @'.join(hosts)} may only call edahub's procedures; "
            f"MongoDB's old account: {mongodb}")
