"""Error types whose messages are meant to be shown to a user as they are."""


class WorkbenchError(Exception):
    """Base class: the message explains what went wrong and what to do about it."""


class ImageInputError(WorkbenchError, ValueError):
    """An uploaded or listed file cannot be used as an image."""


class DatasetError(WorkbenchError, ValueError):
    """A dataset folder, index or list is malformed or inconsistent."""


class WeightsError(WorkbenchError, FileNotFoundError):
    """Named weights are missing, unreadable or fail their checksum."""


class UnknownNameError(WorkbenchError, KeyError):
    """A registry lookup failed; the message suggests close matches."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
