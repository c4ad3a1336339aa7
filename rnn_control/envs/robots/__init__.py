"""Robots from MuJoCo models: the joint/actuator tables (:mod:`.mjcf`), the sensors a real robot's
drivers publish (:mod:`.sensors`), observation terms (:mod:`.terms`), the joint-space action
contract (:mod:`.actions`) and the generic joint-space env built from an MJCF file
(:mod:`.joint_env`)."""

from rnn_control.envs.robots.mjcf import Actuator, Joint, RobotModel, Root, load_mjcf

__all__ = ["Actuator", "Joint", "RobotModel", "Root", "load_mjcf"]
