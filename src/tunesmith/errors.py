"""One error hierarchy: every mistake a user can fix is a TunesmithError."""


class TunesmithError(Exception):
    """Base class for errors caused by input the user can correct."""

    #: Exit code the CLI uses: 2 for a bad option or value, 1 for anything else.
    exit_code = 1


class ConfigError(TunesmithError):
    """An option, flag or config-file value is not acceptable."""

    exit_code = 2


class SourceError(TunesmithError):
    """A music file or source cannot be read or holds no usable melody."""


class EncodingError(TunesmithError):
    """Tokens or seed notes cannot be encoded or decoded."""

    exit_code = 2


class CorpusError(TunesmithError):
    """A prepared corpus is missing, empty or inconsistent."""


class CheckpointError(TunesmithError):
    """A run folder is missing files or holds files that do not fit together."""


class WriteError(TunesmithError):
    """A file could not be written (a full disk, a read-only folder); what was there before
    is kept whole."""


def write_failed(path: object, exc: BaseException) -> WriteError:
    """The one-line error for a write that failed with ``exc`` (an OSError, or a library's
    own error wrapping one)."""
    reason = getattr(exc, "strerror", None) or str(exc).split("I/O error: ")[-1]
    reason = reason.split(" (os error")[0].splitlines()[0] if reason else type(exc).__name__
    return WriteError(f"cannot write {path}: {reason}; what was there before is kept")
