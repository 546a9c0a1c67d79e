"""Gunicorn settings of the cockpit's web app (docs/deploy.md).

    gunicorn -c deploy/gunicorn.conf.py [--bind HOST:PORT] 'app:make_server()'

The wall and the tablet hold a server-sent-events stream open for as long as they are shown
(``/push/<page>/events``), and each open stream holds a worker thread. So the workers are
``gthread`` (threads, no monkey-patching: redis-py, SQLAlchemy and the push hub's thread work as
they do under waitress), each with ``COCKPIT_PUSH_MAX_CLIENTS`` threads for streams plus
:data:`cockpit.cli.REQUEST_THREADS` for pages, callbacks and the API — the sizing of
``cockpit serve``. Values given on the command line (``--workers 4``) win over this file.

Each worker builds its own app after the fork (no ``preload_app``): its own Redis and database
connections and its own push hub, fed by the ingest's change signal (Redis pub/sub), which every
worker receives.
"""

from cockpit.cli import REQUEST_THREADS
from cockpit.metrics_scrape import reset_multiprocess, worker_exited
from cockpit.settings import Settings

_settings = Settings()

bind = [f"{_settings.host}:{_settings.port}"]
worker_class = "gthread"
#: One worker: run several gunicorn instances behind the proxy instead (cockpit-web@PORT,
#: nginx least_conn). The gthread workers of one gunicorn take connections as they come, not in
#: turn: 40 keep-alive clients of two workers all landed on one (2026-12-04), so a second worker
#: adds little; the proxy spreads connections evenly. ``--workers N`` still works (each worker
#: has its own push hub, fed by the same change signal).
workers = 1
threads = _settings.push_max_clients + REQUEST_THREADS
#: Connections a worker keeps (streams, requests, idle keep-alives), as ``cockpit serve``.
worker_connections = 2 * threads + 100
#: A gthread worker reports to the arbiter from its main loop, not from its request threads, so
#: an open stream never counts against this; a worker stuck for 60 s is restarted.
timeout = 60
#: On SIGTERM or a reload, a worker stops accepting and waits this long for its requests; open
#: streams are cut then, and their screens reconnect (to another worker) after 2 s (SSE retry).
graceful_timeout = 10
#: Idle keep-alive connections wait in the worker's poller, not in a thread, so a long one is
#: cheap; it must outlast the proxy's idle upstream connections (nginx: keepalive_timeout 60 s),
#: or the proxy may send a request on a connection gunicorn is closing.
keepalive = 75
#: Recycling workers would cut every stream they hold: off.
max_requests = 0
preload_app = False
#: ``X-Forwarded-Proto`` is believed from these (the reverse proxy); the client address is read
#: by the app itself from ``X-Forwarded-For``, only from ``COCKPIT_PROXY_ADDRESSES``.
forwarded_allow_ips = ",".join(str(n) for n in _settings.proxy_networks) or "127.0.0.1,::1"
proc_name = "cockpit-web"
#: No access log: a kiosk link's path (``/kiosk/<token>``) is a credential. Errors go to stderr
#: (the journal under systemd).
accesslog = None
errorlog = "-"
loglevel = "info"
control_socket_disable = True  # gunicorn ≥ 24's control socket: not used


# Prometheus with several workers (``--workers N`` and PROMETHEUS_MULTIPROC_DIR set; a no-op
# otherwise): docs/operations.md "Several web workers".
def on_starting(server):
    """Drop the last run's metric files before any worker starts."""
    reset_multiprocess(_settings)


def child_exit(server, worker):
    """A dead worker's open push streams no longer count."""
    worker_exited(_settings, worker.pid)
