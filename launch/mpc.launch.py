"""The MPC node alone, on a robot: model-predictive control with a planning bundle.

    ros2 launch rnn_control mpc.launch.py bundle:=/path/plan.onnx \
        joint_states:=/joint_states command:=/forward_effort_controller/commands

Arguments: ``bundle`` (required: ``rnn-control export CHECKPOINT --planning K H``), ``config``
(parameter YAML, default share/rnn_control/config/mpc_node.yaml), ``mpc_scenario`` (a scenario
whose ``mpc:`` section gives planner and cost; empty: the bundle's), ``namespace``, ``autostart``,
and one remapping per topic.
"""

from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription

# topic name inside the node -> launch argument that remaps it
REMAPPABLE = {
    "joint_states": "joint_states",
    "imu": "imu",
    "odom": "odom",
    "cmd_vel": "cmd_vel",
    "observation": "observation",
    "command": "command",
    "estop": "estop",
}


def generate_launch_description() -> LaunchDescription:
    default_config = PathJoinSubstitution([FindPackageShare("rnn_control"), "config", "mpc_node.yaml"])
    arguments = [
        DeclareLaunchArgument("bundle", description="path of the planning bundle (.onnx)"),
        DeclareLaunchArgument("config", default_value=default_config, description="parameter YAML"),
        DeclareLaunchArgument("mpc_scenario", default_value="", description="scenario with the mpc: section"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of the node"),
        DeclareLaunchArgument("autostart", default_value="true", description="configure + activate at start"),
    ]
    arguments += [
        DeclareLaunchArgument(
            arg, default_value=topic, description=f"topic the node's '{topic}' is remapped to"
        )
        for topic, arg in REMAPPABLE.items()
    ]
    node = Node(
        package="rnn_control",
        executable="mpc_node",
        name="mpc_node",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        emulate_tty=True,
        parameters=[
            LaunchConfiguration("config"),
            {
                "bundle": LaunchConfiguration("bundle"),
                "autostart": LaunchConfiguration("autostart"),
                "mpc_scenario": LaunchConfiguration("mpc_scenario"),
            },
        ],
        remappings=[(topic, LaunchConfiguration(arg)) for topic, arg in REMAPPABLE.items()],
    )
    return LaunchDescription([*arguments, node])
