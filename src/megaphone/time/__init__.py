"""Time: zones and exact times (``zones``), phrases people type
(``natural``), a queue's posting slots (``slots``), and durations, "in 3 h"
and days for listings (``timeline``)."""
