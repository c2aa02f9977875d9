#!/usr/bin/env python3
"""A Python client of Chime over gRPC: creates a cron schedule, lists it, unschedules it.

Uses stubs generated from proto/chime/v1 by ./generate.sh (grpc_tools.protoc) and Debian's
python3-grpcio. Run:

    sdk/examples/python/generate.sh
    PYTHONPATH=sdk/examples/python/gen /usr/bin/python3 sdk/examples/python/cron_client.py \
        --address 127.0.0.1:7070

Prints one JSON line per step, so a test (or a person) can follow what happened.
"""

import argparse
import json
import sys

import grpc

from chime.v1 import scheduler_service_pb2 as api
from chime.v1 import scheduler_service_pb2_grpc as api_grpc


def step(name: str, **values: object) -> None:
    print(json.dumps({"step": name, **values}), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1:7070", help="Chime's host:port")
    parser.add_argument("--name", default="python-nightly-report")
    parser.add_argument("--subject", default="tasks.reports.nightly")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per call")
    args = parser.parse_args()

    with grpc.insecure_channel(args.address) as channel:
        chime = api_grpc.SchedulerServiceStub(channel)

        created = chime.ScheduleByCron(
            api.ScheduleByCronRequest(
                subject=args.subject,
                name=args.name,
                cron="0 2 * * *",
                time_zone="America/New_York",
                payload=b'{"report":"daily"}',
                content_type="application/json",
                labels={"team": "reports"},
            ),
            timeout=args.timeout,
        )
        step(
            "created",
            scheduleId=created.schedule_id,
            created=created.created,
            nextFireAt=created.schedule.next_fire_at.ToJsonString(),
        )

        listed = []
        page_token = ""
        while True:
            page = chime.ListSchedules(
                api.ListSchedulesRequest(page_size=100, page_token=page_token),
                timeout=args.timeout,
            )
            listed.extend(page.schedules)
            page_token = page.next_page_token
            if not page_token:
                break
        mine = [s for s in listed if s.schedule_id == created.schedule_id]
        step("listed", total=len(listed), found=len(mine), names=[s.name for s in mine])
        if not mine:
            print("the new schedule is not in the list", file=sys.stderr)
            return 1

        removed = chime.Unschedule(
            api.UnscheduleRequest(schedule_id=created.schedule_id), timeout=args.timeout
        )
        step("unscheduled", existed=removed.existed)

        try:
            chime.GetSchedule(api.GetScheduleRequest(name=args.name), timeout=args.timeout)
        except grpc.RpcError as err:
            step("gone", code=err.code().name)
        else:
            print("the schedule is still there after Unschedule", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
