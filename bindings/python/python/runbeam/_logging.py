"""librunbeam's log records in Python's :mod:`logging` (see README "Logging").

The core (Rust) delivers its records to the native module, which queues them; a thread of the
module hands them to :func:`_deliver` with the GIL. Here each record becomes a
:class:`logging.LogRecord` of the logger ``runbeam.<area>`` (``runbeam.storage``,
``runbeam.jwt``, ``runbeam.resolve``, ``runbeam.client``, ``runbeam.watch``, ``runbeam.panic``, …:
the first part of the core's target after the crate name), with the core's target and fields
as the attributes ``runbeam_target`` and ``runbeam_fields``.

The core's level follows the lowest level any of the ``runbeam`` loggers accepts, so that a
record nobody wants is skipped inside the core (one atomic load) and never reaches Python.
Python's logging calls ``Logger.manager._clear_cache()`` after every level change
(``setLevel``, ``logging.disable``, ``basicConfig``, ``dictConfig``, ``fileConfig``); that method
of the manager is wrapped so that the level is recomputed then. :func:`sync_log_level` does it
on demand (after assigning ``logger.level`` directly, say). Without that private method (a
Python whose logging lacks it) the core delivers DEBUG and above and ``isEnabledFor`` filters.
"""

from __future__ import annotations

import atexit
import itertools
import logging
from typing import Any, Dict, Optional

from . import _native

#: The level of the core's ``trace`` records (below ``logging.DEBUG``).
TRACE = 5

_ROOT_NAME = "runbeam"
_LOGGER = logging.getLogger(_ROOT_NAME)
# A library leaves the output to the application: without this handler Python's "last
# resort" would print librunbeam's warnings on stderr of an application that configured no
# logging at all.
if not any(isinstance(h, logging.NullHandler) for h in _LOGGER.handlers):
    _LOGGER.addHandler(logging.NullHandler())
if logging.getLevelName(TRACE) == f"Level {TRACE}":
    logging.addLevelName(TRACE, "TRACE")

# Core level number (1 error … 5 trace) -> logging level.
_PY_LEVEL = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG, 5: TRACE}
_CORE_NAME = {1: "error", 2: "warn", 3: "info", 4: "debug", 5: "trace"}

_tickets = itertools.count(1)
_areas: Dict[str, logging.Logger] = {}


def _logger_for(target: str) -> logging.Logger:
    """``runbeam_core::jwt::jwks`` -> ``runbeam.jwt``; ``runbeam::watch`` -> ``runbeam.watch``;
    a bare crate name -> ``runbeam``."""
    logger = _areas.get(target)
    if logger is None:
        parts = target.split("::")
        area = parts[1] if len(parts) > 1 and parts[1].isidentifier() else ""
        logger = logging.getLogger(f"{_ROOT_NAME}.{area}" if area else _ROOT_NAME)
        if len(_areas) < 1024:
            _areas[target] = logger
    return logger


def _deliver(level: int, target: str, message: str, fields: Dict[str, str], created: float,
             thread: str) -> None:
    """One core record (called by the native module's delivery thread)."""
    logger = _logger_for(target)
    py_level = _PY_LEVEL.get(level, logging.DEBUG)
    if not logger.isEnabledFor(py_level):
        return
    record = logger.makeRecord(
        logger.name, py_level, target, 0, message, (), None,
        extra={"runbeam_target": target, "runbeam_fields": fields, "runbeam_thread": thread},
    )
    # When it was logged, not when the delivery thread got to it.
    record.created = created
    record.msecs = (created - int(created)) * 1000.0
    start = getattr(logging, "_startTime", None)
    if isinstance(start, float):
        record.relativeCreated = (created - start) * 1000.0
    logger.handle(record)


def _lowest_level() -> int:
    """The core level (0 off … 5 trace) of the lowest logging level that the ``runbeam`` logger
    or one of its children accepts. ``logger.disabled`` is ignored on purpose: dictConfig
    re-enables a logger after setting its level, and a level too low only costs records that
    Python then drops, where one too high would lose records."""
    manager = logging.Logger.manager
    loggers = [_LOGGER]
    prefix = _ROOT_NAME + "."
    for name, logger in list(manager.loggerDict.items()):
        if name.startswith(prefix) and isinstance(logger, logging.Logger):
            loggers.append(logger)
    lowest = min(logger.getEffectiveLevel() for logger in loggers)
    disabled_up_to = manager.disable
    for core in (5, 4, 3, 2, 1):
        py_level = _PY_LEVEL[core]
        if py_level >= lowest and py_level > disabled_up_to:
            return core
    return 0


def sync_log_level() -> Optional[str]:
    """Sets librunbeam's log level to the lowest level the ``runbeam`` loggers accept now and
    returns it (``"error"``, ``"warn"``, ``"info"``, ``"debug"``, ``"trace"``, or ``None``:
    off). Changes made through ``setLevel``, ``logging.disable``, ``basicConfig``,
    ``dictConfig`` or ``fileConfig`` are followed by themselves; call this after changing
    levels any other way (assigning ``logger.level``)."""
    ticket = next(_tickets)
    level = _lowest_level()
    _native._set_log_level(ticket, level)
    return _CORE_NAME.get(level)


def flush_logs(timeout: float = 5.0) -> bool:
    """Waits (at most ``timeout`` seconds, with the GIL released) until every librunbeam record
    logged before the call has been handed to :mod:`logging`, and returns whether it was.
    Records reach the handlers shortly after they are logged, from a thread of the module; a
    test that asserts a record, or a program about to exit, calls this first (it runs at exit
    by itself)."""
    return bool(_native._flush_logs(float(timeout)))


def _sync_quietly() -> None:
    try:
        sync_log_level()
    except Exception:  # noqa: BLE001 - never break the host's setLevel
        try:
            _native._set_log_level(next(_tickets), 4)
        except Exception:  # noqa: BLE001
            pass


def _hook_level_changes() -> bool:
    manager = logging.Logger.manager
    original = getattr(manager, "_clear_cache", None)
    if not callable(original):
        return False
    if getattr(original, "_runbeam_sync", False):
        return True

    def _clear_cache(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        _sync_quietly()
        return result

    _clear_cache._runbeam_sync = True  # type: ignore[attr-defined]
    _clear_cache.__wrapped__ = original  # type: ignore[attr-defined]
    manager._clear_cache = _clear_cache  # type: ignore[method-assign]
    return True


def _at_exit() -> None:
    # Registered after the native module's own exit hook, so it runs first (atexit is LIFO):
    # records still queued reach the handlers before the runtime stops entering Python.
    try:
        flush_logs(1.0)
    except Exception:  # noqa: BLE001
        pass


def _install() -> None:
    _native._set_log_deliver(_deliver)
    if _hook_level_changes():
        _sync_quietly()
    else:
        # No hook: deliver DEBUG and above, and let isEnabledFor filter.
        _native._set_log_level(next(_tickets), 4)
    atexit.register(_at_exit)


if _native._LOG_INSTALLED:
    _install()
