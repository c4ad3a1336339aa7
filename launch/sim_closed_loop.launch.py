"""The closed loop in simulation: sim bridge + policy node (+ dynamics monitor), over real topics.

    ros2 launch rnn_control sim_closed_loop.launch.py bundle:=policy.onnx dynamics_bundle:=dynamics.onnx

The sim bridge rebuilds the Gymnasium scenario stored in the policy bundle, publishes its
observations, applies the policy's commands and logs every episode's return (also on
/sim_bridge/episode_return). ``dynamics_bundle`` is optional: leave it empty to run without the
monitor. Parameters: share/rnn_control/config/sim_closed_loop.yaml (argument ``config``).
"""

from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution, PythonExpression
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription


def generate_launch_description() -> LaunchDescription:
    config = LaunchConfiguration("config")
    bundle = LaunchConfiguration("bundle")
    dynamics_bundle = LaunchConfiguration("dynamics_bundle")
    default_config = PathJoinSubstitution([FindPackageShare("rnn_control"), "config", "sim_closed_loop.yaml"])
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "bundle", description="policy bundle (.onnx); its metadata names the scenario"
            ),
            DeclareLaunchArgument(
                "dynamics_bundle", default_value="", description="dynamics bundle; '' = no monitor"
            ),
            DeclareLaunchArgument("config", default_value=default_config, description="parameter YAML"),
            DeclareLaunchArgument("bridge_mode", default_value="realtime", description="realtime | lockstep"),
            DeclareLaunchArgument(
                "max_episodes", default_value="0", description="stop the bridge after N episodes"
            ),
            Node(
                package="rnn_control",
                executable="sim_bridge_node",
                name="sim_bridge",
                output="screen",
                parameters=[
                    config,
                    {
                        "bundle": bundle,
                        "mode": LaunchConfiguration("bridge_mode"),
                        "max_episodes": LaunchConfiguration("max_episodes"),
                    },
                ],
            ),
            Node(
                package="rnn_control",
                executable="policy_node",
                name="policy_node",
                output="screen",
                parameters=[config, {"bundle": bundle}],
            ),
            Node(
                package="rnn_control",
                executable="dynamics_monitor_node",
                name="dynamics_monitor",
                output="screen",
                condition=IfCondition(PythonExpression(["'", dynamics_bundle, "' != ''"])),
                parameters=[config, {"bundle": dynamics_bundle}],
            ),
        ]
    )
