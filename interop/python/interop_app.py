"""The Python side of `npm run interop:python`: Dramatiq 2.2 actors that mirror interop/node/app.ts.

Imported by `python3 -m dramatiq interop_app` (the workers) and by driver.py (the producer). Every
run appends one JSON record to a Redis list (the ledger) that the Node harness reads. Configured
only through the environment, which the harness sets:

  INTEROP_BROKER             redis://... (no query) or amqp://...
  INTEROP_REDIS              Redis for the ledger, results and group barriers
  INTEROP_NS                 the run's private namespace (Redis keys, results namespace, ledger)
  INTEROP_QUEUE              the one queue this process's actors use
  INTEROP_HEARTBEAT_TIMEOUT  RedisBroker(heartbeat_timeout=...), in ms
  INTEROP_CONFIRM            "1": RabbitmqBroker(confirm_delivery=True), for producers
  INTEROP_CLOCK_SKEW_MS      added to the clock RedisBroker reads (its heartbeats and etas), as
                             on a host whose clock is off by that much
"""

import json
import os
import time

import dramatiq
import redis
from dramatiq.middleware import CurrentMessage, GroupCallbacks
from dramatiq.rate_limits.backends import RedisBackend as RateLimiterRedisBackend
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend as ResultsRedisBackend

BROKER_URL = os.environ["INTEROP_BROKER"]
REDIS_URL = os.environ["INTEROP_REDIS"]
NAMESPACE = os.environ["INTEROP_NS"]
QUEUE = os.environ["INTEROP_QUEUE"]
LEDGER = NAMESPACE + ":ledger"

if BROKER_URL.startswith("redis"):
    import dramatiq.brokers.redis as redis_broker_module
    from dramatiq.brokers.redis import RedisBroker

    SKEW = int(os.environ.get("INTEROP_CLOCK_SKEW_MS", "0"))
    if SKEW:
        # RedisBroker._dispatch stamps heartbeats with this module's current_millis (redis.py:266).
        _real_millis = redis_broker_module.current_millis
        redis_broker_module.current_millis = lambda: _real_millis() + SKEW

    broker = RedisBroker(
        url=BROKER_URL,
        namespace=NAMESPACE,
        heartbeat_timeout=int(os.environ.get("INTEROP_HEARTBEAT_TIMEOUT", "60000")),
    )
else:
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    broker = RabbitmqBroker(url=BROKER_URL, confirm_delivery=os.environ.get("INTEROP_CONFIRM") == "1")

broker.add_middleware(CurrentMessage())
broker.add_middleware(Results(backend=ResultsRedisBackend(url=REDIS_URL, namespace=NAMESPACE + "-results")))
broker.add_middleware(GroupCallbacks(RateLimiterRedisBackend(url=REDIS_URL)))
dramatiq.set_broker(broker)

_ledger = redis.Redis.from_url(REDIS_URL)


def record(actor, tag, args, kwargs, extra=None):
    message = CurrentMessage.get_current_message()
    options = message.options if message is not None else {}
    entry = {
        "side": "python",
        "pid": os.getpid(),
        "actor": actor,
        "tag": tag,
        "args": list(args),
        "kwargs": kwargs,
        "message_id": message.message_id if message is not None else None,
        "queue": message.queue_name if message is not None else None,
        "priority": options.get("priority"),
        "retries": options.get("retries", 0),
        "group": options.get("group_completion_uuid"),
        "at": int(time.time() * 1000),
    }
    if extra:
        entry.update(extra)
    _ledger.rpush(LEDGER, json.dumps(entry))


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def interop_record(tag, *args, **kwargs):
    record("interop_record", tag, args, kwargs)


@dramatiq.actor(queue_name=QUEUE, max_retries=2, min_backoff=100, max_backoff=200)
def interop_fail(tag):
    record("interop_fail", tag, [], {})
    raise RuntimeError("interop_fail always fails: " + tag)


@dramatiq.actor(queue_name=QUEUE, max_retries=0, store_results=True)
def interop_add(a, b=0, pause_ms=0):
    # The pause lets a reader block on the result before it is stored.
    if pause_ms:
        time.sleep(pause_ms / 1000)
    record("interop_add", "add", [a, b], {"pause_ms": pause_ms} if pause_ms else {})
    return a + b


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def interop_finish(tag, value=None):
    record("interop_finish", tag, [value], {})


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def interop_fleet(tag, pause_ms=0):
    if pause_ms:
        time.sleep(pause_ms / 1000)
    record("interop_fleet", tag, [pause_ms], {})
