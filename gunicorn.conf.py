"""gunicorn settings for ``make serve``: the access log without secrets.

Emailed links carry a secret in their path (a request's status page, its confirmation, a download, an
invitation); ``config.logredact.RedactingGunicornLogger`` replaces it with ``[redacted]`` in every access-log
atom (request line, path, query, referer). Bind address and worker count stay on the command line
(``BIND``, ``WEB_CONCURRENCY``).
"""

accesslog = "-"
logger_class = "config.logredact.RedactingGunicornLogger"
