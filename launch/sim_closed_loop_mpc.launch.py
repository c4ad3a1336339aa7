"""The closed loop in simulation with MPC: sim bridge + MPC node, over real topics.

    ros2 launch rnn_control sim_closed_loop_mpc.launch.py bundle:=plan.onnx scenario:=pendulum_novel

The sim bridge builds ``scenario`` (the one the planning bundle was trained on), publishes its
observations, applies the MPC node's commands, resets it at every episode start and logs every
episode's return (also on /sim_bridge/episode_return). ``bridge_mode:=lockstep`` steps on each
command: deterministic, and equal to the in-process MPC episode by episode (with no deadline).
Parameters: share/rnn_control/config/sim_closed_loop_mpc.yaml (argument ``config``).
"""

from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription


def generate_launch_description() -> LaunchDescription:
    config = LaunchConfiguration("config")
    bundle = LaunchConfiguration("bundle")
    default_config = PathJoinSubstitution(
        [FindPackageShare("rnn_control"), "config", "sim_closed_loop_mpc.yaml"]
    )
    return LaunchDescription(
        [
            DeclareLaunchArgument("bundle", description="planning bundle (.onnx)"),
            DeclareLaunchArgument("scenario", description="the scenario the bundle was trained on"),
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
                        "scenario": LaunchConfiguration("scenario"),
                        "mode": LaunchConfiguration("bridge_mode"),
                        "max_episodes": LaunchConfiguration("max_episodes"),
                    },
                ],
            ),
            Node(
                package="rnn_control",
                executable="mpc_node",
                name="mpc_node",
                output="screen",
                parameters=[config, {"bundle": bundle}],
            ),
        ]
    )
