"""Gunicorn's production settings for QualExam: `gunicorn -c gunicorn.conf.py wsgi:app`.

Every value can be changed from the environment (QE_WORKERS, QE_THREADS, QE_WORKER_CLASS, QE_BIND, …);
docs/scaling.md explains the choices and the figures behind them (bench/RESULTS.md).
"""

import multiprocessing
import os

bind = os.environ.get("QE_BIND", "127.0.0.1:8000")

# Threaded workers (gthread): a request mostly waits on the database, and a thread waiting gives the GIL away, so
# a few threads per process keep each core busy; one process per core spreads the Python work over the cores. A
# slow phone on a long poll ties up one thread, not a whole process, and idle keep-alive connections cost none.
# QE_WORKER_CLASS lets the load benchmark compare others (sync; gevent once installed) on the same workload; gunicorn
# serves "sync" with gthread whenever threads > 1, so compare sync with QE_THREADS=1.
worker_class = os.environ.get("QE_WORKER_CLASS") or "gthread"
workers = int(os.environ.get("QE_WORKERS", multiprocessing.cpu_count()))
threads = int(os.environ.get("QE_THREADS", 4))

# The app is built once in the master and forked: less memory, and a broken build fails before any worker starts.
# wsgi.py gives each worker an empty connection pool after the fork.
preload_app = True

# A request that takes longer than this is a stuck worker: it is killed and replaced. The candidate's page keeps
# its unsaved answers and sends them again (static/js/exam.js), so nothing acknowledged is lost.
timeout = int(os.environ.get("QE_TIMEOUT", 30))
graceful_timeout = 30
# Longer than a load balancer's idle timeout is wrong; shorter only costs new connections. Pages autosave every
# few seconds, so a short keep-alive holds few idle sockets.
keepalive = int(os.environ.get("QE_KEEPALIVE", 5))
# Recycle workers now and then (with jitter, so they don't all restart at once) to cap any slow memory growth.
max_requests = int(os.environ.get("QE_MAX_REQUESTS", 20000))
max_requests_jitter = max_requests // 10 if max_requests else 0
backlog = 2048

# Logs to stdout/stderr, for the service manager. The access log is off unless asked for (QE_ACCESS_LOG=-): at the
# busiest minute it costs a measurable share of a core, and the proxy in front keeps one anyway.
accesslog = os.environ.get("QE_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("QE_LOG_LEVEL", "info")
# Behind a proxy on another host, set QE_FORWARDED_ALLOW_IPS to its address (and QE_TRUSTED_PROXIES for the app).
forwarded_allow_ips = os.environ.get("QE_FORWARDED_ALLOW_IPS", "127.0.0.1")
