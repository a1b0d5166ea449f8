"""The ``vatti`` command: run jobs, serve the API, talk to a server, check the configuration.

Exit statuses: 0 success; 1 the job failed or was cancelled; 2 bad usage or request;
69 a server could not be reached; 70 the engine stopped on an internal error; 78 invalid
configuration (or a second engine on a SQLite database).

Start-up stays fast because this module imports only typer: each command imports what it needs
(the settings, httpx, rich's widgets, the service), and ``vatti pgs`` (polars, numpy) is loaded
only when it is the command run (:class:`LazyGroup`).
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from vatti.errors import ConfigError, VattiError
from vatti.logging_setup import configure_logging

if TYPE_CHECKING:
    import httpx
    from rich.console import Console
    from rich.text import Text
    from typer import _click

    from vatti.config import Settings
    from vatti.domain.jobs import Job
    from vatti.store.tokens import SqlTokenStore


def load_pgs_group() -> _click.Command:
    """The real ``vatti pgs`` group (imports the calculator: polars, numpy)."""
    from vatti.pipelines.pgs.cli import pgs_app

    wrapper = typer.Typer()
    wrapper.add_typer(pgs_app, name="pgs", help=PGS_HELP)
    return typer.main.get_group(wrapper).commands["pgs"]


class LazyGroup(TyperGroup):
    """A group whose heavy sub-groups are placeholders until one of them is the command run.

    ``vatti --help`` lists a placeholder (its name and help only); resolving ``vatti pgs ...``
    swaps in the real group first, so its help, options and errors are the real ones.
    """

    lazy: dict[str, Callable[[], _click.Command]] = {"pgs": load_pgs_group}

    def resolve_command(
        self, ctx: _click.Context, args: list[str]
    ) -> tuple[str | None, _click.Command | None, list[str]]:
        loader = self.lazy.get(args[0]) if args else None
        if loader is not None:
            self.commands[args[0]] = loader()
        return super().resolve_command(ctx, args)


class LazyConsole:
    """A rich console made on first use, so a command that prints nothing imports no rich."""

    def __init__(self, *, stderr: bool = False) -> None:
        self.stderr = stderr
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self.stderr)
        return self._console

    @property
    def is_terminal(self) -> bool:
        return self.console.is_terminal

    def print(self, *objects: Any, **kwargs: Any) -> None:
        self.console.print(*objects, **kwargs)

    def print_json(self, *args: Any, **kwargs: Any) -> None:
        self.console.print_json(*args, **kwargs)


def text(value: str) -> Text:
    from rich.text import Text

    return Text(value)


app = typer.Typer(
    name="vatti",
    cls=LazyGroup,
    help="Secure job submission for genomic pipelines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="The configuration contract: print it, check it.")
app.add_typer(config_app, name="config")

out = LazyConsole()
err = LazyConsole(stderr=True)

EXIT_JOB_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 69
EXIT_SOFTWARE = 70

UrlOption = Annotated[
    str | None,
    typer.Option("--url", envvar="VATTI_URL", help="Server base URL, e.g. http://127.0.0.1:8000."),
]
TokenOption = Annotated[
    str | None,
    typer.Option("--token", envvar="VATTI_TOKEN", help="Bearer token (or VATTI_TOKEN)."),
]


def protect_process() -> None:
    """A service process: its environment and memory unreadable through ``/proc`` by a job's
    command of the same uid (:func:`vatti.isolation.hardening.protect_process`)."""
    from vatti.isolation.hardening import protect_process as undumpable

    undumpable()


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(text(f"vatti: {message}"), style="red", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def load_settings(*components: str) -> Settings:
    from vatti.config import Settings

    try:
        return Settings.for_components(*components)
    except ConfigError as exc:
        fail(exc.message, exc.exit_code)


# ---------------------------------------------------------------- configuration


@config_app.callback(invoke_without_command=True)
def config_show(
    ctx: typer.Context,
    component: Annotated[
        str | None, typer.Option("--component", "-c", help="Only this component.")
    ] = None,
    markdown: Annotated[bool, typer.Option(help="Markdown tables (for documentation).")] = False,
) -> None:
    """Print every variable of every component: default, whether required, what it does."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.table import Table

    from vatti.config import COMPONENTS, variables

    names = [component] if component else list(COMPONENTS)
    for name in names:
        if name not in COMPONENTS:
            fail(f"unknown component {name!r}: choose from {', '.join(COMPONENTS)}", EXIT_USAGE)
        spec = COMPONENTS[name]
        if markdown:
            rows = [v for group in spec.groups for v in variables(group)]
            sys.stdout.write(f"\n**{name}**: {spec.purpose}\n\n")
            sys.stdout.write("| variable | default | required | description |\n|---|---|---|---|\n")
            for var in rows:
                default = "(secret)" if var.secret and var.default else var.default
                sys.stdout.write(
                    f"| `{var.name}` | {default and f'`{default}`'} | {var.required} "
                    f"| {var.description} |\n"
                )
            continue
        table = Table(title=f"{name}: {spec.purpose}", title_justify="left", expand=False)
        for column in ("variable", "default", "required", "description"):
            table.add_column(column, overflow="fold")
        for group in spec.groups:
            for var in variables(group):
                default = "(secret)" if var.secret and var.default else var.default
                table.add_row(var.name, default, var.required, var.description)
        out.print(table)


@config_app.command("check")
def config_check(
    component: Annotated[str, typer.Option("--component", "-c", help="api, engine, runtime...")],
) -> None:
    """Validate the environment for COMPONENT; one line per missing or invalid variable."""
    from vatti.config import COMPONENTS

    if component not in COMPONENTS:
        fail(f"unknown component {component!r}: choose from {', '.join(COMPONENTS)}", EXIT_USAGE)
    settings = load_settings(component)
    if settings.api is not None:  # what ``vatti serve`` refuses besides the variables themselves
        from vatti.api.auth import check_auth_mode

        try:
            check_auth_mode(settings.api.auth == "none", settings.api.host)
        except ConfigError as exc:
            fail(exc.message, exc.exit_code)
    out.print(f"{component}: configuration OK")
    if settings.commands is not None:
        out.print(text(declared_commands(settings.commands.commands_file)), soft_wrap=True)
        if settings.commands.allow_raw_argv:
            out.print("raw argv: allowed (VATTI_ALLOW_RAW_ARGV): any submitter runs any program")


def declared_commands(path: Path | None) -> str:
    """Which commands the ``command`` pipeline runs, and from which file."""
    from vatti.pipelines.command_file import SHIPPED_COMMANDS, read_commands

    names = ", ".join(read_commands(path).names()) or "none"
    where = f"{path}" if path is not None else f"the shipped {SHIPPED_COMMANDS.name}"
    return f"commands: {names} (from {where})"


token_app = typer.Typer(
    help="Bearer tokens: one for VATTI_API_TOKENS, or ones kept in the database (create, list, "
    "revoke: the servers take them up within seconds, without a restart)."
)
app.add_typer(token_app, name="token")
ScopesOption = Annotated[
    str,
    typer.Option(
        help="Comma-separated: submit, read, admin; submit may be narrowed to a pipeline "
        "(submit:pgs) or a command (submit:command:hello)."
    ),
]


@token_app.callback(invoke_without_command=True)
def token(
    ctx: typer.Context,
    scopes: ScopesOption = "submit,read",
    tenant: Annotated[
        str | None, typer.Option(help="The backend the token is for (default: default).")
    ] = None,
) -> None:
    """Make a new bearer token and the VATTI_API_TOKENS entry (its hash) for the server."""
    if ctx.invoked_subcommand is not None:
        return
    from vatti.config import PREFIX
    from vatti.domain.access import check_tenant
    from vatti.domain.scopes import format_scopes, parse_scopes
    from vatti.tokens import hash_token, new_token

    try:
        checked = format_scopes(parse_scopes(scopes))
        prefix = f"{check_tenant(tenant)}@" if tenant is not None else ""
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    value = new_token()
    digest = hash_token(value)
    out.print(f"token (give it to the client, store it nowhere else): {value}", highlight=False)
    out.print(f"{PREFIX}API_TOKENS entry: {prefix}{digest}:{checked}", highlight=False)


def token_store() -> SqlTokenStore:
    """The database's tokens (the ``admin`` component's settings), migrated to head."""
    from vatti.assembly import database_url
    from vatti.store.connect import create_db_engine
    from vatti.store.migrate import migrate
    from vatti.store.tokens import SqlTokenStore

    settings = load_settings("admin")
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = database_url(settings)
        migrate(url)
        return SqlTokenStore(create_db_engine(url))
    except VattiError as exc:
        fail(exc.message, exc.exit_code)


@token_app.command("create")
def token_create(
    tenant: Annotated[str, typer.Option(help="The backend the token is for (its tenant).")],
    description: Annotated[str, typer.Option(help="What the token is for, for `token list`.")],
    scopes: ScopesOption = "submit,read",
    expires: Annotated[
        str | None, typer.Option(help="Lifetime (90d, 12h...); default: until revoked.")
    ] = None,
) -> None:
    """Make a token kept in the database; prints it once (only its hash is kept)."""
    from datetime import timedelta

    from vatti.config import parse_duration
    from vatti.domain.times import utcnow

    now = utcnow()
    try:
        lifetime = parse_duration(expires) if expires is not None else None
        assert lifetime is None or isinstance(lifetime, float)
        record, value = token_store().create(
            tenant=tenant,
            scopes=scopes.split(","),
            description=description,
            now=now,
            expires_at=now + timedelta(seconds=lifetime) if lifetime is not None else None,
        )
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    except VattiError as exc:
        fail(exc.message, exc.exit_code)
    out.print(f"token (give it to the client, store it nowhere else): {value}", highlight=False)
    out.print(f"id: {record.id}", highlight=False)


@token_app.command("list")
def token_list() -> None:
    """The database's tokens (never the tokens themselves): id, tenant, scopes, state."""
    from vatti.domain.scopes import format_scopes
    from vatti.domain.times import utcnow

    try:
        records = token_store().list()
    except VattiError as exc:
        fail(exc.message, exc.exit_code)
    now = utcnow()
    for r in records:
        state = (
            "revoked" if r.revoked_at is not None else "expired" if not r.valid_at(now) else "valid"
        )
        expires = r.expires_at.isoformat() if r.expires_at is not None else "-"
        out.print(
            f"{r.id}  {r.tenant}  {format_scopes(r.scopes)}  {state}  expires {expires}  "
            f"{r.description}",
            highlight=False,
            soft_wrap=True,
        )


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The id `token list` shows.")],
) -> None:
    """Revoke a database token; servers refuse it within seconds."""
    from vatti.domain.times import utcnow

    try:
        record = token_store().revoke(token_id, utcnow())
    except VattiError as exc:
        fail(exc.message, exc.exit_code)
    out.print(f"revoked {record.id} ({record.tenant}: {record.description})", highlight=False)


secrets_app = typer.Typer(help="The service key that seals secrets in the database.")
app.add_typer(secrets_app, name="secrets")


@secrets_app.command("key")
def secrets_key() -> None:
    """Print a new service key (for VATTI_SECRET_KEY; put it first to rotate, keep the old
    one after it until `vatti secrets reseal` has run)."""
    from vatti.secretbox import new_key

    out.print(new_key(), highlight=False)


@secrets_app.command("reseal")
def secrets_reseal() -> None:
    """Seal every secret in the database again with the newest key; afterwards the keys after
    the first can be removed."""
    from vatti.assembly import database_url, service_secrets
    from vatti.store.migrate import migrate
    from vatti.store.sql import open_store

    settings = load_settings("admin")
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = database_url(settings)
        migrate(url)
        store = open_store(url, secrets=service_secrets(settings))
        try:
            count = store.reseal_secrets()
        finally:
            store.close()
    except VattiError as exc:
        fail(exc.message, exc.exit_code)
    out.print(f"resealed {count} secret value(s) with the newest key")


# ---------------------------------------------------------------- the database schema

db_app = typer.Typer(help="The job database's schema (what the Helm chart's hook Job runs).")
app.add_typer(db_app, name="db")


def admin_database_url() -> str:
    from vatti.assembly import database_url

    settings = load_settings("admin")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return database_url(settings)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the job database to this release's schema (idempotent; safe to run while other
    replicas start). Refuses a database a newer release migrated (exit 78)."""
    from vatti.store.migrate import head_revision, migrate

    url = admin_database_url()
    try:
        migrate(url)
    except VattiError as exc:
        fail(exc.message, exc.exit_code)
    out.print(f"job database at revision {head_revision()}", highlight=False)


@db_app.command("check")
def db_check() -> None:
    """Exit 0 when the job database is at this release's schema; 1 when it still needs
    `vatti db upgrade`; 78 when a newer release migrated it."""
    from vatti.store.migrate import head_revision, refuse_newer, schema_revision

    try:
        revision = schema_revision(admin_database_url())
        refuse_newer(revision)
    except VattiError as exc:
        fail(exc.message, exc.exit_code)
    if revision != head_revision():
        fail(
            f"the job database is at revision {revision}, this release needs "
            f"{head_revision()}: run `vatti db upgrade`"
        )
    out.print(f"job database at revision {revision}: current", highlight=False)


# ---------------------------------------------------------------- the server


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (VATTI_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (VATTI_PORT).")] = None,
    engine: Annotated[
        bool,
        typer.Option(
            "--engine/--no-engine",
            help="Run the engine in this process (the default); --no-engine: an API-only "
            "replica, with engines elsewhere (vatti engine).",
        ),
    ] = True,
) -> None:
    """Run the HTTP API (and the engine, unless --no-engine) until SIGTERM or Ctrl-C."""
    protect_process()
    import uvicorn

    from vatti.api.auth import check_auth_mode
    from vatti.assembly import EngineRunner, open_service
    from vatti.config import PREFIX
    from vatti.engine.errors import SecondEngine

    if host is not None:
        os.environ[f"{PREFIX}HOST"] = host
    if port is not None:
        os.environ[f"{PREFIX}PORT"] = str(port)
    # an API-only replica reads the engine group only for what submissions write (the service
    # webhook); every engine variable has a default, so it needs none of them set
    settings = (
        load_settings("api", "engine", "runtime") if engine else load_settings("api", "engine")
    )
    assert settings.api is not None
    configure_logging(settings.common.log_level)
    try:
        check_auth_mode(settings.api.auth == "none", settings.api.host)
        service = open_service(settings)
    except VattiError as exc:
        fail(exc.message, exc.exit_code)
    if settings.api.auth == "tokens" and not settings.api.configured_tokens():
        from vatti.domain.times import utcnow
        from vatti.store.tokens import SqlTokenStore

        now = utcnow()
        if not any(t.valid_at(now) for t in SqlTokenStore(service.store.engine).list()):
            logging.getLogger("vatti.api").warning(
                "api.no_tokens: no bearer token is configured (VATTI_API_TOKENS) or stored "
                "(vatti token create): every request but /healthz and /readyz is refused"
            )
    runner = EngineRunner(service.engine) if engine else None
    server = uvicorn.Server(
        uvicorn.Config(
            service.app(runner),
            host=settings.api.host,
            port=settings.api.port,
            log_level=settings.common.log_level.lower(),
            log_config=None,  # uvicorn's lines go through vatti's format (with request ids)
            lifespan="on",
            ssl_certfile=settings.api.tls_cert_file,
            ssl_keyfile=settings.api.tls_key_file,
            ssl_keyfile_password=(
                settings.api.tls_key_password.get_secret_value()
                if settings.api.tls_key_password is not None
                else None
            ),
        )
    )

    def request_exit(signum: int, frame: object) -> None:
        del signum, frame
        server.should_exit = True

    if runner is not None:  # the engine stopped on its own: stop serving, loudly (below)
        runner.on_stopped = lambda: setattr(server, "should_exit", True)
    # uvicorn handles SIGTERM/SIGINT while it serves (the lifespan's end stops the engine), then
    # re-raises the signal with the handler it found: ours, so the process exits normally
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, request_exit)
    try:
        server.run()
    finally:
        service.close()
    error = runner.error if runner is not None else None
    if error is not None:
        code = error.exit_code if isinstance(error, SecondEngine) else EXIT_SOFTWARE
        fail(f"the engine stopped: {error}", code)
    if not server.started:
        fail(f"could not listen on {settings.api.host}:{settings.api.port}", EXIT_UNAVAILABLE)


@app.command("engine")
def engine_command() -> None:
    """Run the engine's control loops alone (no HTTP API) until SIGTERM or Ctrl-C.

    Several engines may share one PostgreSQL database (VATTI_DATABASE_URL); SQLite keeps one.
    """
    protect_process()
    import asyncio

    from vatti.assembly import open_service, run_engine
    from vatti.engine.errors import SecondEngine

    settings = load_settings("engine", "runtime")
    configure_logging(settings.common.log_level)
    try:
        service = open_service(settings)
    except VattiError as exc:
        fail(exc.message, exc.exit_code)

    try:
        asyncio.run(run_engine(service.engine))
    except SecondEngine as exc:
        fail(exc.message, exc.exit_code)
    except VattiError as exc:
        fail(f"the engine stopped: {exc}", EXIT_SOFTWARE)
    finally:
        service.close()


@app.command("worker")
def worker_command(
    queues: Annotated[
        str | None,
        typer.Option(
            "--queues",
            "-Q",
            help="Queues to consume, comma-separated (default: every queue "
            "in VATTI_CELERY_QUEUES and VATTI_CELERY_DEFAULT_QUEUE).",
        ),
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-c", min=1, help="VATTI_CELERY_CONCURRENCY.")
    ] = None,
    pool: Annotated[
        str | None, typer.Option("--pool", "-P", help="prefork or solo (VATTI_CELERY_POOL).")
    ] = None,
    events: Annotated[
        bool | None,
        typer.Option("--events/--no-events", "-E", help="Send task events, for Flower."),
    ] = None,
    hostname: Annotated[
        str | None, typer.Option("--hostname", "-n", help="Node name (default vatti@HOST).")
    ] = None,
    job_entry: Annotated[
        str | None, typer.Option("--job-entry", hidden=True, help="module:function of jobs.")
    ] = None,
) -> None:
    """Run a Celery worker for VATTI_EXECUTOR=celery: each job in a child process that exits
    with it. SIGTERM waits for the running jobs (warm shutdown)."""
    protect_process()
    settings = load_settings("worker")
    configure_logging(settings.common.log_level)
    if pool is not None and pool not in ("prefork", "solo"):
        fail(f"--pool: expected prefork or solo, got {pool!r}", EXIT_USAGE)
    try:
        from vatti.executors.celery_worker import run_worker
    except ImportError as exc:
        fail(f"vatti worker needs the 'celery' extra: pip install 'vatti[celery]' ({exc})", 78)
    options: dict[str, Any] = {}
    if job_entry is not None:
        options["entry"] = job_entry
    try:
        code = run_worker(
            settings,
            queues=[q.strip() for q in queues.split(",") if q.strip()] if queues else None,
            concurrency=concurrency,
            pool=pool,
            events=events,
            hostname=hostname,
            **options,
        )
    except VattiError as exc:
        fail(exc.message, exc.exit_code)
    raise typer.Exit(code)


@app.command("job-run", hidden=True)
def job_run(job_id: Annotated[str, typer.Option("--job-id")]) -> None:
    """Run one job where an executor placed it (internal; executors use python -m vatti.runtime)."""
    from vatti.runtime.main import job_run_main

    raise typer.Exit(job_run_main(job_id))


# ---------------------------------------------------------------- running a job


def read_request(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}", EXIT_USAGE)


class Progress:
    """A one-line live display: job id, state, elapsed time."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.job_id = "(submitting)"
        self.state = "submitting"

    def update(self, job_id: str, state: str) -> None:
        self.job_id, self.state = job_id, state

    def __rich__(self) -> Text:
        from rich.text import Text

        elapsed = time.monotonic() - self.started
        return Text.assemble(
            ("job ", "dim"),
            (self.job_id, "bold"),
            "  ",
            (f"{self.state:<12}", "cyan"),
            f"  {elapsed:6.1f}s",
        )


def describe_failure(job: Job) -> str:
    failure = job.failure
    if failure is None:
        return f"job {job.id} {job.state.value}"
    where = ""
    if failure.step:
        code = f", exit status {failure.exit_code}" if failure.exit_code is not None else ""
        where = f" (step {failure.step}{code})"
    return f"job {job.id} {job.state.value}: {failure.message}{where}"


def results_location(settings: Settings, job_id: str) -> str:
    from vatti.domain.layout import results_prefix

    return settings.results_store_url().rstrip("/") + "/" + results_prefix(job_id)


@app.command("run")
def run(
    request: Annotated[Path, typer.Argument(help="A job request (JSON), see examples/.")],
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Run a job to the end: in this process on embedded defaults, or on the server at --url.

    Local input paths in the request are read relative to (and must lie under) the current
    directory.
    """
    raw = read_request(request)
    if url:
        _run_remote(raw, url, token)
        return
    protect_process()  # the engine runs here
    from rich.live import Live

    from vatti.assembly import open_service
    from vatti.engine.oneshot import run_one

    settings = load_settings("cli")
    # the outcome is printed below; the engine's own lines only when asked for (DEBUG)
    configure_logging("ERROR" if settings.common.log_level != "DEBUG" else "DEBUG")
    from vatti.domain.access import Caller
    from vatti.service.errors import DuplicateClientId
    from vatti.store.base import NewJob

    try:
        service = open_service(settings, input_root=Path.cwd())
    except VattiError as exc:
        fail(exc.message, exc.exit_code)

    def submit(new: NewJob) -> Job:
        try:
            return service.jobs.submit_new(new).job
        except DuplicateClientId as exc:  # follow the job that has this client_id
            err.print(f"a job with this client_id exists already: {exc.job.id}")
            return exc.job

    progress = Progress()
    try:
        caller = Caller.operator(operator_name())
        # an invalid request is told before anything starts
        new = service.jobs.validate(raw, caller=caller)
        with Live(progress, console=err.console, refresh_per_second=4, transient=False):
            job = run_one(
                service.engine, lambda: submit(new), lambda j: progress.update(j.id, j.state.value)
            )
        if not err.is_terminal:
            err.print()
        outputs = []
        warnings: list[Any] = []
        if job.state.value == "succeeded":
            outputs = [(e.name, e.size) for e in service.jobs.outputs(job.id, caller=caller)]
            warnings = succeeded_warnings(service.jobs.events(job.id, caller=caller))
    except VattiError as exc:
        fail(f"{request}: {request_error_message(exc)}", exc.exit_code)
    finally:
        service.close()
    _finish(job.id, job.state.value, describe_failure(job), results_location(settings, job.id))
    for name, size in outputs:
        out.print(f"  {name}  ({size:,} bytes)", soft_wrap=True, highlight=False)
    print_warnings(warnings)


def operator_name() -> str:
    """The operator's user name, for the actor of what ``vatti run`` does."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid-{os.getuid()}"


def succeeded_warnings(events: list[Any]) -> list[Any]:
    """The warnings of a job's ``succeed`` event (what a success did not do)."""
    for record in reversed(events):
        if record.event.value == "succeed":
            return list(record.detail.get("warnings") or [])
    return []


def print_warnings(warnings: list[Any]) -> None:
    """What a job that succeeded did not do (its ``succeeded`` event's warnings), on stderr."""
    for warning in warnings:
        message = warning.get("message") if isinstance(warning, dict) else None
        err.print(text(f"warning: {message}"), style="yellow", soft_wrap=True, highlight=False)


def request_error_message(exc: VattiError) -> str:
    """An error of a submission, with each bad field named."""
    details = getattr(exc, "details", None) or getattr(exc, "errors", None) or []
    lines = "; ".join(f"{d['field']}: {d['message']}" for d in details)
    return exc.message + (f": {lines}" if lines and lines not in exc.message else "")


def _finish(job_id: str, state: str, failure: str, results: str) -> None:
    if state == "succeeded":
        out.print(f"job {job_id} succeeded; results in {results}", soft_wrap=True)
        return
    fail(failure, EXIT_JOB_FAILED)


# ---------------------------------------------------------------- client commands


class Client:
    def __init__(self, url: str | None, token: str | None) -> None:
        import httpx

        if not url:
            fail("no server: pass --url or set VATTI_URL", EXIT_USAGE)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url.rstrip("/") + "/api/v1", headers=headers)

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        import httpx

        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            fail(f"cannot reach the server: {exc}", EXIT_UNAVAILABLE)
        if response.status_code >= 500:  # the server's trouble, not the request's
            fail(api_error_message(response), EXIT_UNAVAILABLE)
        if response.status_code >= 400 and response.status_code != 409:
            fail(api_error_message(response), EXIT_USAGE)
        return response


def api_error_message(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        details = "; ".join(f"{d['field']}: {d['message']}" for d in error.get("details", []))
        return f"{response.status_code} {error['message']}" + (f": {details}" if details else "")
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code} {response.text[:200]}"


def _submit(client: Client, raw: bytes) -> dict[str, Any]:
    response = client.call(
        "POST", "/jobs", content=raw, headers={"Content-Type": "application/json"}
    )
    body: dict[str, Any] = response.json()
    if response.status_code == 409:
        job: dict[str, Any] = body["job"]
        err.print(f"a job with this client_id exists already: {job['id']}")
        return job
    if response.headers.get("X-Vatti-Deduplicated") == "true":
        err.print(f"an identical request was submitted already: job {body['id']} (not run again)")
    return body


def _run_remote(raw: bytes, url: str, token: str | None) -> None:
    from rich.live import Live

    client = Client(url, token)
    job = _submit(client, raw)
    progress = Progress()
    with Live(progress, console=err.console, refresh_per_second=4):
        while True:
            progress.update(job["id"], job["state"])
            if job["state"] in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.5)
            job = client.call("GET", f"/jobs/{job['id']}").json()
    if not err.is_terminal:
        err.print()
    failure = job.get("failure") or {}
    message = f"job {job['id']} {job['state']}: {failure.get('message', '')}"
    _finish(job["id"], job["state"], message, f"{url.rstrip('/')}/api/v1/jobs/{job['id']}/outputs")
    events = client.call("GET", f"/jobs/{job['id']}/events").json().get("events") or [{}]
    succeeded = [e for e in events if e.get("event") == "succeed"][-1:] or [{}]
    print_warnings((succeeded[0].get("detail") or {}).get("warnings") or [])


@app.command("submit")
def submit(
    request: Annotated[Path, typer.Argument(help="A job request (JSON).")],
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Submit a job to the server and print it (JSON)."""
    job = _submit(Client(url, token), read_request(request))
    out.print_json(data=job)


@app.command("status")
def status(
    job_id: Annotated[str, typer.Argument()], url: UrlOption = None, token: TokenOption = None
) -> None:
    """Print a job (JSON)."""
    out.print_json(data=Client(url, token).call("GET", f"/jobs/{job_id}").json())


@app.command("logs")
def logs(
    job_id: Annotated[str, typer.Argument()],
    url: UrlOption = None,
    token: TokenOption = None,
    tail: Annotated[int | None, typer.Option(help="Only the last N lines.")] = None,
) -> None:
    """Print a job's log."""
    params = {"tail": tail} if tail is not None else {}
    sys.stdout.write(Client(url, token).call("GET", f"/jobs/{job_id}/logs", params=params).text)


def _job_action(job_id: str, action: str, url: str | None, token: str | None) -> None:
    """POST a job action; a 409 (the job's state does not allow it) exits 1 with the reason."""
    response = Client(url, token).call("POST", f"/jobs/{job_id}/{action}")
    if response.status_code == 409:
        fail(api_error_message(response), EXIT_JOB_FAILED)
    job = response.json()
    out.print(f"job {job['id']}: {job['state']}")


@app.command("cancel")
def cancel(
    job_id: Annotated[str, typer.Argument()], url: UrlOption = None, token: TokenOption = None
) -> None:
    """Cancel a job."""
    _job_action(job_id, "cancel", url, token)


@app.command("retry")
def retry(
    job_id: Annotated[str, typer.Argument()], url: UrlOption = None, token: TokenOption = None
) -> None:
    """Run a failed or cancelled job again: a new attempt of the same job (same client_id)."""
    _job_action(job_id, "retry", url, token)


PGS_HELP = "Polygenic scores in the manner of the PGS Catalog Calculator."
#: listed by ``vatti --help``; replaced by the real group when ``vatti pgs ...`` runs
pgs_placeholder = typer.Typer(help=PGS_HELP)
app.add_typer(pgs_placeholder, name="pgs")


#: Set by :func:`main`: this process runs one command and ends (not a test's CliRunner).
_one_command = False


def freeze_heap() -> None:
    """In a one-command process (:func:`main`), exempt every object made so far from garbage
    collection (:func:`gc.freeze`): a short run's imported modules (some 60,000 objects) live
    until it ends, so no collection needs to walk them again, nor the interpreter's last
    collection at exit. Cycles made afterwards are still collected. Measured on issue 9's
    one-score run (``vatti pgs score``, 5,000 x 200,000): 1.27 s -> 1.17 s."""
    if _one_command:
        gc.freeze()


def main() -> None:
    global _one_command
    _one_command = True
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        app()
    except VattiError as exc:
        err.print(text(f"vatti: {exc.message}"), style="red", highlight=False)
        sys.exit(exc.exit_code)
    finally:
        freeze_heap()  # the process ends now: nothing left is worth a last collection
