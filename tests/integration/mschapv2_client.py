#!/usr/bin/python3
"""mschapv2_client.py: one MS-CHAPv2 Access-Request, as a NAS would send it.

radclient cannot build an MS-CHAPv2 response, so this computes one by
RFC 2759 (NT-Response: MD4 of the UTF-16LE password, then DES of the
challenge hash under three keys) and sends it with pyrad.

Usage: mschapv2_client.py HOST PORT USER < secrets
The shared secret and the password are read from stdin, one a line, so
that neither shows on a command line.

Prints, one a line:
    code=Access-Accept|Access-Reject|Access-Challenge|none
    state=0x...                       (if the reply holds a State)
    message_authenticator=valid|invalid|missing
"""

import hashlib
import hmac
import io
import os
import socket
import sys

from pyrad import dictionary, packet

try:
    from Cryptodome.Cipher import DES
    from Cryptodome.Hash import MD4
except ImportError:			# pycryptodome installed as "Crypto"
    from Crypto.Cipher import DES
    from Crypto.Hash import MD4

DICTIONARY = """
ATTRIBUTE	User-Name		1	string
ATTRIBUTE	User-Password		2	string	encrypt=1
ATTRIBUTE	Reply-Message		18	string
ATTRIBUTE	State			24	octets
ATTRIBUTE	Prompt			76	integer
ATTRIBUTE	Message-Authenticator	80	octets
VENDOR		Microsoft		311
BEGIN-VENDOR	Microsoft
ATTRIBUTE	MS-CHAP-Error		2	string
ATTRIBUTE	MS-CHAP-Challenge	11	octets
ATTRIBUTE	MS-CHAP2-Response	25	octets
ATTRIBUTE	MS-CHAP2-Success	26	octets
END-VENDOR	Microsoft
"""

CODES = {
    packet.AccessAccept: "Access-Accept",
    packet.AccessReject: "Access-Reject",
    packet.AccessChallenge: "Access-Challenge",
}

MESSAGE_AUTHENTICATOR = 80


def des_key(seven):
    """A 7-byte key spread over 8 bytes, the low bit (parity) of each left 0."""
    bits = int.from_bytes(seven, "big")
    return bytes(((bits >> (49 - 7 * i)) & 0x7F) << 1 for i in range(8))


def nt_response(auth_challenge, peer_challenge, user, password):
    """RFC 2759 GenerateNTResponse."""
    challenge_hash = hashlib.sha1(peer_challenge + auth_challenge + user.encode()).digest()[:8]
    password_hash = MD4.new(password.encode("utf-16-le")).digest() + bytes(5)
    return b"".join(DES.new(des_key(password_hash[i:i + 7]), DES.MODE_ECB).encrypt(challenge_hash)
                    for i in (0, 7, 14))


def message_authenticator_of(raw, secret):
    return hmac.new(secret, raw, hashlib.md5).digest()


def split_message_authenticator(raw):
    """(the packet with its Message-Authenticator zeroed, its value), or (raw, None)."""
    pos = 20
    while pos + 2 <= len(raw):
        kind, length = raw[pos], raw[pos + 1]
        if length < 2:
            break
        if kind == MESSAGE_AUTHENTICATOR and length == 18:
            return raw[:pos + 2] + bytes(16) + raw[pos + 18:], raw[pos + 2:pos + 18]
        pos += length
    return raw, None


def check_reply_authenticator(raw, request_authenticator, secret):
    """RFC 3579 3.2: HMAC-MD5 over the reply with the request's authenticator in place."""
    zeroed, received = split_message_authenticator(raw)
    if received is None:
        return "missing"
    expected = message_authenticator_of(zeroed[:4] + request_authenticator + zeroed[20:], secret)
    return "valid" if hmac.compare_digest(received, expected) else "invalid"


def main():
    host, port, user = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    secret = sys.stdin.readline().rstrip("\n").encode()
    password = sys.stdin.readline().rstrip("\n")

    radius_dict = dictionary.Dictionary(io.StringIO(DICTIONARY))
    auth_challenge = os.urandom(16)
    peer_challenge = os.urandom(16)
    ident = 1
    response = (bytes([ident, 0]) + peer_challenge + bytes(8)
                + nt_response(auth_challenge, peer_challenge, user, password))

    request = packet.AuthPacket(secret=secret, dict=radius_dict)
    request["User-Name"] = user
    request["MS-CHAP-Challenge"] = auth_challenge
    request["MS-CHAP2-Response"] = response
    request["Message-Authenticator"] = bytes(16)
    raw = request.RequestPacket()
    request["Message-Authenticator"] = message_authenticator_of(raw, secret)
    raw = request.RequestPacket()

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(4)
    reply_raw = None
    for _ in range(2):
        sock.sendto(raw, (host, port))
        try:
            while True:
                data = sock.recv(4096)
                reply = request.CreateReply(packet=data)
                if request.VerifyReply(reply, data):
                    reply_raw = data
                    break
        except socket.timeout:
            continue
        break
    if reply_raw is None:
        print("code=none")
        return 1

    print("code=" + CODES.get(reply.code, str(reply.code)))
    if "State" in reply:
        print("state=0x" + reply["State"][0].hex())
    print("message_authenticator=" + check_reply_authenticator(reply_raw, request.authenticator, secret))
    return 0


if __name__ == "__main__":
    sys.exit(main())
