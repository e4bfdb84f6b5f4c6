"""Writing a file so that a crash or a full disk leaves the previous one whole."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

from tunesmith.errors import write_failed


def write_atomically(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary name beside ``path``, then rename it into place.

    The temporary name is fresh rather than mkstemp's, so the file gets the usual
    permissions (not 0600). A failed write removes it; an OSError (a full disk) becomes the
    one-line :class:`~tunesmith.errors.WriteError`.

    :return: the path written; missing parent folders are created.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_failed(target, exc) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
