"""The tests' HTTP client: one request per connection, from a chosen loopback address;
and what an instance's /metrics says it served."""

from __future__ import annotations

import http.client
import json
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

API = "/api/v1"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def is_problem(self) -> bool:
        return self.headers.get("content-type", "").startswith("application/problem+json")


def call(
    port: int,
    method: str,
    path: str,
    *,
    json_body: object | None = None,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    token: str | None = None,
    source: str = "127.0.0.1",
    timeout: float = 30,
) -> Answer:
    """One request on a new connection from the loopback address ``source``; its body
    ``json_body`` encoded, or ``body`` as it is."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout, source_address=(source, 0)
    )
    sent = dict(headers or {})
    if json_body is not None:
        body = json.dumps(json_body).encode()
        sent["Content-Type"] = "application/json"
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    try:
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        return Answer(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        connection.close()


def upload_image(port: int, product_id: int, image: bytes, token: str) -> Answer:
    """Staff upload ``image`` (JPEG bytes) to a product, as a browser's multipart form."""
    boundary = uuid.uuid4().hex
    form = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="mug.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + image
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return call(
        port,
        "POST",
        f"{API}/products/{product_id}/images",
        body=form,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        token=token,
    )


def requests_served(port: int) -> Counter[tuple[str, str, int]]:
    """Requests an instance answered, by method, route and status, from its ``/metrics``
    (one worker per instance, so the figures are the whole instance's)."""
    served: Counter[tuple[str, str, int]] = Counter()
    for line in call(port, "GET", "/metrics").body.decode().splitlines():
        if line.startswith("minicommerce_http_requests_total{"):
            labels, _, value = line.partition("} ")
            fields = dict(
                part.split("=", 1) for part in labels.split("{", 1)[1].split(",") if "=" in part
            )
            method, route, status = (fields[k].strip('"') for k in ("method", "route", "status"))
            served[(method, route, int(status))] += int(float(value))
    return served


def degraded_count(port: int) -> int:
    """Requests the instance limited per process because Redis failed."""
    for line in call(port, "GET", "/metrics").body.decode().splitlines():
        if line.startswith("minicommerce_ratelimit_degraded_total "):
            return int(float(line.split()[1]))
    raise AssertionError("no minicommerce_ratelimit_degraded_total in /metrics")
