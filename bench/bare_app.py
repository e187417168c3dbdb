"""A bare Flask endpoint, the yardstick for the inbound webhook's throughput."""

from flask import Flask, Response, request

app = Flask(__name__)

REPLY = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>{}</Message></Response>'


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/messages/inbound")
def inbound() -> Response:
    return Response(REPLY.format(len(request.form.get("Body", ""))), mimetype="text/xml")
