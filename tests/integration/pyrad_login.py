#!/usr/bin/python3
"""A challenge login with python3-pyrad, for test_clients.sh.

Usage: pyrad_login.py HOST PORT USER, with the shared secret, the password
and the code on stdin, one per line (no secret on a command line).  Prints
"round 1: CODE: Reply-Message" and "round 2: CODE".
"""
import io
import sys

from pyrad.client import Client
from pyrad.dictionary import Dictionary
import pyrad.packet

DICTIONARY = """
ATTRIBUTE User-Name 1 string
ATTRIBUTE User-Password 2 string
ATTRIBUTE Reply-Message 18 string
ATTRIBUTE State 24 octets
ATTRIBUTE Prompt 76 integer
ATTRIBUTE Message-Authenticator 80 octets
"""

NAMES = {pyrad.packet.AccessAccept: "Access-Accept", pyrad.packet.AccessReject: "Access-Reject",
         pyrad.packet.AccessChallenge: "Access-Challenge"}


def main():
    host, port, user = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    secret, password, code = (sys.stdin.readline().rstrip("\n") for _ in range(3))
    client = Client(server=host, authport=port, secret=secret.encode(),
                    dict=Dictionary(io.StringIO(DICTIONARY)))
    client.timeout = 4
    client.retries = 1

    request = client.CreateAuthPacket(code=pyrad.packet.AccessRequest, User_Name=user)
    request["User-Password"] = request.PwCrypt(password)
    reply = client.SendPacket(request)
    message = reply["Reply-Message"][0] if "Reply-Message" in reply else ""
    print("round 1: %s: %s" % (NAMES.get(reply.code, reply.code), message))
    if reply.code != pyrad.packet.AccessChallenge:
        return 1

    request = client.CreateAuthPacket(code=pyrad.packet.AccessRequest, User_Name=user)
    request["User-Password"] = request.PwCrypt(code)
    request["State"] = reply["State"][0]
    reply = client.SendPacket(request)
    print("round 2: %s" % NAMES.get(reply.code, reply.code))
    return 0 if reply.code == pyrad.packet.AccessAccept else 1


if __name__ == "__main__":
    sys.exit(main())
