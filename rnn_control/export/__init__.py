"""Checkpoint -> self-describing ONNX bundle, with a parity report against PyTorch."""
