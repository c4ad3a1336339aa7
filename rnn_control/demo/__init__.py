"""``rnn-control demo``: the whole promise of rnn_control in one command.

Stages (each resumable; a finished stage leaves a marker and is skipped on re-run):

1. ``policy``    train a recurrent policy in simulation (recurrent PPO)
2. ``dynamics``  train a recurrent dynamics model on rollouts of the same env
3. ``evaluate``  in-process deterministic evaluation of the checkpoint, and a random policy
4. ``export``    both checkpoints -> parity-checked ONNX bundles
5. ``closed_loop`` sim bridge + policy node + dynamics monitor as separate ROS 2 processes
6. ``explain``   gate activations and attribution of the trained policy
7. ``report``    plots, ``summary.md`` / ``summary.json``, redeploy commands

Modules: :mod:`settings` (what a run does), :mod:`run_folder` (layout, stage markers),
:mod:`preflight` (bad input before long work), :mod:`ros_domain` (a free ROS 2 domain),
:mod:`processes` (start/stop node processes cleanly), :mod:`stages`, :mod:`report`,
:mod:`pipeline` (runs the stages in order).
"""
