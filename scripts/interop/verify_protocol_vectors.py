#!/usr/bin/env python3
"""Independent check of the liveness protocol with stock Python libraries.

Reads reference-vector files written by the Rust code (`liveness vectors`, and the committed
rust-core/protocol/tests/vectors/reference.json) and, without any of our Rust code:

- re-derives every challenge plan from nonce + options, following the written spec;
- verifies the device's Ed25519 signature over the exact manifest bytes (PyNaCl) and the
  frame hashes;
- rebuilds the canonical verdict bytes from the spec and verifies the detached signature
  against the JWKS (cryptography), and the compact JWS (PyJWT and jwcrypto);
- verifies the HS256 signed response (PyJWT and jwcrypto);
- verifies the webhook signature header (hmac), including its 5-minute window;

and checks that a tampered copy of each is rejected. Prints "N passed, M failed" and exits
non-zero on any failure.
"""

import base64
import copy
import hashlib
import hmac
import json
import sys
import traceback

import jwt  # PyJWT
import nacl.exceptions
import nacl.signing
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from jwcrypto import jwk as jw_jwk
from jwcrypto import jws as jw_jws
from jwcrypto import jwt as jw_jwt

ALL_KINDS = [
    "HeadLeft", "HeadRight", "HeadUp", "HeadDown", "MoveTowardsCamera",
    "MoveAwayFromCamera", "FollowText", "BlinkEyes", "Smile",
]
WEBHOOK_TOLERANCE = 300


def b64d(text):
    if "=" in text or "+" in text or "/" in text:
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64e(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# ---------------------------------------------------------------- plan (spec in plan.rs)
class WordStream:
    def __init__(self, nonce, canonical, domain=b"liveness-plan/v1"):
        context = canonical.encode() if isinstance(canonical, str) else canonical
        self.prefix = domain + b"\x00" + nonce + context
        self.counter = 0
        self.words = []

    def next_word(self):
        if not self.words:
            block = hashlib.sha256(self.prefix + self.counter.to_bytes(4, "big")).digest()
            self.counter += 1
            self.words = [int.from_bytes(block[i:i + 4], "big") for i in range(0, 32, 4)]
        return self.words.pop(0)

    def uniform(self, n):
        limit = 2**32 - (2**32 % n)
        while True:
            w = self.next_word()
            if w < limit:
                return w % n


def effective_options(o):
    action = o.get("action", "Random")
    if action != "Random":
        kinds, count = [action], 1
    else:
        avail = o.get("available_actions")
        kinds = list(ALL_KINDS) if avail is None else sorted(avail, key=ALL_KINDS.index)
        count = o.get("challenge_count", min(2, len(kinds)))
    return action, kinds, count, o.get("step_time_limit_ms", 8000)


def derive_plan(nonce, options):
    action, kinds, count, step_ms = effective_options(options)
    canonical = f"action={action};kinds={','.join(kinds)};count={count};step_ms={step_ms}"
    s = WordStream(nonce, canonical)
    for i in range(count):
        j = i + s.uniform(len(kinds) - i)
        kinds[i], kinds[j] = kinds[j], kinds[i]
    steps = [{"index": i, "kind": k, "time_limit_ms": step_ms} for i, k in enumerate(kinds[:count])]
    for step in steps:
        if step["kind"] != "FollowText":
            continue
        path = [{"t_ms": 0, "x": 500, "y": 500}]
        while len(path) < 5:
            prev = path[-1]
            x = None
            for _ in range(16):
                cx = 150 + s.uniform(701)
                y = 350 + s.uniform(301)
                if abs(cx - prev["x"]) >= 250:
                    x = cx
                    break
            if x is None:
                x = 150 if prev["x"] >= 500 else 850
            t = prev["t_ms"] + 900 + 100 * s.uniform(6)
            path.append({"t_ms": t, "x": x, "y": y})
        step["follow_path"] = path
        step["time_limit_ms"] += path[-1]["t_ms"]
    plan = {
        "version": 1,
        "nonce": b64e(nonce),
        "steps": steps,
        "total_time_limit_ms": sum(st["time_limit_ms"] for st in steps),
    }
    if options.get("light_challenge", True):
        plan["version"] = 2
        plan["light"] = {"version": 1, "colours": 6}
    return canonical, plan


# --------------------------------------------------------- light (spec in light.rs)
PALETTE = [[255, 255, 255], [40, 90, 255], [0, 220, 255], [40, 230, 80], [255, 220, 40],
           [200, 60, 255]]


def derive_light(nonce, salt):
    s = WordStream(nonce, salt, domain=b"liveness-light/v1")
    out, prev = [], None
    for _ in range(6):
        c = s.uniform(6) if prev is None else (prev + 1 + s.uniform(5)) % 6
        out.append({"rgb": PALETTE[c], "duration_ms": 350 + 50 * s.uniform(3)})
        prev = c
    return out


# ------------------------------------------------------------- verdict (spec in verdict.rs)
def canonical_verdict(v):
    conf = v["confidence"]
    if round(conf * 10000) / 10000 != conf:
        raise ValueError("confidence has more than four decimals")
    return "\n".join([
        "liveness-verdict/v1", v["session_id"], v["verdict"], f"{conf:.4f}",
        str(v["timestamp"]), v.get("photo_sha256", ""),
    ]).encode()


def jwks_key(jwks, kid):
    for k in jwks["keys"]:
        if k["kid"] == kid and k["kty"] == "OKP" and k["crv"] == "Ed25519":
            return Ed25519PublicKey.from_public_bytes(b64d(k["x"]))
    raise KeyError(kid)


def verify_detached(jwks, sv):
    jwks_key(jwks, sv["kid"]).verify(b64d(sv["signature"]), canonical_verdict(sv))


def verify_jws_pyjwt(jwks, token):
    kid = jwt.get_unverified_header(token)["kid"]
    return jwt.decode(token, jwks_key(jwks, kid), algorithms=["EdDSA"])


def verify_jws_jwcrypto(jwks, token):
    keyset = jw_jwk.JWKSet.from_json(json.dumps(jwks))
    obj = jw_jws.JWS()
    obj.deserialize(token)
    obj.verify(keyset, alg="EdDSA")
    return json.loads(obj.payload)


# ------------------------------------------------------------- webhook (spec in webhook.rs)
def verify_webhook(secret, header, body, now):
    members = dict()
    sigs = []
    for part in header.split(","):
        k, v = part.split("=", 1)
        if k == "v1":
            sigs.append(v)
        else:
            members[k] = v
    t = members["t"]
    if abs(now - int(t)) > WEBHOOK_TOLERANCE:
        raise ValueError("stale webhook timestamp")
    expected = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, s) for s in sigs):
        raise ValueError("bad webhook signature")


# ------------------------------------------------------------------------------ runner
class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, name, fn):
        try:
            fn()
            self.passed += 1
        except Exception:  # noqa: BLE001 - any exception is a failed check
            self.failed += 1
            print(f"FAIL (should verify): {name}")
            traceback.print_exc()

    def rejects(self, name, fn):
        try:
            fn()
        except Exception:  # noqa: BLE001 - the tampered copy must raise
            self.passed += 1
            return
        self.failed += 1
        print(f"FAIL (tampered copy accepted): {name}")


def check_file(path, c):
    v = json.load(open(path, encoding="utf-8"))
    tag = path.split("/")[-1]

    for i, p in enumerate(v["plans"]):
        def plan_matches(p=p):
            canonical, plan = derive_plan(b64d(p["plan"]["nonce"]), p["options"])
            assert canonical == p["canonical_options"], (canonical, p["canonical_options"])
            assert plan == p["plan"], (plan, p["plan"])
        c.ok(f"{tag}: plan {i} re-derived independently", plan_matches)

        def other_nonce(p=p):
            n = bytearray(b64d(p["plan"]["nonce"]))
            n[31] ^= 1
            _, plan = derive_plan(bytes(n), p["options"])
            assert plan["steps"] == p["plan"]["steps"]
        if len(p["plan"]["steps"]) > 1 or p["plan"]["steps"][0].get("follow_path"):
            c.rejects(f"{tag}: plan {i} under another nonce differs", other_nonce)

    for i, lv in enumerate(v.get("lights", [])):
        def light_matches(lv=lv):
            got = derive_light(b64d(lv["nonce"]), bytes.fromhex(lv["salt"]))
            assert got == lv["colours"], (got, lv["colours"])
        c.ok(f"{tag}: light sequence {i} re-derived independently", light_matches)

        def other_salt(lv=lv):
            salt = bytearray(bytes.fromhex(lv["salt"]))
            salt[0] ^= 1
            assert derive_light(b64d(lv["nonce"]), bytes(salt)) == lv["colours"]
        c.rejects(f"{tag}: light sequence {i} under another salt differs", other_salt)

    # Device signature over the exact manifest bytes, and frame binding.
    m = v["manifest"]["signed"]
    raw, pk, sig = b64d(m["manifest"]), b64d(m["public_key"]), b64d(m["signature"])
    frames = [b64d(f) for f in v["manifest"]["frames"]]
    vk = nacl.signing.VerifyKey(pk)

    def check_frames(doc, uploaded):
        for rec, frame in zip(doc["frames"], uploaded, strict=True):
            if hashlib.sha256(frame).hexdigest() != rec["sha256"]:
                raise ValueError(f"frame {rec['index']} does not match its hash")

    def manifest_ok():
        vk.verify(raw, sig)
        doc = json.loads(raw)
        assert doc["format_version"] == 1
        check_frames(doc, frames)
    c.ok(f"{tag}: device signature and frame hashes", manifest_ok)
    flipped = bytearray(raw)
    flipped[len(flipped) // 2] ^= 1
    c.rejects(f"{tag}: manifest with a flipped bit", lambda: vk.verify(bytes(flipped), sig))
    edited = raw.replace(b'"format_version":1', b'"format_version":2')
    c.rejects(f"{tag}: manifest with edited version", lambda: vk.verify(edited, sig))
    c.rejects(f"{tag}: a frame replaced", lambda: check_frames(json.loads(raw), [b"other"] + frames[1:]))
    c.rejects(f"{tag}: a frame missing", lambda: check_frames(json.loads(raw), frames[:-1]))

    # Verdict: detached signature, JWS (two libraries).
    vv = v["verdict"]
    jwks, sv = vv["jwks"], vv["signed_verdict"]

    def canonical_ok():
        assert canonical_verdict(sv).decode() == vv["canonical"]
    c.ok(f"{tag}: canonical verdict bytes rebuilt from the spec", canonical_ok)
    c.ok(f"{tag}: detached verdict signature (cryptography)", lambda: verify_detached(jwks, sv))
    for field, value in [("verdict", "spoof"), ("confidence", 0.5), ("timestamp", sv["timestamp"] + 1),
                         ("session_id", sv["session_id"] + "x"), ("photo_sha256", "0" * 64)]:
        t = dict(sv, **{field: value})
        c.rejects(f"{tag}: verdict with {field} changed",
                  lambda t=t: verify_detached(jwks, t))
    other_kid = [k["kid"] for k in jwks["keys"] if k["kid"] != sv["kid"]][0]
    c.rejects(f"{tag}: verdict under the other kid",
              lambda: verify_detached(jwks, dict(sv, kid=other_kid)))

    verdict_fields = {k: sv[k] for k in ("session_id", "verdict", "confidence", "timestamp", "photo_sha256") if k in sv}

    def jws_pyjwt_ok():
        assert verify_jws_pyjwt(jwks, vv["jws"]) == verdict_fields
    c.ok(f"{tag}: JWS verdict (PyJWT, EdDSA)", jws_pyjwt_ok)

    def jws_jwcrypto_ok():
        assert verify_jws_jwcrypto(jwks, vv["jws"]) == verdict_fields
    c.ok(f"{tag}: JWS verdict (jwcrypto, JWKS)", jws_jwcrypto_ok)
    h, p, s = vv["jws"].split(".")
    forged = ".".join([h, b64e(json.dumps(dict(verdict_fields, verdict="spoof")).encode()), s])
    c.rejects(f"{tag}: JWS with edited payload (PyJWT)", lambda: verify_jws_pyjwt(jwks, forged))
    c.rejects(f"{tag}: JWS with edited payload (jwcrypto)", lambda: verify_jws_jwcrypto(jwks, forged))
    none_alg = ".".join([b64e(b'{"alg":"none","kid":"%s"}' % sv["kid"].encode()), p, ""])
    c.rejects(f"{tag}: JWS re-labelled alg none", lambda: verify_jws_pyjwt(jwks, none_alg))

    # HS256 signed response.
    sr = v["signed_response"]
    secret = b64d(sr["secret"])

    def hs256_ok():
        claims = jwt.decode(sr["token"], secret, algorithms=["HS256"])
        assert claims.pop("iat") == sr["iat"]
        assert claims == sr["body"], (claims, sr["body"])
        key = jw_jwk.JWK(kty="oct", k=b64e(secret))
        tok = jw_jwt.JWT(jwt=sr["token"], key=key, algs=["HS256"], check_claims=False)
        assert json.loads(tok.claims)["iat"] == sr["iat"]
    c.ok(f"{tag}: HS256 signed response (PyJWT and jwcrypto)", hs256_ok)
    h, p, s = sr["token"].split(".")
    body = json.loads(b64d(p))
    body["live"] = not body.get("live")
    forged = ".".join([h, b64e(json.dumps(body).encode()), s])
    c.rejects(f"{tag}: signed response with edited body",
              lambda: jwt.decode(forged, secret, algorithms=["HS256"]))
    c.rejects(f"{tag}: signed response with another secret",
              lambda: jwt.decode(sr["token"], b"x" * 32, algorithms=["HS256"]))

    # Webhook.
    wh = v["webhook"]
    wsecret, wbody, t = b64d(wh["secret"]), wh["body"].encode(), wh["timestamp"]
    c.ok(f"{tag}: webhook signature", lambda: verify_webhook(wsecret, wh["header"], wbody, t + 10))
    c.rejects(f"{tag}: webhook with edited body",
              lambda: verify_webhook(wsecret, wh["header"], wbody.replace(b"success", b"failed"), t))
    c.rejects(f"{tag}: webhook older than five minutes",
              lambda: verify_webhook(wsecret, wh["header"], wbody, t + WEBHOOK_TOLERANCE + 1))
    moved = wh["header"].replace(f"t={t}", f"t={t + 60}")
    c.rejects(f"{tag}: webhook with moved timestamp",
              lambda: verify_webhook(wsecret, moved, wbody, t + 60))


def main(paths):
    if not paths:
        print("usage: verify_protocol_vectors.py VECTORS.json [...]", file=sys.stderr)
        return 2
    c = Checks()
    for path in paths:
        check_file(path, c)
    print(f"interop: {c.passed} passed, {c.failed} failed")
    return 0 if c.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
