"""rnn_control: an ament_python ROS 2 package that is also a normal pip package."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "rnn_control"

# Core runtime: what an edge device needs to step a bundle (no torch, no gymnasium).
CORE = ["numpy>=1.24", "onnxruntime>=1.17", "pyyaml>=6"]

EXTRAS = {
    # Training in simulation. torch is pinned by constraints.txt (CPU wheel, 2.13.0).
    "train": [
        "torch>=2.4",
        "gymnasium[mujoco]>=1.0",
        "onnx>=1.16",
        "onnxscript>=0.2",
        "onnxslim>=0.1",
        "onnxconverter-common>=1.14",
        "tensorboard>=2.14",
        "matplotlib>=3.7",
        "tqdm>=4.66",
    ],
    # ROS 2 Python wheels from PyPI, for machines WITHOUT a ROS distro.
    # On a robot, source the distro instead and do not install this extra.
    "ros": [
        "ros-kilted-rclpy",
        "ros-kilted-rmw-fastrtps-cpp",
        "ros-kilted-std-msgs",
        "ros-kilted-std-srvs",
        "ros-kilted-sensor-msgs",
        "ros-kilted-geometry-msgs",
        "ros-kilted-nav-msgs",
        "ros-kilted-trajectory-msgs",
        "ros-kilted-diagnostic-msgs",
        "ros-kilted-lifecycle-msgs",
    ],
    # rosbag2 recordings (MCAP and sqlite3) without a ROS install: reading bags for training
    # (rnn_control.bags) and the recorder node on the robot. Pure Python (numpy, lz4, zstd).
    "bags": ["rosbags>=0.10,<0.12"],
    # colcon: the test suite builds ros2_ws/ with it.
    "dev": [
        "pytest>=7",
        "pytest-timeout>=2",
        "ruff>=0.5",
        "hypothesis>=6",
        "mcap>=1.1",  # an independent MCAP reader: tests check the recorder's bags with it
        "colcon-core",
        "colcon-ros",
        "colcon-python-setup-py",
    ],
    # Peers compared against in bench/ (not used by the product).
    "bench": ["sb3-contrib>=2.3", "pytorch-mppi>=0.9"],
}

setup(
    name=PACKAGE,
    version="0.1.0",
    description="Recurrent neural network control for ROS 2: train, export to ONNX, deploy.",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    python_requires=">=3.10",
    install_requires=CORE,
    extras_require=EXTRAS,
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/sim", glob("sim/*.yaml")),
        (f"share/{PACKAGE}/sim/robots", glob("sim/robots/*")),
    ],
    zip_safe=True,
    maintainer="rnn_control developers",
    maintainer_email="dev@rnn-control.invalid",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "rnn-control = rnn_control.cli:main",
            "policy_node = rnn_control.ros.policy_node:main",
            "mpc_node = rnn_control.ros.mpc_node:main",
            "dynamics_monitor_node = rnn_control.ros.dynamics_monitor_node:main",
            "sim_bridge_node = rnn_control.ros.sim_bridge_node:main",
            "bag_recorder_node = rnn_control.ros.bag_recorder:main",
        ],
    },
)
