"""Live resources for the schema fuzzer to aim at, made through the API.

A fuzzer that only has made-up ids gets 404 from every operation deeper than
a list, and one token shared by every operation stops working the moment the
fuzzer signs out or changes the password. This makes an organisation with a
member of each role, a class with a student, a lesson and an assessment
published to it, generated content, a message thread, API keys and an
invite, plus separate accounts for the operations that end sessions, and
prints them as `export FUZZ_…=…` lines for `scripts/fuzz` to evaluate;
`schemathesis.toml` names them. Things an operation destroys (a class, a
lesson, a member…) get one of their own, so the operations that read them
keep finding theirs.

Usage: fuzz_fixtures.py BASE_URL
"""

import json
import shlex
import sys
import time
import urllib.error
import urllib.request
import uuid

import game_signature

BASE = sys.argv[1].rstrip("/") + "/api/v1"
PASSWORD = "fuzz-password-123"
exports = {}


def call(method, path, token=None, body=None, expect=(200, 201, 202, 204)):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    if body is not None:
        request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    if status not in expect:
        sys.exit(f"fuzz fixtures: {method} {path} answered {status}: {text[:500]!r}")
    return json.loads(text)["data"] if text else None


def email(what):
    return f"fuzz-{what}-{uuid.uuid4().hex[:12]}@example.com"


def member(admin, role, what):
    address = email(what)
    invite = call("POST", "/organizations/current/invites", admin, {"email": address, "role": role})
    joined = call("POST", "/auth/register", body={"email": address, "password": PASSWORD, "first_name": "Fuzz",
                                                  "last_name": what.title(), "invite_token": invite["invite_token"]})
    return joined


def export(name, value):
    exports[f"FUZZ_{name}"] = value


def generated(token, kind):
    request = {"type": kind, "subject": "Biology", "grade_level": 7, "topic": "Photosynthesis", "num_questions": 3}
    job = call("POST", "/content/generate", token, request)["job_id"]
    for _ in range(200):
        found = call("GET", f"/content/jobs/{job}", token)
        if found["status"] == "succeeded":
            return job, found["content_id"]
        if found["status"] == "failed":
            sys.exit(f"fuzz fixtures: generation failed: {found}")
        time.sleep(0.1)
    sys.exit("fuzz fixtures: the worker did not run a job in 20 s")


admin = call("POST", "/auth/register", body={"email": email("admin"), "password": PASSWORD, "first_name": "Fuzz",
                                              "last_name": "Admin", "organization_name": "Fuzz School"})
token = admin["access_token"]
org, admin_id = admin["user"]["organization_id"], admin["user"]["id"]
export("ADMIN_TOKEN", token)
# A checkout makes the organisation's Stripe customer (scripts/fake_stripe.py),
# so the billing portal has one to open.
call("POST", "/payments/checkout", token, {"tier": "pro", "interval": "month"}, expect=(201,))
export("ORG_ID", org)
export("ADMIN_ID", admin_id)

teacher = member(token, "teacher", "teacher")
student = member(token, "student", "student")
export("TEACHER_ID", teacher["user"]["id"])
export("STUDENT_ID", student["user"]["id"])
export("STUDENT_TOKEN", student["access_token"])
parent = member(token, "parent", "parent")
export("PARENT_ID", parent["user"]["id"])
export("PARENT_TOKEN", parent["access_token"])
call("POST", f"/organizations/current/members/{parent['user']['id']}/children", token,
     {"child_id": student["user"]["id"]})
export("CHILD_TO_LINK", member(token, "student", "linkable")["user"]["id"])
export("MEMBER_TO_CHANGE", member(token, "teacher", "changing")["user"]["id"])
export("MEMBER_TO_REMOVE", member(token, "student", "removed")["user"]["id"])
enrolled = member(token, "student", "unenrolled")["user"]["id"]
export("STUDENT_TO_UNENROLL", enrolled)

# Sessions the fuzzer may end, each its own account's.
leaving = member(token, "teacher", "logout")
export("LOGOUT_TOKEN", leaving["access_token"])
export("LOGOUT_REFRESH", leaving["refresh_token"])
export("LOGOUT_ALL_TOKEN", member(token, "teacher", "logoutall")["access_token"])
changing = member(token, "teacher", "password")
export("PASSWORD_TOKEN", changing["access_token"])
export("PASSWORD", PASSWORD)
# A refresh token works once; its reuse ends its family.
export("REFRESH", member(token, "teacher", "refresh")["refresh_token"])
export("LOGIN_EMAIL", member(token, "teacher", "login")["user"]["email"])

klass = call("POST", "/classes", token, {"name": "Fuzz class"})["id"]
call("POST", f"/classes/{klass}/students", token, {"student_ids": [student["user"]["id"], enrolled]})
export("CLASS_ID", klass)
export("CLASS_TO_DELETE", call("POST", "/classes", token, {"name": "Fuzz class to delete"})["id"])

lesson_body = {"title": "Fuzz lesson", "summary": "S.", "objectives": ["O"], "sections": [{"heading": "H", "body": "B"}]}
lesson = call("POST", "/lessons", token, lesson_body)["id"]
call("POST", f"/lessons/{lesson}/publish", token, {"class_ids": [klass]})
export("LESSON_ID", lesson)
export("LESSON_TO_DELETE", call("POST", "/lessons", token, lesson_body)["id"])

assessment_body = {"title": "Fuzz assessment", "max_attempts": 10,
                   "questions": [{"kind": "multiple_choice", "prompt": "Where?", "options": ["Roots", "Leaves"],
                                  "answer": 1}]}
assessment = call("POST", "/assessments", token, assessment_body)["id"]
call("POST", f"/assessments/{assessment}/publish", token, {"class_ids": [klass]})
export("ASSESSMENT_ID", assessment)
export("ASSESSMENT_TO_DELETE", call("POST", "/assessments", token, assessment_body)["id"])

sent = call("POST", "/messages", teacher["access_token"],
            {"recipient_ids": [admin_id], "subject": "Fuzz", "body": "Hello."})
export("MESSAGE_ID", sent["id"])
export("THREAD_ID", sent["thread_id"])
export("MESSAGE_TO_DELETE", call("POST", "/messages", teacher["access_token"],
                                 {"recipient_ids": [admin_id], "subject": "Fuzz", "body": "Bye."})["id"])

job, content = generated(token, "lesson")
export("JOB_ID", job)
export("CONTENT_ID", content)
export("CONTENT_TO_DELETE", generated(token, "quiz")[1])

export("API_KEY_ID", call("POST", "/api-keys", token, {"name": "fuzz", "scopes": ["read"]})["id"])
export("API_KEY_TO_DELETE", call("POST", "/api-keys", token, {"name": "fuzz revoked", "scopes": ["read"]})["id"])
export("QUERY_ID", call("POST", "/analytics/custom-query", token, {"metrics": ["logins", "lessons_completed"]})["query_id"])
export("INVITE_TO_WITHDRAW", call("POST", "/organizations/current/invites", token,
                                  {"email": email("withdrawn"), "role": "student"})["id"])

# Compliance: an export of the student (its status is read), an erasure of a
# member of its own (the fuzzer may erase another: each its own), and the
# members consents and exports are asked about.
export("EXPORT_ID", call("POST", "/compliance/exports", token, {"user_id": student["user"]["id"]})["id"])
export("ERASURE_ID", call("POST", "/compliance/erasures", token,
                          {"user_id": member(token, "student", "erased")["user"]["id"]})["id"])
export("MEMBER_TO_ERASE", member(token, "student", "toerase")["user"]["id"])

# Roblox: environments of the generated lesson, one to read and one to
# delete; and one of the lesson made from it, published to the class, whose
# game (scripts/fuzz_hooks.py signs as it) has linked a student's player
# and holds one more join code to exchange.
export("ENVIRONMENT_ID", call("POST", "/roblox/environments", token, {"content_id": content})["id"])
export("ENVIRONMENT_TO_DELETE", call("POST", "/roblox/environments", token, {"content_id": content})["id"])
game_lesson = call("POST", "/lessons", token, {"content_id": content})["id"]
call("POST", f"/lessons/{game_lesson}/publish", token, {"class_ids": [klass]})
game = call("POST", "/roblox/environments", token, {"content_id": content, "lesson_id": game_lesson, "class_id": klass})
export("GAME_ENVIRONMENT_ID", game["id"])
export("GAME_KEY", game["key_id"])
export("GAME_SECRET", game["signing_secret"])
export("GAME_LESSON_ID", game_lesson)
export("GAME_PLAYER", "9001")
join = f"/roblox/environments/{game['id']}/join-code"


def game_call(path, body):
    data = json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method="POST")
    request.add_header("content-type", "application/json")
    for name, value in game_signature.headers(game["key_id"], game["signing_secret"], "/api/v1" + path, data).items():
        request.add_header(name, value)
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())["data"]


call("PUT", "/roblox/settings", token, {"api_key": "oc-key-fuzz", "universe_id": 111, "place_id": 222})
game_call("/roblox/links", {"code": call("POST", join, student["access_token"])["code"], "roblox_user_id": 9001})
export("GAME_JOIN_CODE", call("POST", join, student["access_token"])["code"])

for name, value in exports.items():
    print(f"export {name}={shlex.quote(value)}")
