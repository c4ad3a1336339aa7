"""Torch-free runtime: step an ONNX bundle with onnxruntime, map IO, filter for safety."""
