"""A sweep's messages reach the window in order, a few a turn, and all of them."""

import time

from PySide6.QtCore import QObject, QTimer, Signal

from regui.gui import paced_news
from regui.gui.paced_news import PacedNews


class Source(QObject):
    said = Signal(int)


def test_messages_pass_on_in_order_a_budget_a_turn_and_all_on_flush(qtbot):
    news = PacedNews()
    source = Source()
    heard, turns = [], []
    source.said.connect(lambda n: (heard.append(n), time.sleep(0.004)))  # each handled in 4 ms
    for n in range(40):
        news.add(source.said, n)
    assert news.pending() and heard == []  # nothing passed on in the caller's turn

    # Between turns the window gets its events: a 0 ms timer started now runs between them.
    beat = QTimer()
    beat.setInterval(0)
    beat.timeout.connect(lambda: turns.append(len(heard)))
    beat.start()
    with qtbot.waitSignal(news.drained, timeout=5_000):
        pass
    beat.stop()
    assert heard == list(range(40)) and not news.pending()
    per_turn = [b - a for a, b in zip(turns, turns[1:]) if b > a]
    assert per_turn and max(per_turn) <= paced_news.PACE_SECONDS / 0.004 + 1  # a few a turn, not all 40
    assert len(set(turns)) > 3  # the window had turns while they were passed on

    for n in range(5):
        news.add(source.said, 100 + n)
    news.flush()  # as the window closes: every one now, in order
    assert heard[-5:] == [100, 101, 102, 103, 104] and not news.pending()


def test_the_controller_is_idle_only_once_a_sweeps_messages_are_passed_on(qtbot):
    from regui.gui.controller import Controller

    controller = Controller()
    got = []
    controller.run_epoch.connect(lambda run_id, result: got.append(run_id))
    for run_id in range(3):
        controller._on_sweep_epoch(run_id, None)  # as the sweep's thread's signals arrive
    assert not controller.is_idle() and got == []
    with qtbot.waitSignal(controller.activity_changed, timeout=5_000):
        pass
    assert controller.is_idle() and got == [0, 1, 2]


def test_the_window_hears_of_drained_news_only_when_that_leaves_nothing_running(qtbot, window):
    controller, source = window.controller, Source()
    changes = []
    controller.activity_changed.connect(lambda: changes.append(controller.is_idle()))
    controller._jobs[-1] = object()  # a sweep's thread still running
    controller._sweep_news.add(source.said, 1)
    qtbot.waitUntil(lambda: not controller._sweep_news.pending(), timeout=2000)
    qtbot.wait(20)
    assert changes == []  # mid-sweep: the window's state has not changed
    del controller._jobs[-1]
    controller._sweep_news.add(source.said, 2)
    qtbot.waitUntil(lambda: changes == [True], timeout=2000)  # the last news of an ended sweep
