"""rnn_control: recurrent neural network control for ROS 2.

Subpackages, in the order data flows through them:

- ``models``  recurrent cores (rnn / lstm / gru / time-aware), dynamics models, policies (torch)
- ``envs``    Gymnasium environments, sim-to-real wrappers, scenario registration
- ``train``   rollouts, BPTT sequence batching, trainers, checkpoints, diagnostics (torch)
- ``export``  checkpoint -> self-describing ONNX bundle + parity report (torch, onnx)
- ``runtime`` torch-free stateful stepper over onnxruntime, IO spec, safety filter
- ``ros``     rclpy nodes (the only place that imports rclpy)
"""

__version__ = "0.1.0"
