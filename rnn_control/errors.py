"""Exceptions with messages meant for the user (the CLI prints them without a traceback)."""


class RnnControlError(Exception):
    """Base class: an error whose message says what is wrong and what was expected."""


class ConfigError(RnnControlError):
    """A scenario or parameter file is malformed (unknown key, wrong type, bad value)."""


class CheckpointError(RnnControlError):
    """A checkpoint is missing, corrupt or does not match the requested configuration."""


class BundleError(RnnControlError):
    """An ONNX bundle is missing, corrupt or does not follow the bundle contract."""


class TrainingError(RnnControlError):
    """Training cannot go on (non-finite loss, bad batch, ...)."""


class BagError(RnnControlError):
    """A rosbag2 recording cannot be read as the scenario's ``bag:`` section asks (missing topic,
    wrong message type, missing field, no usable data)."""
