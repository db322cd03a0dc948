"""MariaDB's provisioning procedures (mariadb/initdb.d/05-edahub-provisioning.sql) follow
the names and limits the hub and the operator tools use (edahub_core.names); the real
procedures are exercised by every spawn and attacked in tests/integration/test_databases.py."""

import re
from pathlib import Path

from edahub.provisioning import PROCEDURES, PROCEDURES_SQL, narrowing_sql
from edahub_core.names import DATABASE_CONNECTIONS_PER_USER, SAFE_DATABASE_NAME

SQL = PROCEDURES_SQL.read_text()


def sql_literal_after(marker):
    """The single-quoted SQL string that follows ``marker``, unescaped."""
    match = re.search(re.escape(marker) + r" '((?:[^'\\]|\\.)*)'", SQL)
    assert match, marker
    return re.sub(r"\\(.)", r"\1", match[1])


def test_the_procedures_accept_exactly_the_hubs_database_names():
    assert sql_literal_after("CAST(name AS BINARY) REGEXP") == f"^{SAFE_DATABASE_NAME.pattern}\\z"


def test_passwords_are_the_derived_ones_in_hex():
    assert sql_literal_after("CAST(password AS BINARY) NOT REGEXP") == "^[0-9a-f]{64}\\z"


def test_users_accounts_get_the_same_connection_cap():
    assert re.findall(r"MAX_USER_CONNECTIONS (\d+)", SQL) == [str(DATABASE_CONNECTIONS_PER_USER)]


def test_the_file_defines_the_procedures_the_account_is_granted():
    defined = re.findall(r"PROCEDURE `edahub_admin`\.`(\w+)`", SQL)
    assert sorted(defined) == sorted(PROCEDURES)
    assert "SQL SECURITY DEFINER" in SQL and "ACCOUNT LOCK" in SQL
    initdb = (Path(PROCEDURES_SQL).parent / "10-edahub-provisioner.sh").read_text()
    granted = re.findall(r"GRANT EXECUTE ON PROCEDURE \\`edahub_admin\\`\.\\`(\w+)\\`", initdb)
    assert sorted(granted) == sorted(PROCEDURES)
    assert "GRANT CREATE USER" not in initdb and "u_%" not in initdb


def test_narrowing_takes_everything_away_then_grants_the_procedures_only():
    sql = narrowing_sql(["%", "172.31.0.2"]).splitlines()
    assert sql == [
        "REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'edahub_provisioner'@'%';",
        "GRANT EXECUTE ON PROCEDURE `edahub_admin`.`ensure_account` TO 'edahub_provisioner'@'%';",
        "GRANT EXECUTE ON PROCEDURE `edahub_admin`.`drop_account` TO 'edahub_provisioner'@'%';",
        "REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'edahub_provisioner'@'172.31.0.2';",
        "GRANT EXECUTE ON PROCEDURE `edahub_admin`.`ensure_account` TO 'edahub_provisioner'@'172.31.0.2';",
        "GRANT EXECUTE ON PROCEDURE `edahub_admin`.`drop_account` TO 'edahub_provisioner'@'172.31.0.2';",
    ]
