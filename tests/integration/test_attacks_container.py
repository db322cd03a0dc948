"""Attacks from inside a user's own server, tried the way a hostile user would.

Each test logs in as a user of its own, runs the attack in that user's server, and
checks it fails while the legitimate work next to it still runs: no Linux capability,
no privilege gained through setuid programs, a bounded number of processes (a fork or
thread bomb stays inside its container), a CPU limit by default.
"""

import textwrap
import time

import pytest
import requests

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def zoe(running_server):
    """zoe, the hostile user, with her server running."""
    return running_server("zoe")


def run_in_kernel(session, code, timeout=120):
    result = session.execute(textwrap.dedent(code), timeout=timeout)
    assert result.reply["status"] == "ok", result.error
    return result.stdout


def test_a_users_server_holds_no_capability_and_cannot_gain_privileges(stack, zoe, docker_client):
    container = docker_client.containers.get(f"{stack.prefix}-user-zoe")
    host_config = container.attrs["HostConfig"]
    assert host_config["CapDrop"] == ["ALL"]
    assert "no-new-privileges:true" in host_config["SecurityOpt"]
    out = run_in_kernel(zoe, """
        status = dict(line.split(":", 1) for line in open("/proc/self/status"))
        print(status["CapEff"].strip(), status["CapBnd"].strip(), status["NoNewPrivs"].strip())
        import subprocess
        # A setuid-root program cannot raise privileges: it runs, but as zoe.
        suid = [p for p in ("/usr/bin/su", "/usr/bin/passwd", "/usr/bin/mount") if
                __import__("os").path.exists(p) and __import__("os").stat(p).st_mode & 0o4000]
        print(bool(suid))
        print(subprocess.run(["/usr/bin/mount", "-t", "tmpfs", "x", "/tmp"],
                             capture_output=True, text=True).returncode != 0)
    """)
    cap_effective, cap_bounding, no_new_privs, has_suid, mount_refused = out.split()
    assert cap_effective == cap_bounding == "0000000000000000"
    assert no_new_privs == "1"
    assert mount_refused == "True"


def test_a_thread_bomb_stays_inside_its_container(stack, zoe, docker_client):
    container = docker_client.containers.get(f"{stack.prefix}-user-zoe")
    limit = container.attrs["HostConfig"]["PidsLimit"]
    assert limit == int(stack.values.get("EDAHUB_USER_PIDS_LIMIT") or 1024)
    # Threads until the kernel refuses one, in a child process so the kernel survives.
    out = run_in_kernel(zoe, f"""
        import subprocess, sys
        bomb = '''
        import threading, time
        started = 0
        try:
            for _ in range({limit} + 500):
                threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
                started += 1
        except RuntimeError:
            pass
        print(started, flush=True)
        '''
        import textwrap
        result = subprocess.run([sys.executable, "-c", textwrap.dedent(bomb)],
                                capture_output=True, text=True, timeout=120)
        print(result.stdout.strip() or result.stderr[-300:])
    """, timeout=180)
    started = int(out.split()[-1])
    assert started < limit, f"{started} threads started with a limit of {limit}"
    # Everyone else is unaffected: the hub answers at once.
    began = time.monotonic()
    assert requests.get(f"{stack.base_url}/hub/health", timeout=10).status_code == 200
    assert time.monotonic() - began < 2
    assert run_in_kernel(zoe, "print(6 * 7)") == "42\n"


def test_a_users_server_has_a_cpu_limit_by_default(stack, zoe, docker_client):
    container = docker_client.containers.get(f"{stack.prefix}-user-zoe")
    expected = float(stack.values.get("EDAHUB_USER_CPU_LIMIT") or 1)
    host_config = container.attrs["HostConfig"]
    # DockerSpawner sets a CFS quota (cpu_quota per cpu_period); NanoCpus would do too.
    cores = (host_config["CpuQuota"] / host_config["CpuPeriod"] if host_config["CpuQuota"] > 0
             else host_config["NanoCpus"] / 1e9)
    assert cores == expected
    # ...and the kernel enforces it: the container's cgroup (v2 cpu.max, or v1's CFS files).
    cpu_max = container.exec_run(["sh", "-c", (
        "cat /sys/fs/cgroup/cpu.max 2>/dev/null || echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)"
        " $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)")]).output.decode().split()
    assert cpu_max[0] != "max" and int(cpu_max[0]) / int(cpu_max[1]) == expected
