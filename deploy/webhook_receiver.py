"""A tiny webhook receiver for trying shiftfill's outbound webhooks on one machine.

    WEBHOOK_SECRET=whsec_... python deploy/webhook_receiver.py [port]

Verifies each request with the ``standardwebhooks`` library, prints the event,
answers 204 at once, and ignores a ``webhook-id`` it has seen (a retry).
"""

from __future__ import annotations

import http.server
import json
import os
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

VERIFIER = Webhook(os.environ["WEBHOOK_SECRET"])
SEEN: set[str] = set()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            message = VERIFIER.verify(body, dict(self.headers))
        except WebhookVerificationError as exc:
            self.send_response(400)
            self.end_headers()
            print(f"refused: {exc}", flush=True)
            return
        self.send_response(204)  # answer first and fast; the work is the receiver's own
        self.end_headers()
        message_id = self.headers["webhook-id"]
        if message_id in SEEN:
            return
        SEEN.add(message_id)
        shift = message["data"]["shift"]
        extra = {k: v for k, v in message["data"].items() if k != "shift"}
        print(message["type"], shift["id"], shift["status"], json.dumps(extra), flush=True)

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    print(f"listening on http://127.0.0.1:{port}/", flush=True)
    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
