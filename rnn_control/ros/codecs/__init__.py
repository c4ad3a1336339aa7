"""ROS messages <-> named float slots (transitional: re-exports ros.messages until the split)."""

from rnn_control.ros.messages import (  # noqa: F401
    COMMAND_TYPES,
    REJECT_REASONS,
    SENSOR_MSG_TYPES,
    CommandReader,
    ObservationAssembler,
    ReaderLimits,
    SensorMessageBuilder,
    float64_array,
    make_writer,
    stamp_ns,
    time_msg,
)
