"""The shared token cache and the per-member send limits, on the real Redis."""
from __future__ import annotations

import threading
import time

import pytest

from bot.base import PlatformError, RateLimited
from bot.ratelimit import MemberLimiter
from bot.tokens import TokenStore


class SlowFetch:
    """A gettoken stand-in that counts calls and takes a while, as the network would."""

    def __init__(self, delay: float = 0.2, expires_in: int = 7200):
        self.calls, self.delay, self.expires_in = 0, delay, expires_in

    def __call__(self) -> tuple[str, int]:
        self.calls += 1
        time.sleep(self.delay)
        return f"token-{self.calls}", self.expires_in


def run_together(n: int, target) -> list:
    """Run target n times at once in threads; return results (or the exceptions raised)."""
    results, barrier = [None] * n, threading.Barrier(n)

    def one(i):
        barrier.wait()
        try:
            results[i] = target()
        except Exception as exc:  # collected for the assertion
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_many_processes_asking_at_once_fetch_the_token_once(redis_conn, key_prefix):
    fetch = SlowFetch()
    stores = [TokenStore(redis_conn, f"{key_prefix}:token", poll_seconds=0.01) for _ in range(8)]
    results = run_together(8, lambda: stores[threading.get_ident() % 8].get(fetch))
    assert results == ["token-1"] * 8 and fetch.calls == 1


def test_the_cache_expires_a_little_before_the_platform_says(redis_conn, key_prefix):
    store = TokenStore(redis_conn, f"{key_prefix}:token")
    store.get(SlowFetch(0, expires_in=7200))
    assert 6800 <= redis_conn.ttl(f"{key_prefix}:token") <= 6900
    store.forget()
    store.get(SlowFetch(0, expires_in=100))
    assert 70 <= redis_conn.ttl(f"{key_prefix}:token") <= 80


def test_a_rejected_token_is_refreshed_once_however_many_processes_saw_it_fail(redis_conn, key_prefix):
    fetch = SlowFetch(0.1)
    store = TokenStore(redis_conn, f"{key_prefix}:token", poll_seconds=0.01)
    assert store.get(fetch) == "token-1"
    results = run_together(6, lambda: store.refresh(fetch, stale="token-1"))
    assert results == ["token-2"] * 6 and fetch.calls == 2
    # A late report about the old token does not throw away the new one.
    assert store.refresh(fetch, stale="token-1") == "token-2" and fetch.calls == 2


def test_waiting_on_a_stuck_refresher_gives_up_with_a_retryable_error(redis_conn, key_prefix):
    redis_conn.set(f"{key_prefix}:token:lock", "someone-else", px=5000)
    store = TokenStore(redis_conn, f"{key_prefix}:token", wait_seconds=0.2, poll_seconds=0.02)
    with pytest.raises(PlatformError) as failed:
        store.get(SlowFetch(0))
    assert failed.value.retryable


def test_a_failing_fetch_releases_the_lock(redis_conn, key_prefix):
    store = TokenStore(redis_conn, f"{key_prefix}:token")

    def broken():
        raise RuntimeError("gettoken down")

    with pytest.raises(RuntimeError):
        store.get(broken)
    assert not redis_conn.exists(f"{key_prefix}:token:lock")
    assert store.get(SlowFetch(0)) == "token-1"


def test_a_member_gets_limit_slots_per_window_then_a_wait(redis_conn, key_prefix):
    limiter = MemberLimiter(redis_conn, key_prefix, [(3, 1.0), (5, 3.0)])
    for _ in range(3):
        limiter.take("ZhangSan")
    with pytest.raises(RateLimited) as limited:
        limiter.take("zhangsan")  # ids are case-insensitive on WeCom
    assert 0 < limited.value.retry_after <= 1.0 and limited.value.retryable
    limiter.take("lisi")  # another member is not affected
    time.sleep(limited.value.retry_after + 0.01)
    limiter.take("zhangsan")
    limiter.take("zhangsan")
    with pytest.raises(RateLimited) as limited:
        limiter.take("zhangsan")  # the minute-like window is free again, the hour-like one is full
    assert 1.0 < limited.value.retry_after <= 3.0


def test_a_refused_take_consumes_nothing(redis_conn, key_prefix):
    limiter = MemberLimiter(redis_conn, key_prefix, [(2, 60.0)])
    limiter.take("u")
    limiter.take("u")
    for _ in range(5):
        with pytest.raises(RateLimited):
            limiter.take("u")
    assert redis_conn.zcard(f"{key_prefix}:u") == 2


def test_concurrent_takes_never_exceed_the_limit(redis_conn, key_prefix):
    limiters = [MemberLimiter(redis_conn, key_prefix, [(10, 60.0), (1000, 3600.0)]) for _ in range(4)]
    results = run_together(40, lambda: limiters[threading.get_ident() % 4].take("u"))
    assert sum(r is None for r in results) == 10
    assert all(isinstance(r, RateLimited) for r in results if r is not None)
