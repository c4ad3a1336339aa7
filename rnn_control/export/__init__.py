"""Checkpoint -> self-describing ONNX bundle, with a parity report against PyTorch.

- :func:`export_checkpoint` (``rnn-control export``): the whole pipeline, parity-checked.
- :func:`export_graph`: low level, any module following the inference contract + metadata.

The names resolve lazily, so importing this package stays light; the submodules are
``exporter``, ``onnx_graph``, ``layout``, ``parity`` and ``variants``.
"""

__all__ = ["ExportOptions", "export_checkpoint", "export_graph"]


def __getattr__(name: str):
    if name in ("ExportOptions", "export_checkpoint"):
        from rnn_control.export import exporter

        return getattr(exporter, name)
    if name == "export_graph":
        from rnn_control.export.onnx_graph import export_graph

        return export_graph
    raise AttributeError(name)
