"""The pytest plugin loaded into the verify subprocess (``-p anl_stack.plugin_api.fixtures``).

It gives checks their fixtures (commune settings, the plugin's variables,
declared ports, a way to record facts for the report), registers the
``live`` and ``app`` markers, runs each plugin's checks only on the hosts
of that plugin's inventory group, and writes every result, with the
check's explanation and remediation hint, to a JSON file the verify
service reads back.

It is driven by a JSON context file written by :mod:`anl_stack.verify.run`
(``--anl-context PATH``), read with :func:`anl_stack.plugin_api.read_context`,
which refuses a context of another version. The fixtures it provides are
the ones :data:`anl_stack.plugin_api.FIXTURES` declares. Secrets are never in that file: a check that
needs one asks the ``anl_secret`` fixture, which reads it from the
inventory (decrypted by Ansible with the vault password file) and wraps
it so that it is never printed, not even in an assertion message.
"""

from __future__ import annotations

import base64
import inspect
import json
import re
import time
from pathlib import Path
from typing import Any, Callable

import jinja2
import jinja2.sandbox
import pytest
import yaml

from anl_stack.adapters.testinfra import parsable_remote_locale
from anl_stack.adapters.tls import https_headers
from anl_stack.core.errors import AnlError
from anl_stack.core.i18n import check_doc_parts
from anl_stack.plugin_api import (
    BASELINE,
    MARKERS,
    NOT_APPLICABLE,
    ROLES_DIR,
    SECRET_NAME,
    read_context,
    ssh_error_lines,
)


class Secret:
    """A secret value that never shows itself in output or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


def _is_secret_key(key: str, declared: set[str]) -> bool:
    # Connection secrets and secret-looking keys are never handed out as settings.
    return key in declared or bool(SECRET_NAME.search(key))


def _render(values: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """Resolve ``{{ ... }}`` in string values the way Ansible would, a few passes deep.

    Sandboxed: host variables come from a shared inventory, and a template
    must not reach Python's internals (``cycler.__init__.__globals__``) here.
    """
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    out = dict(values)
    for _ in range(4):
        changed = False
        scope = {**context, **out}
        for key, value in out.items():
            if isinstance(value, str) and "{{" in value:
                try:
                    rendered = env.from_string(value).render(scope)
                except jinja2.TemplateError:
                    continue
                if rendered != value:
                    out[key], changed = rendered, True
        if not changed:
            break
    return out


def _host_name(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    param = callspec.params.get("_testinfra_host") if callspec else None
    backend = getattr(param, "backend", None)
    return getattr(backend, "host", None)


def _doc_parts(func: Callable[..., Any] | None) -> tuple[str, str]:
    """Explanation (first docstring line) and hint (the line starting with ``Hint:``)."""
    doc = inspect.getdoc(func) if func is not None else None
    return check_doc_parts(doc) if doc else ("", "")


class VerifyPlugin:
    """State of one verify run inside the pytest process."""

    def __init__(self, config: pytest.Config, context: dict[str, Any]) -> None:
        self.config = config
        self.context = context
        self.suites = {Path(s["dir"]).resolve(): s for s in context.get("suites", [])}
        self.secret_names = set(context.get("secret_names", []))
        self.items: dict[str, dict[str, Any]] = {}
        self.results: dict[str, dict[str, Any]] = {}
        self.not_run: list[dict[str, Any]] = []
        self.facts: dict[str, dict[str, Any]] = {}
        self._own_deselect: set[str] = set()
        self.retried: set[str] = set()

    # --- where an item belongs -------------------------------------------
    def suite_of(self, path: Path) -> dict[str, Any] | None:
        path = path.resolve()
        for folder, suite in self.suites.items():
            if folder == path or folder in path.parents:
                return suite
        return None

    def describe(self, item: pytest.Item) -> dict[str, Any]:
        suite = self.suite_of(Path(str(item.path)))
        explanation, hint = _doc_parts(getattr(item, "function", None))
        name = getattr(item, "originalname", None) or item.name
        params = getattr(getattr(item, "callspec", None), "params", {})
        extra = [f"{k}={v}" for k, v in params.items() if k != "_testinfra_host"]
        return {
            "nodeid": item.nodeid,
            "host": _host_name(item),
            "suite": suite["name"] if suite else "other",
            "check": name + (f"[{','.join(extra)}]" if extra else ""),
            "explanation": explanation,
            "hint": hint,
            "markers": sorted({m.name for m in item.iter_markers()} & {"live", "app"}),
        }

    # --- hooks -----------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        # A plugin's checks run only on the hosts of that plugin's group.
        hosts = self.context.get("hosts", {})
        keep, drop = [], []
        for index, item in enumerate(items):
            meta = {**self.describe(item), "index": index}
            host = meta["host"]
            suite = meta["suite"]
            wanted = host in hosts and (suite == BASELINE or suite in hosts[host].get("plugins", []))
            (keep if wanted else drop).append(item)
            if wanted:
                self.items[item.nodeid] = meta
        if drop:
            self._own_deselect.update(i.nodeid for i in drop)
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        # Deselected by a marker expression (live checks without --live-test...).
        for item in items:
            if item.nodeid not in self._own_deselect and item.nodeid in self.items:
                self.not_run.append(self.items.pop(item.nodeid))

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool:
        # A lost SSH connection says nothing of the server: the check runs once more, so that one
        # dropped connection does not fail a verify (nor roll an upgrade back). Lost twice, the
        # check fails with what ssh printed. Fixtures are not run again (their values are kept).
        args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        try:
            pyfuncitem.obj(**args)
        except RuntimeError as error:
            if lost_connection(error) is None:
                raise
            self.retried.add(pyfuncitem.nodeid)
            time.sleep(RETRY_PAUSE)
            try:
                pyfuncitem.obj(**args)
            except RuntimeError as again:
                lost = lost_connection(again)
                if lost is None:
                    raise
                pytest.fail(f"ssh exited 255 twice (a lost connection, or a command that exits 255 itself): {lost}",
                            pytrace=False)
        return True

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        meta = self.items.get(item.nodeid) or self.describe(item)
        result = self.results.setdefault(item.nodeid, {**meta, "outcome": "passed", "message": "",
                                                       "duration": 0.0})
        result["duration"] += report.duration
        result["retried"] = item.nodeid in self.retried
        if report.passed:
            return
        if report.skipped:
            reason = _skip_reason(report)
            na = reason.lower().startswith(NOT_APPLICABLE)
            result["outcome"] = "n/a" if na else "skipped"
            result["message"] = reason[len(NOT_APPLICABLE):].strip() if na else reason
        elif report.failed and result["outcome"] not in ("failed", "error"):
            result["outcome"] = "failed" if report.when == "call" else "error"
            result["message"] = _failure_message(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        # A check file that does not import is an error of its suite, on every host.
        if report.failed:
            suite = self.suite_of(Path(str(report.fspath)))
            self.results[report.nodeid or str(report.fspath)] = {
                "nodeid": report.nodeid, "host": None, "suite": suite["name"] if suite else "other",
                "check": f"collect {Path(str(report.fspath)).name}", "explanation": "the check file loads",
                "hint": "fix the error in the check file", "markers": [], "outcome": "error",
                "message": _failure_message(report), "duration": 0.0}

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        out = self.context.get("results")
        if not out:
            return
        data = {
            "exitstatus": int(exitstatus),
            "results": list(self.results.values()),
            "not_run": self.not_run,
            "facts": self.facts,
        }
        Path(out).write_text(json.dumps(data, indent=2, default=str))


#: seconds between a check whose SSH connection was lost and its second run
RETRY_PAUSE = 3.0


def lost_connection(error: BaseException) -> str | None:
    """What ssh printed when testinfra's SSH backend lost the connection, else None.

    testinfra raises ``RuntimeError(CommandResult)`` when ssh exits 255, its own code for a
    connection error (a remote command's 255 is remapped by the checks that can return it).
    """
    result = error.args[0] if isinstance(error, RuntimeError) and len(error.args) == 1 else None
    if getattr(result, "exit_status", None) != 255:
        return None
    # The raw bytes: decoding through the backend would ask the lost host for its encoding.
    raw = getattr(result, "_stderr", b"")
    stderr = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(ssh_error_lines(stderr))[:300] or "ssh exited 255 and printed nothing"


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
    else:
        reason = str(longrepr or "")
    return reason.removeprefix("Skipped: ").strip()


def _failure_message(report: pytest.TestReport | pytest.CollectReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr or "")
    # The first meaningful line: the assertion's own message, not pytest's rewrite of it.
    lines = [line for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else "failed"
    first = re.sub(r"^(AssertionError|assert|Failed)\s*:?\s*", "", first).strip() or "failed"
    return first[:500]


# --- pytest entry points --------------------------------------------------

def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("anl-stack")
    group.addoption("--anl-context", action="store", dest="anl_context", default=None,
                    help="JSON context written by `anl-stack verify`.")


def pytest_configure(config: pytest.Config) -> None:
    for name, meaning in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {meaning}")
    path = config.getoption("anl_context", None)
    try:
        context = read_context(Path(path)) if path else {}
    except AnlError as error:
        raise pytest.UsageError(str(error)) from None
    config.pluginmanager.register(VerifyPlugin(config, context), "anl_verify")
    parsable_remote_locale()



def _state(request: pytest.FixtureRequest) -> VerifyPlugin:
    plugin = request.config.pluginmanager.get_plugin("anl_verify")
    assert isinstance(plugin, VerifyPlugin)
    return plugin


# --- fixtures -------------------------------------------------------------

@pytest.fixture(scope="module")
def anl_host_name(host: Any) -> str:
    """The host's name in the commune inventory."""
    return str(getattr(host.backend, "host", None) or host.backend.get_pytest_id())


@pytest.fixture(scope="module")
def anl_hostvars(host: Any, request: pytest.FixtureRequest) -> dict[str, Any]:
    """Every variable of the host (secrets filtered out), templates resolved."""
    state = _state(request)
    raw = dict(host.backend.get_variables()) if hasattr(host.backend, "get_variables") else {}
    clean = {k: v for k, v in raw.items() if not _is_secret_key(k, state.secret_names)}
    return _render(clean, {})


@pytest.fixture(scope="module")
def anl_settings(anl_hostvars: dict[str, Any]) -> dict[str, Any]:
    """Commune settings: the ``anl_*`` variables (name, domain, admin e-mail, TLS mode, ...)."""
    return {k: v for k, v in anl_hostvars.items() if k.startswith("anl_")}


@pytest.fixture(scope="module")
def anl_host_context(anl_host_name: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    """What the verify service computed for this host: plugins, declared ports, web plugins and services."""
    return dict(_state(request).context.get("hosts", {}).get(anl_host_name, {}))


@pytest.fixture(scope="module")
def host_address(anl_hostvars: dict[str, Any], anl_host_name: str) -> str:
    """The address the controller reaches the host at (``ansible_host``)."""
    return str(anl_hostvars.get("ansible_host") or anl_host_name)


@pytest.fixture(scope="module")
def ssh_port(anl_hostvars: dict[str, Any]) -> int:
    return int(anl_hostvars.get("ansible_port") or 22)


@pytest.fixture(scope="module")
def declared_ports(anl_host_context: dict[str, Any], ssh_port: int) -> list[dict[str, Any]]:
    """Ports the host may expose: every port its plugins declare, plus SSH."""
    ports = [dict(p) for p in anl_host_context.get("declared_ports", [])]
    if not any(p["port"] == ssh_port and p.get("protocol", "tcp") == "tcp" for p in ports):
        ports.append({"port": ssh_port, "protocol": "tcp", "plugin": "ssh", "purpose": "SSH"})
    return ports


def plugin_variables(request: pytest.FixtureRequest, hostvars: dict[str, Any], name: str) -> dict[str, Any]:
    """Role defaults of plugin ``name`` overlaid with the inventory, templates resolved."""
    state = _state(request)
    suite = next((s for s in state.context.get("suites", []) if s["name"] == name), None)
    defaults: dict[str, Any] = {}
    if suite and suite.get("plugin_dir"):
        file = Path(suite["plugin_dir"]) / ROLES_DIR / name / "defaults" / "main.yml"
        if file.is_file():
            defaults = yaml.safe_load(file.read_text()) or {}
    merged = {k: v for k, v in defaults.items() if not _is_secret_key(k, state.secret_names)}
    merged.update({k: v for k, v in hostvars.items() if k.startswith(f"{name}_")})
    subdomain = (suite or {}).get("subdomain")
    if subdomain and f"{name}_domain" not in merged and hostvars.get("anl_domain"):
        merged[f"{name}_domain"] = f"{subdomain}.{hostvars['anl_domain']}"
    return {k: v for k, v in _render(merged, hostvars).items() if k.startswith(f"{name}_")}


@pytest.fixture(scope="module")
def web_domains(request: pytest.FixtureRequest, anl_host_context: dict[str, Any],
                anl_hostvars: dict[str, Any]) -> list[str]:
    """The domain of each web plugin on the host (n/a when it has none)."""
    domains = []
    for name in anl_host_context.get("web_plugins", []):
        domain = plugin_variables(request, anl_hostvars, name).get(f"{name}_domain")
        if domain:
            domains.append(str(domain))
    if not domains:
        pytest.skip(f"{NOT_APPLICABLE} no web plugin on this host")
    return domains


@pytest.fixture(scope="module")
def plugin_name(request: pytest.FixtureRequest) -> str:
    """The plugin whose ``verify/`` folder holds the running check."""
    suite = _state(request).suite_of(Path(str(request.path)))
    if suite is None or suite["name"] == BASELINE:
        pytest.fail("plugin_name is only available to a plugin's own checks")
    return str(suite["name"])


@pytest.fixture(scope="module")
def plugin_vars(request: pytest.FixtureRequest, anl_hostvars: dict[str, Any], plugin_name: str) -> dict[str, Any]:
    """The running plugin's variables (``<plugin>_domain``, ports, paths...), never its secrets."""
    return plugin_variables(request, anl_hostvars, plugin_name)


@pytest.fixture(scope="module")
def anl_secret(host: Any, request: pytest.FixtureRequest) -> Callable[[str], Secret]:
    """Ask for one secret by name; you get a :class:`Secret` (``.reveal()``), never printed."""

    def get(name: str) -> Secret:
        raw = host.backend.get_variables() if hasattr(host.backend, "get_variables") else {}
        if name not in raw:
            pytest.fail(f"secret {name!r} is not in the inventory")
        return Secret(str(raw[name]))

    return get


@pytest.fixture(scope="module")
def anl_basic_auth(anl_secret: Callable[[str], Secret]) -> Callable[[str, str], Secret]:
    """``anl_basic_auth(user, secret_name)``: an HTTP Basic ``Authorization`` value, as a :class:`Secret`."""

    def header(user: str, secret_name: str) -> Secret:
        pair = f"{user}:{anl_secret(secret_name).reveal()}".encode()
        return Secret("Basic " + base64.b64encode(pair).decode("ascii"))

    return header


@pytest.fixture(scope="module")
def https_get(host_address: str) -> Callable[..., tuple[int, dict[str, str], bytes]]:
    """``https_get(domain, path="/", headers=None)`` from the controller to this host's address.

    Returns (status, headers with lower-case names, body). The name is sent
    as SNI and Host, so no DNS entry is needed; any certificate is accepted
    (self-signed is a valid TLS mode; the baseline checks protocols).
    A header value may be a :class:`Secret` (see ``anl_basic_auth``); it is revealed only on the wire.
    """
    def get(domain: str, path: str = "/", headers: dict[str, Any] | None = None,
            port: int = 443) -> tuple[int, dict[str, str], bytes]:
        sent = {k: (v.reveal() if isinstance(v, Secret) else str(v)) for k, v in (headers or {}).items()}
        return https_headers(host_address, domain, port=port, path=path, headers=sent)

    return get


@pytest.fixture
def anl_fact(anl_host_name: str, request: pytest.FixtureRequest) -> Callable[[str, Any], None]:
    """Record a fact for the report, e.g. ``anl_fact("nginx version", "1.26.3")``."""
    state = _state(request)

    def record(name: str, value: Any) -> None:
        state.facts.setdefault(anl_host_name, {})[name] = value

    return record


@pytest.fixture(scope="module", autouse=True)
def _anl_host_facts(request: pytest.FixtureRequest) -> None:
    # Debian release of every host, once per module, for the report.
    if "host" not in request.fixturenames:
        return
    host = request.getfixturevalue("host")
    name = request.getfixturevalue("anl_host_name")
    state = _state(request)
    facts = state.facts.setdefault(name, {})
    if "debian_version" in facts:
        return
    try:
        info = host.system_info
        facts["debian_version"] = host.file("/etc/debian_version").content_string.strip()
        facts["codename"] = info.codename
        facts["distribution"] = info.distribution
    except Exception as error:  # noqa: BLE001 - an unreachable host fails in its checks, not here
        facts["debian_version"] = f"unknown ({type(error).__name__})"
