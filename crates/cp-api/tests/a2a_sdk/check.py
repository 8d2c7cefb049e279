"""Speaks to one deployment with the official A2A SDK (a2a-sdk, protocol 1.0), as any A2A client would,
and plays that deployment's data plane over HTTP so its tasks end.

Usage: check.py AGENT_URL API_KEY DATA_PLANE_CREDENTIAL CONTROL_PLANE_URL

Exits non-zero, naming what failed, when the control plane answers anything an A2A client would not
accept.
"""

import asyncio
import sys
import uuid

import httpx
from google.protobuf import json_format

from a2a.client import ClientConfig, create_client
from a2a.types import a2a_pb2 as pb
from a2a.utils.errors import TaskNotCancelableError, TaskNotFoundError

AGENT_URL, API_KEY, CREDENTIAL, CONTROL_PLANE = sys.argv[1:5]
INPUTS = {"billing_source": "s3://acme-billing/exports", "period": "2026-10"}
OUTPUTS = {"records": 15000, "payload_ref": "runs/1/normalized.parquet"}


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def message():
    return json_format.ParseDict(
        {"messageId": str(uuid.uuid4()), "role": "ROLE_USER", "parts": [{"data": INPUTS}]},
        pb.Message(),
    )


async def data_plane_finishes_one(http):
    """Claims the next task as the deployment's data plane and completes it."""
    headers = {"Authorization": f"Bearer {CREDENTIAL}"}
    base = f"{CONTROL_PLANE}/api/v1/dp"
    while True:
        claimed = await http.get(f"{base}/tasks/next?instance_id=sdk-check&max=1&wait=5s", headers=headers)
        claimed.raise_for_status()
        tasks = claimed.json()["tasks"]
        if tasks:
            break
    task = tasks[0]["task_id"]
    events = {"events": [{"seq": 1, "at": "2026-11-23T10:00:00Z", "type": "finished", "node": "load",
                          "attempt": 1, "status": "succeeded", "duration_ms": 12}]}
    (await http.post(f"{base}/tasks/{task}/events", json=events, headers=headers)).raise_for_status()
    completion = {"outputs": OUTPUTS, "usage": {"cpu_ms": 1000, "wall_ms": 1000}}
    (await http.post(f"{base}/tasks/{task}/complete", json=completion, headers=headers)).raise_for_status()


def outputs_of(task):
    check(len(task.artifacts) == 1, f"one artifact: {task}")
    return json_format.MessageToDict(task.artifacts[0].parts[0])["data"]


async def main():
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60) as http:
        polling = await create_client(AGENT_URL, ClientConfig(httpx_client=http, streaming=False, polling=True))
        card = await polling.get_extended_agent_card(pb.GetExtendedAgentCardRequest())
        check(card.name == "Billing Normalizer", f"the card names the agent: {card.name!r}")
        check(card.capabilities.streaming, "the card offers streaming")
        check(card.supported_interfaces[0].protocol_binding == "JSONRPC", "JSON-RPC is offered")
        print(f"card: {card.name} {card.version}, {len(card.skills)} skill(s)")

        # Non-blocking: the task comes back at once, then ends when the data plane completes it.
        events = [event async for event in polling.send_message(pb.SendMessageRequest(message=message()))]
        task = events[0].task
        check(task.status.state == pb.TASK_STATE_SUBMITTED, f"submitted: {task.status}")
        got = await polling.get_task(pb.GetTaskRequest(id=task.id))
        check(got.id == task.id, "GetTask finds it")
        listed = await polling.list_tasks(pb.ListTasksRequest(page_size=10))
        check(any(t.id == task.id for t in listed.tasks) and listed.total_size >= 1, f"ListTasks lists it: {listed}")
        await data_plane_finishes_one(http)
        done = await polling.get_task(pb.GetTaskRequest(id=task.id))
        check(done.status.state == pb.TASK_STATE_COMPLETED, f"completed: {done.status}")
        check(outputs_of(done)["payload_ref"] == OUTPUTS["payload_ref"], "the outputs are the artifact")
        print(f"non-blocking: {task.id} submitted, then completed")

        # Blocking: the answer waits for the end.
        blocking = await create_client(AGENT_URL, ClientConfig(httpx_client=http, streaming=False))
        answered, _ = await asyncio.gather(
            anext(blocking.send_message(pb.SendMessageRequest(message=message()))),
            data_plane_finishes_one(http),
        )
        check(answered.task.status.state == pb.TASK_STATE_COMPLETED, f"blocking waits: {answered.task.status}")
        print("blocking: completed in one call")

        # Streaming: the task, its progress, its artifact, its end.
        streaming = await create_client(AGENT_URL, ClientConfig(httpx_client=http, streaming=True))

        async def collect(stream):
            return [event async for event in stream]

        streamed, _ = await asyncio.gather(
            collect(streaming.send_message(pb.SendMessageRequest(message=message()))),
            data_plane_finishes_one(http),
        )
        kinds = [event.WhichOneof("payload") for event in streamed]
        check(kinds[0] == "task", f"a stream starts with the task: {kinds}")
        check("artifact_update" in kinds, f"the outputs arrive as an artifact: {kinds}")
        last = streamed[-1]
        check(last.status_update.status.state == pb.TASK_STATE_COMPLETED, f"the stream ends completed: {kinds}")
        print(f"streaming: {' → '.join(kinds)}")

        # Subscribing to a task under way.
        queued = [event async for event in polling.send_message(pb.SendMessageRequest(message=message()))][0].task
        followed, _ = await asyncio.gather(
            collect(streaming.subscribe(pb.SubscribeToTaskRequest(id=queued.id))),
            data_plane_finishes_one(http),
        )
        check(followed[-1].status_update.status.state == pb.TASK_STATE_COMPLETED, "a subscription follows to the end")
        print(f"subscribe: {len(followed)} event(s) to the end")

        # Cancelling, and the errors an A2A client knows.
        queued = [event async for event in polling.send_message(pb.SendMessageRequest(message=message()))][0].task
        cancelled = await polling.cancel_task(pb.CancelTaskRequest(id=queued.id))
        check(cancelled.status.state == pb.TASK_STATE_CANCELED, f"cancelled: {cancelled.status}")
        try:
            await polling.cancel_task(pb.CancelTaskRequest(id=queued.id))
            check(False, "a second cancel is refused")
        except TaskNotCancelableError:
            pass
        try:
            await polling.get_task(pb.GetTaskRequest(id=str(uuid.uuid4())))
            check(False, "an unknown task is not found")
        except TaskNotFoundError:
            pass
        print("cancel and errors: as the SDK expects")
        for client in (polling, blocking, streaming):
            await client.close()


asyncio.run(main())
