"""rosbag2 recordings -> aligned, resampled episodes under the bundle's field grammar.

Torch-free and rclpy-free (numpy and rosbags): :mod:`.source` opens a recording and streams its
messages (the library choice is explained there), :mod:`.mcap_scan` reads a damaged MCAP file up
to the damage, :mod:`.extract` maps message members to the field grammar, :mod:`.align` puts the
streams on one time axis and cuts episodes, :mod:`.ingest` ties them together
(:func:`load_bags`), and :mod:`.writer` writes bags (the recorder, tests, benchmarks).
"""

from rnn_control.bags.align import Episode
from rnn_control.bags.ingest import BagData, BagReport, load_bags, split_in_time
from rnn_control.bags.source import Recording

__all__ = ["BagData", "BagReport", "Episode", "Recording", "load_bags", "split_in_time"]
