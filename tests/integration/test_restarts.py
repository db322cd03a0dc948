"""Restarts of the databases and of the whole stack lose no file, account or row.

Disruptive by design: these tests restart services of the shared stack (a whole-stack
`down`/`up` stops every user's server), so tests/conftest.py runs this module last.
Each test uses users of its own.
"""

import textwrap
import time

import pytest

from hubclient import HubSession
from test_databases import MARIADB_ROUND_TRIP, MONGODB_ROUND_TRIP

pytestmark = [pytest.mark.integration, pytest.mark.disruptive]

READ_BACK = """
import os, pymysql, pymongo
conn = pymysql.connect(read_default_file=os.path.expanduser("~/.my.cnf"))
cur = conn.cursor(); cur.execute("SELECT body FROM notes"); print(cur.fetchall())
db = pymongo.MongoClient(os.environ["MONGODB_URI"]).get_default_database()
print(list(db.notes.find()))
"""


def write_rows(session, owner):
    for code in (MARIADB_ROUND_TRIP, MONGODB_ROUND_TRIP):
        result = session.execute(code.replace("{owner}", owner))
        assert result.reply["status"] == "ok", result.error


def read_rows(session, timeout=60):
    """The user's rows and documents; retried while a just-restarted server refuses."""
    deadline = time.monotonic() + timeout
    while True:
        result = session.execute(textwrap.dedent(READ_BACK))
        if result.reply["status"] == "ok" or time.monotonic() > deadline:
            assert result.reply["status"] == "ok", result.error
            return result.stdout.splitlines()
        time.sleep(1)


def test_data_survives_a_restart_of_both_databases(stack, make_user):
    rita = make_user("rita")
    rita.start_server()
    assert rita.open_server().status_code == 200
    write_rows(rita, "rita")
    stack.run_compose("restart", "mariadb", "mongodb", timeout=300)
    stack.compose.wait_until_ready(["mariadb", "mongodb", "hub"], timeout=180)
    # Her running kernel reconnects to both restarted servers and finds everything.
    assert read_rows(rita) == ["((\"rita's row\",),)", "[{'_id': 1, 'body': \"rita's document\"}]"]
    rita.stop_server()


def test_files_accounts_and_data_survive_compose_down_and_up(stack, make_user):
    sam = make_user("sam")
    sam.start_server()
    assert sam.open_server().status_code == 200
    write_rows(sam, "sam")
    assert sam.execute("open('notes.txt', 'w').write('kept across down/up')").reply["status"] == "ok"
    sam.stop_server()

    stack.run_compose("down", timeout=300)  # no --volumes: what an operator's `down` does
    stack.run_compose("up", "--detach", "--wait", "--no-build", timeout=600)

    again = HubSession(stack.base_url, "sam")
    assert again.log_in(sam.password), "sam's account is gone after down/up"
    again.start_server()
    assert again.open_server().status_code == 200
    assert again.execute("print(open('notes.txt').read())").stdout == "kept across down/up\n"
    assert read_rows(again) == ["((\"sam's row\",),)", "[{'_id': 1, 'body': \"sam's document\"}]"]
    again.stop_server()
