"""A partner agency's integration with Haven, over REST only.

A partner system is a registered machine client of Haven: it holds a client id and secret (from
`haven client add`), trades them for a short-lived bearer token with a stock OAuth2 library
(requests-oauthlib's BackendApplicationClient: the client-credentials grant), and reads the cases
that caseworkers referred to its agency, with the child's consent. It sees only the data classes each
referral shares; the rest is listed in `withheld` and absent from the answer.

It then learns of changes without polling every case: it subscribes a webhook (Haven POSTs ids, the
event type and the version, signed the Standard Webhooks way; the receiver checks the signature and
the timestamp and drops repeats by `webhook-id`), and it follows the change feed (`/v1/changes`), the
same events for systems that cannot take calls. Either way it fetches the changed record over REST.

Every error Haven answers is RFC 9457 problem+json (`type`, `title`, `status`, `detail`, `code`, and
for a bad field an `errors` list naming it); HavenError carries it.

    HAVEN_URL=http://127.0.0.1:50051 HAVEN_CLIENT_ID=ngo-app HAVEN_CLIENT_SECRET=... \\
        python partner_client.py

The secret is read from the environment only, so that it never shows in a process list.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import queue
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import requests
from oauthlib.oauth2 import BackendApplicationClient, TokenExpiredError
from requests_oauthlib import OAuth2Session

PROBLEM_JSON = "application/problem+json"


class HavenError(Exception):
    """An error Haven answered, as its problem+json says it."""

    def __init__(self, response: requests.Response):
        self.status = response.status_code
        problem: dict[str, Any] = {}
        if response.headers.get("content-type", "").startswith(PROBLEM_JSON):
            problem = response.json()
        self.code = problem.get("code", "")
        self.title = problem.get("title", response.reason)
        self.detail = problem.get("detail", "")
        self.problem_type = problem.get("type", "")
        # For INVALID_ARGUMENT: which field is at fault, in JSON names.
        self.fields = [e.get("jsonField", e.get("field")) for e in problem.get("errors", [])]
        super().__init__(f"{self.status} {self.code or self.title}: {self.detail}")


class HavenPartner:
    """A partner's session with one Haven deployment."""

    def __init__(self, base_url: str, client_id: str, client_secret: str, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self.timeout = timeout
        self.metadata = self._discover()
        self._session = OAuth2Session(client=BackendApplicationClient(client_id=client_id))
        self._fetch_token()

    def _discover(self) -> dict[str, Any]:
        """Where the token endpoint is: the deployment's OAuth2 metadata (RFC 8414), no token needed."""
        response = requests.get(
            f"{self.base_url}/.well-known/oauth-authorization-server", timeout=self.timeout
        )
        if not response.ok:
            raise HavenError(response)
        return response.json()

    def _fetch_token(self) -> None:
        # client_secret_basic: requests-oauthlib sends the id and secret in an Authorization header.
        self._session.fetch_token(
            token_url=self.metadata["token_endpoint"],
            client_id=self.client_id,
            client_secret=self._client_secret,
            timeout=self.timeout,
        )

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One REST call. A token that expired is replaced once (client credentials have no refresh
        token: the client simply asks again); a 429 or 503 is retried once after its Retry-After."""
        for attempt in range(2):
            try:
                response = self._session.request(
                    method, f"{self.base_url}{path}", timeout=self.timeout, **kwargs
                )
            except TokenExpiredError:
                self._fetch_token()
                continue
            if response.status_code == 401 and attempt == 0:
                self._fetch_token()
                continue
            if response.status_code in (429, 503) and attempt == 0:
                time.sleep(float(response.headers.get("retry-after", "1")))
                continue
            if not response.ok:
                raise HavenError(response)
            return response.json()
        raise HavenError(response)

    def incoming_referrals(self, page_size: int = 25) -> Iterator[dict[str, Any]]:
        """Every referral made to this agency, following `nextPageToken` from page to page."""
        page_token = ""
        while True:
            page = self.call(
                "GET",
                "/v1/referrals",
                params={
                    "direction": "DIRECTION_INCOMING",
                    "page_size": page_size,
                    "page_token": page_token,
                },
            )
            yield from page.get("referrals", [])
            page_token = page.get("nextPageToken", "")
            if not page_token:
                return

    def accept_referral(self, referral_id: str) -> dict[str, Any]:
        """Accepts a pending referral; the shared classes become readable from now on."""
        return self.call(
            "POST",
            f"/v1/referrals/{quote(referral_id, safe='')}:transition",
            json={"to": "REFERRAL_STATUS_ACCEPTED"},
        )

    def subscribe(self, url: str, event_types: list[str]) -> tuple[str, str]:
        """Subscribes `url` to event types; answers the subscription id and its signing secret, which
        Haven shows this once. The Idempotency-Key makes a retried subscribe safe."""
        created = self.call(
            "POST",
            "/v1/webhook-subscriptions",
            json={"url": url, "eventTypes": event_types},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        return created["subscription"]["id"], created["secret"]

    def changes(self, cursor: str = "", page_size: int = 100) -> Iterator[dict[str, Any]]:
        """The change feed from `cursor` to its current end. The cursor to continue from later is
        `self.cursor` afterwards."""
        self.cursor = cursor
        while True:
            page = self.call(
                "GET", "/v1/changes", params={"cursor": self.cursor, "page_size": page_size}
            )
            batch = page.get("changes", [])
            yield from batch
            self.cursor = page.get("nextCursor", self.cursor)
            if not batch:
                return

    def case_view(self, child_id: str) -> dict[str, Any]:
        """The referred child's record as this agency may see it: the shared classes, and `withheld`
        naming the others."""
        return self.call("GET", f"/v1/children/{quote(child_id, safe='')}")


def verified(secret: str, headers: Any, body: bytes, tolerance_secs: int = 300) -> bool:
    """Whether a webhook call is Haven's: an HMAC-SHA256 over "id.timestamp.body" with the subscription's
    secret (during a secret rotation the header holds two signatures; either will do), and a timestamp
    within five minutes of this clock, so a captured call cannot be replayed later by someone else."""
    try:
        webhook_id = headers["webhook-id"]
        timestamp = headers["webhook-timestamp"]
        signatures = headers["webhook-signature"].split(" ")
        if abs(time.time() - int(timestamp)) > tolerance_secs:
            return False
    except (KeyError, TypeError, ValueError):
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, signature) for signature in signatures)


class WebhookReceiver:
    """A small receiver for Haven's webhook calls: verifies each, answers 2xx to acknowledge (anything
    else makes Haven retry), and hands each event on once, whatever the retries."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.secret = ""
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.refused = 0
        self._seen: set[str] = set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server name)
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if not verified(receiver.secret, self.headers, body):
                    receiver.refused += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                webhook_id = self.headers["webhook-id"]
                if webhook_id not in receiver._seen:
                    receiver._seen.add(webhook_id)
                    receiver.events.put(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self.url = f"http://{host}:{self._server.server_address[1]}/haven-webhooks"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()


def follow_changes(partner: HavenPartner, receiver_url: str, receiver: WebhookReceiver,
                   wait_secs: float) -> list[dict[str, Any]]:
    """Subscribes the receiver, notes where the change feed ends, waits for webhook calls, fetches
    each changed record, and shows the same events on the change feed. Answers the events received."""
    subscription, receiver.secret = partner.subscribe(
        receiver_url, ["child.changed", "child.erased", "child.merged"]
    )
    backlog = list(partner.changes())
    cursor = partner.cursor
    print(f"subscribed {subscription}; the change feed holds {len(backlog)} earlier change(s)")
    print("waiting for webhooks", flush=True)
    received = []
    deadline = time.monotonic() + wait_secs
    while time.monotonic() < deadline:
        try:
            event = receiver.events.get(timeout=0.2)
        except queue.Empty:
            if received:
                break
            continue
        data = event["data"]
        view = partner.case_view(data["child_id"])
        print(
            f"webhook {event['type']}: child {data['child_id']} at version {data.get('version')};"
            f" fetched, now at version {view['child']['meta']['version']}"
        )
        received.append(event)
    fed = {change["eventId"] for change in partner.changes(cursor)}
    for event in received:
        on_feed = event["data"]["event_id"] in fed
        print(f"event {event['data']['event_id']} on the change feed too: {on_feed}")
    return received


def read_referred_cases(partner: HavenPartner, page_size: int) -> list[dict[str, Any]]:
    """Accepts what is pending and reads every case referred to the agency."""
    views = []
    for referral in partner.incoming_referrals(page_size=page_size):
        status = referral.get("status")
        if status == "REFERRAL_STATUS_PENDING":
            referral = partner.accept_referral(referral["id"])
            status = referral.get("status")
        if status != "REFERRAL_STATUS_ACCEPTED":
            continue
        view = partner.case_view(referral["childId"])
        child = view.get("child", {})
        shared = sorted(k for k in child if k != "meta")
        withheld = view.get("withheld", [])
        print(
            f"referral {referral['id']} ({referral.get('service', '')}): child {referral['childId']}"
            f" shares {', '.join(shared) or 'nothing'}; withheld: {', '.join(withheld) or 'none'}"
        )
        views.append(view)
    return views


def show_an_error(partner: HavenPartner) -> HavenError | None:
    """What an error looks like: a child this agency was never referred answers NOT_FOUND, exactly as a
    child that does not exist would, so a partner learns nothing about cases beyond its referrals."""
    try:
        partner.case_view("01900000-0000-7000-8000-000000000000")
    except HavenError as error:
        print(f"an error reads: status {error.status}, code {error.code}, detail {error.detail!r}")
        return error
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default=os.environ.get("HAVEN_URL", "http://127.0.0.1:50051"))
    parser.add_argument("--client-id", default=os.environ.get("HAVEN_CLIENT_ID", ""))
    parser.add_argument("--page-size", type=int, default=25)
    parser.add_argument(
        "--wait-for-webhooks",
        type=float,
        default=0.0,
        help="subscribe a local receiver and wait this many seconds for webhook calls (0: skip)",
    )
    parser.add_argument(
        "--expect-cases",
        type=int,
        default=None,
        help="fail unless exactly this many referred cases are read (for CI)",
    )
    args = parser.parse_args()
    secret = os.environ.get("HAVEN_CLIENT_SECRET", "")
    if not args.client_id or not secret:
        print("set HAVEN_CLIENT_ID (or --client-id) and HAVEN_CLIENT_SECRET", file=sys.stderr)
        return 2

    partner = HavenPartner(args.base_url, args.client_id, secret)
    print(f"token from {partner.metadata['token_endpoint']}")
    views = read_referred_cases(partner, args.page_size)
    print(f"{len(views)} referred case(s) read")
    error = show_an_error(partner)

    received: list[dict[str, Any]] = []
    if args.wait_for_webhooks > 0:
        receiver = WebhookReceiver()
        try:
            received = follow_changes(partner, receiver.url, receiver, args.wait_for_webhooks)
        finally:
            receiver.close()
        if not received:
            print("no webhook arrived", file=sys.stderr)
            return 1
        if receiver.refused:
            print(f"{receiver.refused} call(s) failed the signature check", file=sys.stderr)
            return 1
        fed = {change["eventId"] for change in partner.changes()}
        if any(event["data"]["event_id"] not in fed for event in received):
            print("a webhook's event is missing from the change feed", file=sys.stderr)
            return 1

    if error is None or error.status != 404 or error.code != "NOT_FOUND":
        print("expected a NOT_FOUND problem for an unreferred child", file=sys.stderr)
        return 1
    if args.expect_cases is not None and len(views) != args.expect_cases:
        print(f"expected {args.expect_cases} case(s), read {len(views)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
