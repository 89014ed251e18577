"""Real maven2 repository servers (nginx and Apache httpd WebDAV) for the integration tests.

Each server runs in the foreground on 127.0.0.1, on a free port, with its configuration, data, logs and pid
file in one temporary directory that is removed when it stops. One nginx process serves two locations:

    /repo/        plain WebDAV: PUT gives 201 for a new file and 204 when it overwrites one
    /immutable/   refuses to overwrite a file with 409, like a Nexus release repository with redeploy
                  disabled, except ``maven-metadata.xml*``, which may always be rewritten

One Apache httpd (mod_dav) process serves ``/repo/``: a PUT into a missing parent gives 409 (clients MKCOL
each level first), ``If-None-Match: *`` and ``If-Match: <etag>`` are honoured.

Both ask for HTTP basic authentication on every request. When we run as root, the worker processes run as
``www-data`` (as in production) and the data directories belong to that account.
"""

from __future__ import annotations

import grp
import http.client
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Protocol

from realtools import free_port

__all__ = [
    "APACHE_REALM",
    "KINDS",
    "NGINX_REALM",
    "Credentials",
    "DavRepo",
    "DavServer",
    "RepoFactory",
    "ServerNotInstalled",
    "ServerStartError",
    "apache",
    "find_apache",
    "find_nginx",
    "free_port",
    "nginx",
]

KINDS = ("nginx", "nginx-immutable", "apache")
NGINX_REALM = "Nginx Test Repository"
APACHE_REALM = "Apache Test Repository"

_HOST = "127.0.0.1"
_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0
_BIND_ATTEMPTS = 3
_SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin"
_APACHE_MODULE_DIRS = ("/usr/lib/apache2/modules", "/usr/lib64/httpd/modules", "/usr/lib/httpd/modules")
_APACHE_MODULES = (
    "unixd",
    "log_config",
    "authn_core",
    "authn_file",
    "authz_core",
    "authz_user",
    "auth_basic",
    "autoindex",
    "dav",
    "dav_fs",
)


class ServerNotInstalled(RuntimeError):
    """The server binary (or a module it needs) is not on this machine."""


class ServerStartError(RuntimeError):
    """The server did not start listening; the message carries its logs."""


@dataclass(frozen=True)
class Credentials:
    """The one account every test server accepts."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class DavRepo:
    """A fresh, empty maven2 repository on a running server, and the directory that backs it."""

    kind: str  # "nginx", "nginx-immutable" or "apache"
    url: str  # ends with "/"
    root: Path
    username: str
    password: str = field(repr=False)
    realm: str  # as the server's WWW-Authenticate challenge names it
    honours_if_none_match: bool  # PUT with If-None-Match: * gives 412 over an existing file
    refuses_overwrite: bool  # PUT over an existing file gives 409 (maven-metadata.xml* excepted)
    owner: tuple[int, int] | None = field(default=None, repr=False)  # uid, gid the server writes files as

    @property
    def auth(self) -> tuple[str, str]:
        return (self.username, self.password)

    def write(self, relative_path: str, data: bytes) -> Path:
        """Put a file behind the server's back (to plant or tamper with content), owned as the server would."""
        path = self.root / relative_path
        _make_dirs(path.parent, self.owner)
        path.write_bytes(data)
        _chown(path, self.owner)
        return path


class RepoFactory(Protocol):
    """What the ``dav_repo_factory`` fixture hands a test."""

    def __call__(self, kind: str, label: str = "") -> DavRepo: ...


@dataclass(frozen=True)
class _Location:
    kind: str
    prefix: str  # first URL path segment, also the directory under the data root
    honours_if_none_match: bool = False
    refuses_overwrite: bool = False


@dataclass
class DavServer:
    """A running server process and the repository locations it serves."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    workdir: Path
    realm: str
    credentials: Credentials
    locations: dict[str, _Location]
    owner: tuple[int, int] | None
    #: nginx also listens here for HTTP/2 without TLS (h2c, prior knowledge only); 0: no such listener.
    http2_port: int = 0
    #: nginx also listens here over TLS, HTTP/2 offered by ALPN (``nginx(tls=...)``); 0: no such listener.
    tls_port: int = 0
    _serial: Iterator[int] = field(default_factory=lambda: count(1), repr=False)

    @property
    def data_root(self) -> Path:
        return self.workdir / "data"

    @property
    def error_log(self) -> Path:
        return self.workdir / "error.log"

    def new_repo(self, kind: str, label: str = "") -> DavRepo:
        """Create a fresh, empty repository of ``kind`` under a sub-path no other caller gets."""
        try:
            location = self.locations[kind]
        except KeyError:
            raise ValueError(f"{self.name} serves no {kind!r} repository, only {sorted(self.locations)}") from None
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-.")[:40]
        name = f"t{next(self._serial)}" + (f"-{slug}" if slug else "")
        root = self.data_root / location.prefix / name
        _make_dirs(root, self.owner)
        return DavRepo(
            kind=kind,
            url=f"http://{_HOST}:{self.port}/{location.prefix}/{name}/",
            root=root,
            username=self.credentials.username,
            password=self.credentials.password,
            realm=self.realm,
            honours_if_none_match=location.honours_if_none_match,
            refuses_overwrite=location.refuses_overwrite,
            owner=self.owner,
        )


def find_nginx() -> str:
    return _find_binary("nginx")


def find_apache() -> tuple[str, Path]:
    """The httpd binary and its modules directory."""
    binary = _find_binary("apache2", "httpd")
    for candidate in _APACHE_MODULE_DIRS:
        if (Path(candidate) / "mod_dav.so").is_file():
            return binary, Path(candidate)
    raise ServerNotInstalled(f"mod_dav.so not found in any of {', '.join(_APACHE_MODULE_DIRS)}")


@contextmanager
def nginx(
    binary: str, credentials: Credentials, *, realm: str = NGINX_REALM, tls: tuple[Path, Path] | None = None
) -> Iterator[DavServer]:
    """Run nginx with a plain (``/repo/``) and an immutable (``/immutable/``) WebDAV location; given ``tls`` (the
    certificate chain and key files), also over TLS with HTTP/2 on :attr:`DavServer.tls_port`."""
    locations = {
        "nginx": _Location("nginx", "repo"),
        "nginx-immutable": _Location("nginx-immutable", "immutable", refuses_overwrite=True),
    }

    http2_port = [0]
    tls_port = [0]

    def command(workdir: Path, port: int, account: _Account | None) -> list[str]:
        http2_port[0] = free_port()
        tls_port[0] = free_port() if tls else 0
        conf = _nginx_conf(workdir, port, realm, account, http2_port[0])
        if tls:
            listen = f"        listen {_HOST}:{port};\n"
            conf = conf.replace(
                listen,
                listen + f"        listen {_HOST}:{tls_port[0]} ssl http2;\n"
                f"        ssl_certificate {tls[0]};\n        ssl_certificate_key {tls[1]};\n",
            )
        (workdir / "nginx.conf").write_text(conf)
        return [binary, "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-e", str(workdir / "error.log")]

    with _serve("nginx", "nginx", command, credentials, realm, locations) as server:
        server.http2_port = http2_port[0]
        server.tls_port = tls_port[0]
        yield server


@contextmanager
def apache(
    binary: str, modules_dir: Path, credentials: Credentials, *, realm: str = APACHE_REALM
) -> Iterator[DavServer]:
    """Run Apache httpd with one mod_dav location (``/repo/``)."""
    locations = {"apache": _Location("apache", "repo", honours_if_none_match=True)}
    built_in = subprocess.run([binary, "-l"], capture_output=True, text=True, check=True).stdout

    def command(workdir: Path, port: int, account: _Account | None) -> list[str]:
        (workdir / "run").mkdir(exist_ok=True)
        (workdir / "httpd.conf").write_text(_httpd_conf(workdir, port, realm, account, modules_dir, built_in))
        return [binary, "-f", str(workdir / "httpd.conf"), "-DFOREGROUND"]

    with _serve("apache", "Apache", command, credentials, realm, locations) as server:
        yield server


# --- process management ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Account:
    user: str
    group: str
    uid: int
    gid: int


@contextmanager
def _serve(
    name: str,
    server_header: str,
    command: Callable[[Path, int, _Account | None], list[str]],
    credentials: Credentials,
    realm: str,
    locations: dict[str, _Location],
) -> Iterator[DavServer]:
    account = _worker_account()
    owner = (account.uid, account.gid) if account else None
    workdir = Path(tempfile.mkdtemp(prefix=f"registry-{name}-"))
    try:
        workdir.chmod(0o755)  # workers running as another account must reach their files
        (workdir / "htpasswd").write_text(_htpasswd_line(credentials))
        for directory in ("data", "tmp", "lock", *(f"data/{loc.prefix}" for loc in locations.values())):
            _make_dirs(workdir / directory, owner)
        process, port = _start(name, server_header, command, workdir, account)
        try:
            yield DavServer(name, process, port, workdir, realm, credentials, locations, owner)
        finally:
            _stop(process)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _start(
    name: str,
    server_header: str,
    command: Callable[[Path, int, _Account | None], list[str]],
    workdir: Path,
    account: _Account | None,
) -> tuple[subprocess.Popen[bytes], int]:
    """Start the server on a free port and wait until it answers: the process and its port."""
    attempt = 0
    while True:
        attempt += 1
        port = free_port()
        argv = command(workdir, port, account)
        (workdir / "error.log").unlink(missing_ok=True)
        with (workdir / "console.log").open("wb") as console:
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=console, stderr=console, start_new_session=True
            )
        try:
            failure = _wait_until_listening(process, port, server_header, _START_TIMEOUT)
        except BaseException:
            _stop(process)
            raise
        if failure is None:
            return process, port
        _stop(process)
        logs = _logs(workdir)
        # Another process can take the port between free_port() and the server binding it: try another.
        if "Address already in use" not in logs or attempt == _BIND_ATTEMPTS:
            raise ServerStartError(f"{name} ({' '.join(argv)}) {failure}\n{logs}")


def _wait_until_listening(
    process: subprocess.Popen[bytes], port: int, server_header: str, timeout: float
) -> str | None:
    """None once our server answers HTTP on ``port``, else why not.

    A bare TCP connect is not enough: another process may hold the port (our server then exits with
    "Address already in use"), so the answer must come with our server's ``Server`` header.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"exited with status {process.returncode} before listening on port {port}"
        if _server_header(port).startswith(server_header):
            return None
        time.sleep(0.02)
    return f"was not answering on port {port} after {timeout:.0f} s"


def _server_header(port: int) -> str:
    connection = http.client.HTTPConnection(_HOST, port, timeout=0.5)
    try:
        connection.request("HEAD", "/")
        return connection.getresponse().getheader("Server", "")
    except OSError:
        return ""
    finally:
        connection.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL; then kill whatever is left in the server's own process group (orphaned workers)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _logs(workdir: Path, lines: int = 40) -> str:
    parts = []
    for log in ("error.log", "console.log"):
        path = workdir / log
        text = path.read_text(errors="replace").strip() if path.is_file() else ""
        tail = "\n".join(text.splitlines()[-lines:]) or "(empty)"
        parts.append(f"--- {log} ---\n{tail}")
    return "\n".join(parts)


# --- accounts, files ------------------------------------------------------------------------------------


def _worker_account() -> _Account | None:
    """The unprivileged account workers run as when we are root (Apache refuses to serve as root)."""
    if os.geteuid() != 0:
        return None
    for user in ("www-data", "nobody"):
        with suppress(KeyError):
            entry = pwd.getpwnam(user)
            return _Account(user, grp.getgrgid(entry.pw_gid).gr_name, entry.pw_uid, entry.pw_gid)
    raise ServerNotInstalled("running as root, but there is no www-data or nobody account to run workers as")


def _make_dirs(path: Path, owner: tuple[int, int] | None) -> None:
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    for directory in missing:
        _chown(directory, owner)


def _chown(path: Path, owner: tuple[int, int] | None) -> None:
    if owner is not None:
        os.chown(path, *owner)


def _find_binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or shutil.which(name, path=_SBIN_PATH)
        if found:
            return found
    raise ServerNotInstalled(f"{' or '.join(names)} not found on PATH or in {_SBIN_PATH}")


def _htpasswd_line(credentials: Credentials) -> str:
    """An htpasswd line (apr1 hash) that both nginx and Apache read."""
    hashed = subprocess.run(
        ["openssl", "passwd", "-apr1", "-stdin"],
        input=credentials.password,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return f"{credentials.username}:{hashed}\n"


# --- configuration --------------------------------------------------------------------------------------


def _nginx_conf(workdir: Path, port: int, realm: str, account: _Account | None, http2_port: int) -> str:
    user = f"user {account.user} {account.group};" if account else ""
    # /immutable/ refuses to overwrite a file with 409. The check runs in an auth_request subrequest so that
    # it comes after basic authentication (an anonymous client gets 401, never a hint that a file exists);
    # the subrequest shares the main request's variables, which carry the target file and the verdict out.
    return f"""\
daemon off;
master_process on;
worker_processes 1;
{user}
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    default_type application/octet-stream;
    access_log {workdir}/access.log;
    client_body_temp_path {workdir}/tmp/client_body;
    proxy_temp_path {workdir}/tmp/proxy;
    fastcgi_temp_path {workdir}/tmp/fastcgi;
    uwsgi_temp_path {workdir}/tmp/uwsgi;
    scgi_temp_path {workdir}/tmp/scgi;
    client_max_body_size 2g;
    # HTTP/2 on its own port (nginx 1.22 speaks only h2c there), with as many streams at once as a client asks
    http2_max_concurrent_streams 1000;
    keepalive_requests 100000;
    server {{
        listen {_HOST}:{port};
        listen {_HOST}:{http2_port} http2;
        server_name {_HOST};
        root {workdir}/data;
        auth_basic "{realm}";
        auth_basic_user_file {workdir}/htpasswd;
        dav_methods PUT DELETE MKCOL;
        create_full_put_path on;
        dav_access user:rw group:rw all:r;
        autoindex on;

        location / {{ return 404; }}
        location /repo/ {{ }}
        location /immutable/ {{
            set $overwrite_target "";
            set $overwrite_refused "";
            if ($request_method = PUT) {{ set $overwrite_target $request_filename; }}
            auth_request /__refuse_overwrite;
            error_page 403 = @forbidden;
            location ~ /maven-metadata\\.xml[^/]*$ {{ auth_request off; }}
        }}
        location = /__refuse_overwrite {{
            internal;
            if (-f $overwrite_target) {{
                set $overwrite_refused 1;
                return 403;
            }}
            return 204;
        }}
        location @forbidden {{
            if ($overwrite_refused) {{ return 409 "Repository does not allow updating assets\\n"; }}
            return 403;
        }}
    }}
}}
"""


def _httpd_conf(
    workdir: Path, port: int, realm: str, account: _Account | None, modules_dir: Path, built_in: str
) -> str:
    modules = [
        f"LoadModule {name}_module {modules_dir}/mod_{name}.so"
        for name in _APACHE_MODULES
        if f"mod_{name}.c" not in built_in
    ]
    if not any(f"{mpm}.c" in built_in for mpm in ("event", "worker", "prefork")):
        modules.insert(0, f"LoadModule mpm_event_module {modules_dir}/mod_mpm_event.so")
    user = f"User {account.user}\nGroup {account.group}" if account else ""
    load = "\n".join(modules)
    return f"""\
ServerRoot "{workdir}"
DefaultRuntimeDir "{workdir}/run"
PidFile "{workdir}/httpd.pid"
Listen {_HOST}:{port}
ServerName {_HOST}
{load}
{user}
StartServers 1
ServerLimit 2
ThreadsPerChild 16
MaxRequestWorkers 32
ErrorLog "{workdir}/error.log"
LogLevel warn
LogFormat "%h %u %t \\"%r\\" %>s %b" common
CustomLog "{workdir}/access.log" common
DocumentRoot "{workdir}/data"
DAVLockDB "{workdir}/lock/DAVLock"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "{workdir}/data">
    Options Indexes
    Require all granted
</Directory>
<Location "/repo/">
    Dav On
    AuthType Basic
    AuthName "{realm}"
    AuthUserFile "{workdir}/htpasswd"
    Require valid-user
</Location>
"""
