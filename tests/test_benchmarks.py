"""The benchmark's measuring code: what it reports must mean what the README says."""

import asyncio

from benchmarks.serve import drive, drive_alternating, pct


def test_percentile_picks_the_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert pct(values, 50) == 51.0
    assert pct(values, 99) == 99.0
    assert pct([7.0], 99) == 7.0


def test_alternating_calls_take_turns_and_swap_who_goes_first():
    order: list[tuple[str, int]] = []

    def recorder(name):
        async def call(i):
            order.append((name, i))

        return call

    async def run():
        return await drive_alternating([recorder("api"), recorder("es")], 0.05)

    api_row, es_row = asyncio.run(run())
    assert api_row["n"] == es_row["n"] > 2
    assert order[:4] == [("api", 0), ("es", 0), ("es", 1), ("api", 1)]


def test_failures_are_counted_with_the_first_message_not_raised():
    async def flaky(i):
        if i % 2:
            raise RuntimeError(f"boom {i}")

    row = asyncio.run(drive(flaky, 2, 0.05))
    assert row["errors"] > 0 and row["n"] > 0
    assert row["first_error"].startswith("RuntimeError: boom")


def test_failover_counts_recovery_from_the_kill_and_flags_anything_but_200_or_503():
    from benchmarks.failover import Answer, Outcome

    outcome = Outcome(killed_at=5.0, killed="n2")
    outcome.answers = [
        Answer("read", 0.0, 0.1, 200),
        Answer("write", 5.1, 7.5, 503, user_id=1, movie_id=1),
        Answer("write", 7.6, 8.0, 200, user_id=2, movie_id=2),
        Answer("read", 8.0, 9.0, 0, "ReadTimeout"),
        Answer("read", 9.0, 9.5, 200),
    ]
    report = outcome.report()
    assert report["ratio_200"] == 0.6 and report["acknowledged"] == 1
    assert report["back_to_all_200_after_s"] == 4.0  # the timeout ending at 9.0
    assert [a.status for a in outcome.unexpected()] == [0]
    assert Outcome().recovery_s() == 0.0
