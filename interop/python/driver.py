"""A Python Dramatiq producer the Node harness drives: one JSON command a line on stdin, one
JSON answer a line on stdout ({"id", "ok": true, "value"} or {"id", "ok": false, "error"}).

Commands (each names actors of interop_app.py, all on INTEROP_QUEUE):
  send      {actor, args, kwargs, options, delay}  -> the sent message (asdict)
  send_many {actor, tags, pause_ms}                -> how many were sent
  pipeline  {steps: [{actor, args, kwargs, options}]} -> the first message's id
  chord     {members: [...], callback: {...}}      -> the members' ids
  result    {message, timeout}                     -> {value, elapsed_ms}: get_result(block=True)
"""

import json
import sys
import time
import traceback

import dramatiq
from dramatiq.message import Message

import interop_app

ACTORS = {
    name: getattr(interop_app, name)
    for name in ["interop_record", "interop_fail", "interop_add", "interop_finish", "interop_fleet"]
}


def build(step):
    actor = ACTORS[step["actor"]]
    return actor.message_with_options(
        args=tuple(step.get("args", [])), kwargs=step.get("kwargs") or {}, **(step.get("options") or {})
    )


def run(command):
    op = command["op"]
    if op == "send":
        actor = ACTORS[command["actor"]]
        message = actor.send_with_options(
            args=tuple(command.get("args", [])),
            kwargs=command.get("kwargs") or {},
            delay=command.get("delay"),
            **(command.get("options") or {}),
        )
        return message.asdict()
    if op == "send_many":
        actor = ACTORS[command["actor"]]
        for tag in command["tags"]:
            actor.send(tag, command.get("pause_ms", 0))
        return len(command["tags"])
    if op == "pipeline":
        pipe = dramatiq.pipeline([build(step) for step in command["steps"]])
        pipe.run()
        return pipe.messages[0].message_id
    if op == "chord":
        members = [build(step) for step in command["members"]]
        chord = dramatiq.group(members)
        chord.add_completion_callback(build(command["callback"]))
        chord.run()
        return [m.message_id for m in members]
    if op == "result":
        message = Message(**command["message"])
        start = time.monotonic()
        value = message.get_result(block=True, timeout=command.get("timeout", 10000))
        return {"value": value, "elapsed_ms": int((time.monotonic() - start) * 1000)}
    raise ValueError("unknown op " + repr(op))


def main():
    print(json.dumps({"ready": True, "dramatiq": dramatiq.__version__, "file": dramatiq.__file__}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        try:
            answer = {"id": command["id"], "ok": True, "value": run(command)}
        except Exception as error:  # noqa: BLE001 - every failure goes back to the harness
            last = traceback.format_exception_only(type(error), error)[-1].strip()
            answer = {"id": command["id"], "ok": False, "error": last}
        print(json.dumps(answer), flush=True)
    interop_app.broker.close()


if __name__ == "__main__":
    main()
