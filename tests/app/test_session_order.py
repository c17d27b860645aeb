"""Slider events: one session's take turns, other sessions' run at once, a preview from before a release is stale."""

import threading

from explorer.app.session_order import SessionOrder, new_session_key


def test_one_session_takes_turns_others_run_at_once():
    order = SessionOrder()
    a, b = {"session": new_session_key()}, {"session": new_session_key()}
    inside = threading.Event()
    release = threading.Event()
    got: list[str] = []

    def hold(st, name):
        with order.turn(st):
            got.append(name)
            inside.set()
            release.wait(5)

    first = threading.Thread(target=hold, args=(a, "a1"))
    first.start()
    assert inside.wait(5)
    def quick(st, name):
        with order.turn(st):
            got.append(name)

    other = threading.Thread(target=quick, args=(b, "b"))
    same = threading.Thread(target=hold, args=(a, "a2"))
    other.start()
    same.start()
    other.join(5)
    assert got == ["a1", "b"]  # the other session did not wait for a1
    assert same.is_alive()  # a's second event waits for its first
    release.set()
    first.join(5)
    same.join(5)
    assert got == ["a1", "b", "a2"]


def test_a_state_read_before_a_release_of_its_session_is_stale():
    order = SessionOrder()
    st = {"session": "s1"}
    preview_state = dict(st)  # read by a drag preview, which then waits for the release
    with order.turn(st) as current:
        assert current
        st = order.commit(dict(st, z=1))
    assert st["slider_gen"] == 1
    with order.turn(preview_state) as current:
        assert not current  # the preview changes nothing
    with order.turn(st) as current:
        assert current  # the release's own state is current
    with order.turn({"session": "s2"}) as current:
        assert current  # another session's is untouched


def test_bounded_and_a_forgotten_session_goes_on():
    order = SessionOrder(size=3)
    st = {"session": "old"}
    with order.turn(st):
        st = order.commit(order.commit(st))
    stale = dict(st, slider_gen=1)
    for i in range(10):
        with order.turn({"session": str(i)}):
            pass
    assert len(order) == 3  # "old" was dropped: its generation is known only from its state now
    with order.turn(st) as current:
        assert current
        st = order.commit(st)
    assert st["slider_gen"] == 3
    with order.turn(stale) as current:
        assert not current
