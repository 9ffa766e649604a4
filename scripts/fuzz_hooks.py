"""Schemathesis hooks (scripts/fuzz sets SCHEMATHESIS_HOOKS): requests to
the Roblox game server's routes are signed with the fixture environment's
secret, as its game signs them, so the fuzzer reaches their handlers."""

import json
import os
import time

import schemathesis

import game_signature

LINKS = "/api/v1/roblox/links"
EVENTS = "/api/v1/roblox/environments/{id}/events"
# What was signed, each second: the same request signed again in the same
# second is the same signature, which the API refuses as a replay (rightly).
signed_this_second = (0, set())


@schemathesis.hook
def before_call(context, case, kwargs):
    global signed_this_second
    if case.operation.path not in (LINKS, EVENTS):
        return
    # Reports are about the fixture's linked player and lesson (an integer
    # the configuration's string parameters cannot give, in a oneOf they do
    # not reach).
    if case.operation.path == EVENTS and isinstance(case.body, dict):
        if "roblox_user_id" in case.body:
            case.body["roblox_user_id"] = int(os.environ["FUZZ_GAME_PLAYER"])
        if "lesson_id" in case.body:
            case.body["lesson_id"] = os.environ["FUZZ_GAME_LESSON_ID"]
    try:
        # The bytes schemathesis sends for a JSON body.
        body = json.dumps(case.body).encode("utf-8")
    except TypeError:
        return
    request = (case.formatted_path, body)
    second, seen = signed_this_second
    if second == int(time.time()) and request in seen:
        time.sleep(1 - time.time() % 1)
    now = int(time.time())
    if signed_this_second[0] != now:
        signed_this_second = (now, set())
    signed_this_second[1].add(request)
    signed = game_signature.headers(os.environ["FUZZ_GAME_KEY"], os.environ["FUZZ_GAME_SECRET"],
                                    case.formatted_path, body, now)
    # The generated values of the headers the case carries are replaced; a
    # header the fuzzer left out (to see it refused) stays out.
    headers = {name: value for name, value in (case.headers or {}).items()
               if name.lower() not in {signed_name.lower() for signed_name in signed}}
    present = {name.lower() for name in (case.headers or {})}
    headers.update({name: value for name, value in signed.items() if name.lower() in present})
    case.headers = headers
