"""The idle culler (jupyterhub-idle-culler as a hub-managed service) on the real stack:
idle servers are stopped, busy ones are not, and a culled user's files and databases stay.
"""

import time

import pytest

from culling.conftest import CULL_EVERY, CULL_IDLE_TIMEOUT

pytestmark = pytest.mark.integration

ROW = """
import os, pymysql
conn = pymysql.connect(read_default_file=os.path.expanduser("~/.my.cnf"), autocommit=True)
cur = conn.cursor()
cur.execute("CREATE TABLE IF NOT EXISTS kept (v TEXT)")
{action}
"""


def test_an_idle_server_is_stopped_and_its_files_and_databases_stay(cull_stack, cull_user,
                                                                   docker_client):
    ida = cull_user("ida")
    ida.start_server()
    assert ida.open_server().status_code == 200
    wrote = ida.execute("open('kept.txt', 'w').write('still here')\n" + ROW.format(
        action="cur.execute(\"INSERT INTO kept VALUES ('row still here')\")"))
    assert wrote.reply["status"] == "ok", wrote.error
    idle_since = time.monotonic()
    deadline = idle_since + CULL_IDLE_TIMEOUT + 12 * CULL_EVERY
    while ida.server_model() and time.monotonic() < deadline:
        time.sleep(1)
    assert ida.server_model() is None, "the idle server was not stopped"
    assert time.monotonic() - idle_since >= CULL_IDLE_TIMEOUT - CULL_EVERY  # not early
    assert not docker_client.containers.list(all=True,
                                             filters={"name": f"{cull_stack.prefix}-user-ida"})
    # Her next login finds everything where it was.
    ida.start_server()
    assert ida.open_server().status_code == 200
    read = ida.execute("print(open('kept.txt').read())\n" + ROW.format(
        action="cur.execute('SELECT v FROM kept'); print(cur.fetchone()[0])"))
    assert read.stdout == "still here\nrow still here\n"
    ida.stop_server()


def test_a_busy_kernel_keeps_its_server(cull_stack, cull_user):
    # A long computation that prints nothing: only the server's own report that a kernel
    # is busy (singleuser/edahub_busy_activity) tells the culler it is in use.
    bea = cull_user("bea")
    bea.start_server()
    assert bea.open_server().status_code == 200
    busy_for = CULL_IDLE_TIMEOUT + 5 * CULL_EVERY
    result = bea.execute(f"import time\ntime.sleep({busy_for})\nprint('done')",
                         timeout=busy_for + 60)
    assert result.reply["status"] == "ok", result.error
    assert result.stdout == "done\n"
    assert bea.server_model() is not None, "the busy server was stopped"
    bea.stop_server()
