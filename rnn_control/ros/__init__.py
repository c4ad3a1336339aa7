"""ROS 2 nodes (rclpy). The only subpackage that imports rclpy."""
