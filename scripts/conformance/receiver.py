"""A notification receiver for scripts/conformance.sh: answers 204 to the callback
test (GET) and to every notification (POST). Prints its URL, then serves until killed.
"""

import http.server
import sys


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(204)
        self.end_headers()

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
print(f"http://127.0.0.1:{server.server_port}/notifications", flush=True)
sys.stdout.close()
server.serve_forever()
