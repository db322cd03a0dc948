"""The four notebook kernels of the singleuser image, used through a server the hub spawned.

Every check goes the way a person's notebook goes: the hub proxies the user's Jupyter
server, which starts the kernel; code, output and errors travel over the kernel websocket.
The notebooks in tests/notebooks/ run headless (nbconvert) inside the user's container.

Julia is optional in the image (EDAHUB_SINGLEUSER_JULIA; it cannot be downloaded where CI
runs), so its tests skip, saying why, when the image was built without it; and one test
holds the image to exactly the kernels its build switches call for.
"""

import base64
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from edahub_core.settings import SETTINGS_BY_KEY

pytestmark = pytest.mark.integration

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# What spawned servers must run: the kernels every image has, by kernelspec name.
ALWAYS = {"python3", "ir", "gonb"}


@dataclass(frozen=True)
class Language:
    """How to exercise one language's kernel, and what it must answer."""

    language: str  # the kernelspec's "language", which finds the kernel in the server
    hello: str  # prints 42, then leaves 42 as the cell's value where the language has one
    hello_value: str | None  # that value's text/plain, None where cells have no value
    failing: str  # raises the language's own error
    error_name: str  # the error reply's ename
    error_text: str  # found in the error's value or in stderr
    notebook: str  # tests/notebooks/<notebook>.ipynb


LANGUAGES = {
    "python": Language(
        "python", "print(6 * 7)\n21 * 2", "42", "1 / 0", "ZeroDivisionError", "division by zero",
        "python3"),
    # IRkernel reports every R error as "ERROR", with R's message as the value.
    "r": Language(
        "R", 'cat(6 * 7, "\\n", sep = "")\n21 * 2', "[1] 42", 'stop("no such thing")', "ERROR",
        "no such thing", "ir"),
    # GoNB runs a cell's `%%` part as main(); a panic ends it with "ERROR" and Go's message.
    "go": Language(
        "go", "%%\nfmt.Println(6 * 7)", None, "%%\nvar zero int\nfmt.Println(1 / zero)", "ERROR",
        "integer divide by zero", "gonb"),
    "julia": Language(
        "julia", "println(6 * 7)\n21 * 2", "42", "div(1, 0)", "DivideError", "DivideError",
        "julia"),
}


def switch(key, value):
    """A build switch's value read as the settings read it (empty means its default)."""
    setting = SETTINGS_BY_KEY[key]
    return setting.parse(value or setting.default)


@pytest.fixture(scope="module")
def kim(running_server):
    """kim, logged in, with a server spawned on an empty home volume; stopped afterwards."""
    kim = running_server("kim")
    yield kim
    kim.stop_server()


@pytest.fixture(scope="module")
def kim_container(stack, kim, docker_client):
    return docker_client.containers.get(f"{stack.prefix}-user-kim")


@pytest.fixture(scope="module")
def built_with_julia(stack):
    """Whether the test stack's image was built with Julia (the build switch the tests set)."""
    return switch("EDAHUB_SINGLEUSER_JULIA", stack.values.get("EDAHUB_SINGLEUSER_JULIA"))


@pytest.fixture(scope="module")
def kernelspecs(kim):
    """The kernelspecs kim's server offers, by name, as JupyterLab's launcher reads them."""
    response = kim.server_api("GET", "/kernelspecs")
    assert response.status_code == 200, response.text[:300]
    return response.json()["kernelspecs"]


@pytest.fixture(params=sorted(LANGUAGES))
def language(request, kernelspecs, built_with_julia):
    """Each language in turn, with the name of its kernel in kim's server."""
    language = LANGUAGES[request.param]
    if request.param == "julia" and not built_with_julia:
        pytest.skip("the image was built without Julia (EDAHUB_SINGLEUSER_JULIA=false): "
                    "Julia's download servers are unreachable here")
    names = [name for name, spec in kernelspecs.items()
             if spec["spec"]["language"].lower() == language.language.lower()]
    assert len(names) == 1, f"one {language.language} kernel expected, found {names}"
    return names[0], language


def exec_in(container, command, timeout=900):
    """Run ``command`` as jovyan in ``container``, bounded; returns (exit code, output)."""
    result = container.exec_run(["timeout", str(timeout), *command], user="jovyan",
                                workdir="/home/jovyan", demux=False)
    return result.exit_code, result.output.decode(errors="replace")


def png_bytes(data):
    """The decoded image/png of a display's data bundle, or None."""
    encoded = data.get("image/png")
    return base64.b64decode(encoded) if encoded else None


# --- What the image was built with ---------------------------------------------------------
def test_image_reports_exactly_the_kernels_it_was_built_with(
        stack, kim, kim_container, kernelspecs, built_with_julia):
    labels = kim_container.image.labels
    julia_label = labels["org.edahub.singleuser.with-julia"]
    assert switch("EDAHUB_SINGLEUSER_JULIA", julia_label) == built_with_julia, labels
    assert (switch("EDAHUB_SINGLEUSER_CRAN", labels["org.edahub.singleuser.with-cran"])
            == switch("EDAHUB_SINGLEUSER_CRAN", stack.values.get("EDAHUB_SINGLEUSER_CRAN"))), labels
    code, output = exec_in(kim_container, ["cat", "/opt/edahub/build-info.json"])
    assert code == 0, output
    recorded = json.loads(output)
    assert recorded["switches"]["with_julia"] == built_with_julia

    code, output = exec_in(kim_container, ["jupyter", "kernelspec", "list", "--json"])
    assert code == 0, output
    listed = set(json.loads(output)["kernelspecs"])
    julia = {name for name in listed if name.startswith("julia-")}
    assert listed - julia == ALWAYS
    assert len(julia) == (1 if built_with_julia else 0), listed
    # The server the hub proxies offers the same kernels the image recorded at build time.
    assert set(kernelspecs) == listed == set(recorded["kernels"])


def test_the_server_runs_without_the_hubs_own_modules(kim_container):
    """The image's launcher (singleuser/edahub-singleuser) keeps the hub's handlers and
    database model out of every user's server: about 24 MiB and 0.2 CPU-seconds each."""
    code, output = exec_in(kim_container, ["cat", "/proc/1/cmdline"])
    assert code == 0 and output.split("\0")[:4] == ["tini", "--", "edahub-start",
                                                    "edahub-singleuser"], output
    # The same imports as the server's, with this image's JupyterHub and Jupyter Server.
    check = ("import json, runpy, sys\n"
             "runpy.run_path('/usr/local/bin/edahub-singleuser')['keep_hub_modules_out']()\n"
             "import jupyterhub.singleuser, jupyterhub.singleuser.extension, jupyterlab.labapp\n"
             "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('alembic', 'rfc3987_syntax', 'lark') or m.startswith('jupyterhub.handlers.'))))\n")
    code, output = exec_in(kim_container, ["python3", "-c", check])
    assert code == 0, output
    assert json.loads(output) == ["jupyterhub.handlers.pages"], output  # the placeholder


def test_a_user_cannot_say_their_server_is_fenced_in(kim_container):
    """On a swarm a server starts only once its node's agent wrote the fenced file
    (hub/edahub_hub/swarm_netpolicy.py); in the real image a user cannot write it, and
    without it the entrypoint gives up instead of starting the server."""
    from edahub_core.names import SWARM_FENCE_WAIT_VARIABLE, SWARM_FENCED_FILE

    code, output = exec_in(kim_container, ["touch", SWARM_FENCED_FILE])
    assert code != 0 and "Permission denied" in output, output
    code, output = exec_in(kim_container, ["env", f"{SWARM_FENCE_WAIT_VARIABLE}=1",
                                           "edahub-start", "echo", "server ran"])
    assert code == 1 and "server ran" not in output, output
    assert "did not fence this server in within 1 s" in output


def test_kernelspecs_live_in_system_directories_not_the_home(kim_container):
    code, output = exec_in(kim_container, ["jupyter", "kernelspec", "list", "--json"])
    assert code == 0, output
    for name, spec in json.loads(output)["kernelspecs"].items():
        assert spec["resource_dir"].startswith(("/usr/local/share/jupyter/", "/usr/share/jupyter/")), \
            (name, spec["resource_dir"])


# --- Each kernel, through the hub ----------------------------------------------------------
def test_kernel_runs_code(kim, language):
    kernel_name, language = language
    result = kim.execute(language.hello, kernel_name=kernel_name, timeout=300)
    assert result.reply["status"] == "ok", result.error
    assert result.stdout == "42\n"
    if language.hello_value is not None:
        # IRkernel sends a cell's value as display_data, the others as execute_result.
        values = [data.get("text/plain") for data in result.results + result.displays]
        assert values == [language.hello_value]


def test_kernel_errors_come_back_with_the_languages_error(kim, language):
    kernel_name, language = language
    result = kim.execute(language.failing, kernel_name=kernel_name, timeout=300)
    assert result.reply["status"] == "error"
    assert result.reply["ename"] == result.error["ename"] == language.error_name
    stderr = "".join(c["text"] for c in result.of_type("stream") if c["name"] == "stderr")
    assert language.error_text in result.error["evalue"] + stderr


def test_python_plots_arrive_as_png(kim):
    result = kim.execute(
        "import matplotlib.pyplot as plt\n"
        "plt.plot([1, 2, 3], [1, 4, 9])\n"
        "plt.show()"
    )
    assert result.reply["status"] == "ok", result.error
    images = [png_bytes(data) for data in result.displays if "image/png" in data]
    assert len(images) == 1 and images[0].startswith(PNG_SIGNATURE)


def test_r_plots_arrive_as_png(kim):
    result = kim.execute(
        "library(ggplot2)\n"
        "ggplot(mtcars, aes(wt, mpg)) + geom_point()",
        kernel_name="ir",
    )
    assert result.reply["status"] == "ok", result.error
    images = [png_bytes(data) for data in result.displays if "image/png" in data]
    assert len(images) == 1 and images[0].startswith(PNG_SIGNATURE)
    assert len(images[0]) > 5000, "the plot is nearly empty"


def test_go_cell_imports_both_database_drivers_with_the_network_cut(kim):
    """The drivers resolve from the module cache in the image: no proxy, no checksum server.

    Every HTTP(S) request of the go command (module proxy, checksum database, VCS) goes
    to a proxy address where nothing listens, so any download would fail the cell.
    """
    result = kim.execute(
        "%env HTTPS_PROXY=http://127.0.0.1:9\n"
        "%env HTTP_PROXY=http://127.0.0.1:9\n"
        "%env NO_PROXY=\n"
        "import (\n"
        '    "database/sql"\n'
        '    "fmt"\n'
        '    _ "github.com/go-sql-driver/mysql"\n'
        '    "go.mongodb.org/mongo-driver/v2/mongo/options"\n'
        ")\n"
        "%%\n"
        'fmt.Println("sql drivers:", sql.Drivers())\n'
        'fmt.Println("mongo uri:", options.Client().ApplyURI("mongodb://mongodb:27017").GetURI())',
        kernel_name="gonb", timeout=600,
    )
    assert result.reply["status"] == "ok", f"{result.error}\n{result.messages[-6:]}"
    assert "sql drivers: [mysql]\n" in result.stdout
    assert "mongo uri: mongodb://mongodb:27017\n" in result.stdout


# --- A notebook per language, headless ------------------------------------------------------
def test_notebook_runs_headless_in_the_users_server(stack, kim, kim_container, language):
    kernel_name, language = language
    notebook = json.loads((NOTEBOOKS / f"{language.notebook}.ipynb").read_text())
    # Uploaded through the hub like any notebook, then executed where the user's files are.
    folder = "edahub-checks"
    kim.server_api("PUT", f"/contents/{folder}", json={"type": "directory"})
    upload = kim.server_api("PUT", f"/contents/{folder}/{language.notebook}.ipynb",
                            json={"type": "notebook", "format": "json", "content": notebook})
    assert upload.status_code in (200, 201), upload.text[:300]
    code, output = exec_in(kim_container, [
        "jupyter", "nbconvert", "--to", "notebook", "--execute",
        f"--ExecutePreprocessor.kernel_name={kernel_name}",
        "--ExecutePreprocessor.timeout=600",
        "--output", f"{language.notebook}.executed.ipynb",
        f"{folder}/{language.notebook}.ipynb",
    ])
    assert code == 0, f"nbconvert failed (exit {code}):\n{output[-4000:]}"

    executed = kim.server_api("GET", f"/contents/{folder}/{language.notebook}.executed.ipynb")
    assert executed.status_code == 200, executed.text[:300]
    outputs = [output for cell in executed.json()["content"]["cells"]
               if cell["cell_type"] == "code" for output in cell["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    stdout = "".join("".join(o["text"]) if isinstance(o["text"], list) else o["text"]
                     for o in outputs if o["output_type"] == "stream" and o["name"] == "stdout")
    assert "MariaDB: access denied" in stdout
    with_cran = switch("EDAHUB_SINGLEUSER_CRAN", stack.values.get("EDAHUB_SINGLEUSER_CRAN"))
    if language.notebook == "ir" and not with_cran:
        assert "mongolite: not in this image" in stdout
    else:
        assert "MongoDB: ping ok" in stdout
    if language.notebook in ("python3", "ir"):
        pngs = [png_bytes(o["data"]) for o in outputs if "image/png" in o.get("data", {})]
        assert pngs and all(png.startswith(PNG_SIGNATURE) for png in pngs)


# --- What a person sees -------------------------------------------------------------------
def test_launcher_shows_one_tile_per_language(stack, kim, kernelspecs, open_browser):
    from playwright.sync_api import expect

    expected = sorted(spec["spec"]["display_name"] for spec in kernelspecs.values())
    person = open_browser("kim")
    page = person.page
    page.goto(f"{stack.base_url}/hub/login")
    page.fill("input[name=username]", "kim")
    page.fill("input[name=password]", kim.password)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(lambda url: "/hub/login" not in url, timeout=30_000)
    page.goto(f"{stack.base_url}/user/kim/lab", timeout=60_000)
    tiles = page.locator('.jp-LauncherCard[data-category="Notebook"]')
    expect(tiles).to_have_count(len(expected), timeout=60_000)
    person.step("launcher")
    labels = sorted(tiles.locator(".jp-LauncherCard-label").all_inner_texts())
    assert labels == expected
