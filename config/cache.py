"""The Django cache: Redis, falling back to a PostgreSQL table while Redis is unreachable.

Rate limits (allauth's login limits and ours in config/ratelimit.py) live in the cache, so
"Redis down" must not mean "no limit" nor a 500. Every call goes to Redis; a connection error
marks Redis down for a few seconds and the call is answered from the ``cache_fallback`` table
(created by a migration) instead. Counters do not move between the two stores: while Redis is
down a limit starts counting afresh in the database, and when Redis is back it counts in Redis.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.redis import RedisCache
from django.db import connections, router, transaction
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

REDIS_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)
FALLBACK_TABLE = "cache_fallback"


class RedisWithDatabaseFallback(BaseCache):
    """``RedisCache`` first; ``DatabaseCache`` (table ``FALLBACK_TABLE``) while Redis fails.

    OPTIONS: ``FALLBACK_TABLE`` and ``RETRY_SECONDS`` (how long Redis is skipped after an
    error, default 5); the rest goes to the Redis client (e.g. ``socket_connect_timeout``).
    """

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        options = dict(params.get("OPTIONS") or {})
        table = options.pop("FALLBACK_TABLE", FALLBACK_TABLE)
        self.retry_seconds = float(options.pop("RETRY_SECONDS", 5))
        inner = {**params, "OPTIONS": options}
        self.redis = RedisCache(server, inner)
        self.database = DatabaseCache(table, {**params, "OPTIONS": {}})
        self._down_until = 0.0
        self._lock = threading.Lock()

    # --- routing ---------------------------------------------------------------------

    def redis_available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _mark_down(self, exc: BaseException) -> None:
        with self._lock:
            if self.redis_available():
                logger.warning(
                    "Redis cache unreachable (%s); using the database cache", type(exc).__name__
                )
            self._down_until = time.monotonic() + self.retry_seconds

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self.redis_available():
            try:
                return getattr(self.redis, name)(*args, **kwargs)
            except REDIS_ERRORS as exc:
                self._mark_down(exc)
        if name == "incr":
            return self._database_incr(*args, **kwargs)
        return getattr(self.database, name)(*args, **kwargs)

    def _database_incr(self, key: str, delta: int = 1, version: int | None = None) -> int:
        """Increment under a row lock, keeping the entry's expiry (DatabaseCache's incr is get + set)."""
        db = router.db_for_write(self.database.cache_model_class)
        connection = connections[db]
        table = connection.ops.quote_name(self.database._table)  # type: ignore[attr-defined]
        with transaction.atomic(using=db):
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT expires FROM {table} WHERE cache_key = %s FOR UPDATE",  # noqa: S608 (table name from settings)
                    [self.database.make_and_validate_key(key, version=version)],
                )
                row = cursor.fetchone()
            value = self.database.get(key, version=version)
            if row is None or value is None:
                raise ValueError(f"Key '{key}' not found")
            expires = row[0]
            if isinstance(expires, datetime):
                if expires.tzinfo is None:
                    expires = expires.replace(tzinfo=UTC)
                timeout: float | None = max(1.0, (expires - datetime.now(UTC)).total_seconds())
            else:
                timeout = None
            new_value = value + delta
            self.database.set(key, new_value, timeout=timeout, version=version)
        return new_value

    # --- the cache API -----------------------------------------------------------------

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        return self._call("add", key, value, timeout=timeout, version=version)

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._call("get", key, default=default, version=version)

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> None:
        self._call("set", key, value, timeout=timeout, version=version)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._call("touch", key, timeout=timeout, version=version)

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._call("delete", key, version=version)

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        return self._call("get_many", keys, version=version)

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._call("has_key", key, version=version)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return self._call("incr", key, delta=delta, version=version)

    def set_many(
        self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list[Any]:
        return self._call("set_many", data, timeout=timeout, version=version)

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        self._call("delete_many", keys, version=version)

    def clear(self) -> None:
        """Clear the store in use (Redis; the database table only while Redis is down)."""
        self._call("clear")

    def close(self, **kwargs: Any) -> None:
        try:
            self.redis.close(**kwargs)
        finally:
            self.database.close(**kwargs)
