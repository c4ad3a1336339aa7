"""Explain a trained recurrent policy: what its gates do over an episode and how far back in its
input history the current action depends.

- :mod:`~rnn_control.explain.recording`: run one episode and record inputs, actions and the
  recurrent state before and after every step (torch checkpoints or ONNX bundles).
- :mod:`~rnn_control.explain.gates`: recompute gate activations (GRU update/reset, LSTM
  input/forget/output, Elman hidden units) from the torch weights, per layer.
- :mod:`~rnn_control.explain.attribution`: attribution of the action at time t to the inputs of
  the last W steps (integrated gradients / gradient x input; finite differences for bundles),
  summarised as "how far back the policy looks".
- :mod:`~rnn_control.explain.plots` and :mod:`~rnn_control.explain.report`: PNG heatmaps and the
  Markdown/JSON summary.
"""
