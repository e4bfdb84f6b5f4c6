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
