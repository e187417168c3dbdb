"""A whole fill on the real app: real scheduler, real send pool, concurrent accepts."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from freezegun import freeze_time

from config import TestingConfig
from shiftfill.app import create_app
from shiftfill.bootstrap import bootstrap
from tests.conftest import START, add_caregiver, add_shift
from tests.fakes import FakeNotifier
from tests.jobs.test_escalation import wait_until, wake

PHONES = [f"+1555555{i:04d}" for i in range(200, 220)]


def test_fanout_decline_escalation_concurrent_accepts_one_winner() -> None:
    notifier = FakeNotifier()
    with freeze_time(START, tick=False) as frozen:
        runtime = bootstrap(TestingConfig({}), notifier=notifier)
        app = create_app(TestingConfig({}), runtime)
        runtime.start()
        try:
            client = app.test_client()
            for i, phone in enumerate(PHONES):
                add_caregiver(client, id=f"cg_{i}", name=f"RN {i}", role="RN", phone=phone)
            add_caregiver(client, id="lpn", name="LPN", role="LPN", phone="+15555550299")
            add_shift(client, id="sh_1")

            assert client.post("/shifts/sh_1/fanout").status_code == 202
            assert wait_until(lambda: len(notifier.by_channel("sms")) == len(PHONES))

            declined = client.post("/messages/inbound", json={"from": PHONES[0], "body": "no"})
            assert declined.json["outcome"] == "declined"

            frozen.move_to(START + timedelta(minutes=10))
            wake(app)
            assert wait_until(lambda: len(notifier.by_channel("call")) == len(PHONES) - 1)
            assert PHONES[0] not in {s.to for s in notifier.by_channel("call")}

            outcomes: list[str] = []
            lock = threading.Lock()
            barrier = threading.Barrier(len(PHONES) - 1)

            def accept(phone: str) -> None:
                local = app.test_client()
                barrier.wait()
                response = local.post(
                    "/messages/inbound",
                    data={"From": phone, "CallSid": f"CA{phone[1:]}", "Digits": "1"},
                )
                assert response.status_code == 200
                with lock:
                    outcomes.append(response.get_data(as_text=True))

            threads = [threading.Thread(target=accept, args=(p,)) for p in PHONES[1:]]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

            said = Counter("Confirmed" in text for text in outcomes)
            assert said[True] == 1
            assert said[False] == len(PHONES) - 2

            shift = client.get("/shifts/sh_1").json
            assert shift["status"] == "filled"
            assert shift["fanout"]["round"] == "phone"
            events = client.get("/shifts/sh_1/events").json
            types = Counter(e["type"] for e in events)
            assert types["fanout_started"] == 1
            assert types["sms_sent"] == len(PHONES)
            assert types["declined"] == 1
            assert types["escalated"] == 1
            assert types["call_placed"] == len(PHONES) - 1
            assert types["assigned"] == 1
            assert types["claim_lost"] == len(PHONES) - 2
            winner = next(e["caregiver_id"] for e in events if e["type"] == "assigned")
            assert shift["assigned_caregiver_id"] == winner
            assert [e["type"] for e in events].index("escalated") > [
                e["type"] for e in events
            ].index("declined")
        finally:
            runtime.shutdown()
