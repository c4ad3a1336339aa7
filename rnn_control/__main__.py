"""``python -m rnn_control`` is the same as the ``rnn-control`` command."""

from rnn_control.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
