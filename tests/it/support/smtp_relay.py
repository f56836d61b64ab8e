"""A real SMTP server for the email tests: aiosmtpd (Debian's python3-aiosmtpd), requiring
AUTH with the test password, handing every accepted letter to Dovecot's delivery agent
(dovecot-lda) for the recipient's mailbox (its local part), so a reply we send is read back over
IMAP from the customer's mailbox.

Recipients whose local part starts with `flaky` are refused once with 451 (the outbox must try
again), `nosuchuser` always with 550 5.1.1 (a dead letter that marks the contact unreachable).

Usage: smtp_relay.py PORT PASSWORD DOVECOT_CONF LDA_PATH; prints `ready` once listening and runs
until its standard input closes.
"""

import subprocess
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, password, conf, lda = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
refused_once = set()


class Relay:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        if local.startswith("nosuchuser"):
            return "550 5.1.1 <%s>: Recipient address rejected: no such user" % address
        if local.startswith("flaky") and address not in refused_once:
            refused_once.add(address)
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        for address in envelope.rcpt_tos:
            user = address.split("@")[0].lower()
            delivered = subprocess.run(
                [lda, "-c", conf, "-d", user, "-f", envelope.mail_from or ""],
                input=envelope.original_content,
                capture_output=True,
            )
            if delivered.returncode != 0:
                return "451 4.3.0 delivery failed: %s" % delivered.stderr.decode(errors="replace")[:200]
        return "250 Message accepted for delivery"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.password.decode() == password
    return AuthResult(success=ok)


controller = Controller(
    Relay(),
    hostname="127.0.0.1",
    port=port,
    authenticator=authenticator,
    auth_required=True,
    auth_require_tls=False,
)
controller.start()
print("ready", flush=True)
try:
    sys.stdin.read()
finally:
    controller.stop()
