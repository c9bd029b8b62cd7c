"""The load driver: whole candidates through the JSON API, in three phases, with every acknowledged save kept.

asyncio with aiohttp: each candidate is one coroutine that does what a candidate's page does, one request at a time
(start, then saves at a pace, then submit and the result), so thousands of candidates cost one process and no
threads. Why not the alternatives:
- httpx (asyncio): its connection pool rescans every waiting request whenever a connection frees up. With 2,000
  candidates sharing 200 connections, the first full run spent the driver's whole core in httpcore's
  `_assign_requests_to_connections` (py-spy) and the driver, not the server, set the pace. aiohttp's connector
  hands a freed connection to the next waiter in constant time, and parses HTTP in C.
- Locust: the same model on gevent, with its own web UI, statistics and processes that we would only switch off;
  the numbers here need only a clock and a list per endpoint.
The driver runs on the same two cores as the servers, so it takes some of their CPU: the limit app pays the same,
which is why the results are read as ratios.

Phases (times relative to the start of the run, all candidates share one exam close):
- start storm: every candidate starts at a moment spread evenly over `storm_seconds`;
- steady: `steps` of (saves per second offered, seconds); saves are offered at the step's rate, each by a candidate
  with no save of their own under way, who chooses an unanswered question (or, one time in four, changes an
  answer) and sends it with their next sequence number;
- deadline burst: in the last `burst_seconds` before the close, `submit_share` of the candidates save once more,
  submit and read the result; the rest are left for the server to finalize.

The closed loop (`ClosedLoop`, the issue's whole-candidate workload) is separate: `concurrency` virtual candidates
at once, no think time, each one a whole candidate (list exams, start, `answers` saves one request each, submit,
read the result), and as one ends the next fresh candidate (a token never used) begins, until `seconds` have passed
or the tokens run out. Its figure is whole candidates per second.
"""

import asyncio
import random
import time
from dataclasses import dataclass, field

import aiohttp


@dataclass
class Sample:
    phase: str
    endpoint: str
    ms: float
    status: int  # 0: no response (a connection error or a timeout)


@dataclass
class Candidate:
    token: str
    attempt_id: int | None = None
    items: list = field(default_factory=list)
    seq: int = 0
    answered: set = field(default_factory=set)


@dataclass
class Plan:
    storm_seconds: float = 60
    steps: list = field(default_factory=lambda: [(100, 20), (200, 20), (300, 20), (400, 20), (500, 20)])
    burst_seconds: float = 30
    submit_share: float = 0.9
    connections: int = 200
    settle_seconds: float = 5  # between phases, so one phase's tail does not count in the next
    stop_at_p99_ms: float | None = 150  # the steady steps end after the first whose save p99 reaches this
    slack_seconds: float = 0  # before the burst, for a storm that ran long (else the last steps are cut)

    def total_seconds(self) -> float:
        steady = sum(seconds for _rate, seconds in self.steps)
        return self.storm_seconds + steady + self.burst_seconds + 3 * self.settle_seconds + self.slack_seconds


def answer_for(item: dict, rng: random.Random):
    """A value of the right shape for a paper item as the API shows it."""
    kind = item["type"]
    if kind == "single":
        return rng.randrange(len(item["options"]))
    if kind == "multiple":
        return sorted(rng.sample(range(len(item["options"])), 2))
    if kind == "truefalse":
        return rng.random() < 0.5
    if kind == "fill":
        return [f"答案{rng.randrange(100)}" for _ in range(item["blanks"])]
    return "我的论述：" + "理论联系实际，" * rng.randrange(5, 40)


class Calls:
    """One request, timed and kept as a Sample (status 0: no response); the JSON body of a 2xx, else None."""

    base_url: str
    samples: list[Sample]

    def _headers(self, token: str, phase: str) -> dict:
        return {"Authorization": f"Bearer {token}"}

    async def _call(self, client, phase, endpoint, method, url, token, body=None):
        t = time.perf_counter()
        data = None
        try:
            async with client.request(method, self.base_url + url, json=body,
                                      headers=self._headers(token, phase)) as response:  # fmt: skip
                status = response.status
                if 200 <= status < 300:
                    data = await response.json()
                else:
                    await response.read()
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        self.samples.append(Sample(phase, endpoint, (time.perf_counter() - t) * 1000, status))
        return data


class Driver(Calls):
    def __init__(self, base_url: str, exam_code: str, tokens: list[str], plan: Plan, seed: int = 8):
        self.base_url, self.exam_code, self.plan = base_url, exam_code, plan
        self.candidates = [Candidate(t) for t in tokens]
        self.samples: list[Sample] = []
        #: (attempt id, position) -> (seq, value) of the newest save the server acknowledged as stored.
        self.acknowledged: dict[tuple[int, int], tuple[int, object]] = {}
        self.rng = random.Random(seed)
        self.phase_times: dict[str, tuple[float, float]] = {}

    async def _start(self, client, c: Candidate, at: float):
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        for _try in range(3):  # a candidate presses Start again when it fails; every try is counted
            response = await self._call(client, "storm", "start", "POST",
                                        f"/api/v1/exams/{self.exam_code}/attempts", c.token, {})  # fmt: skip
            if response is not None:
                data = response
                c.attempt_id, c.items = data["id"], data["items"]
                c.seq = max([a["seq"] for a in (data.get("answers") or {}).values()] + [0])
                return
            await asyncio.sleep(1)

    async def _save(self, client, c: Candidate, phase: str, rng: random.Random):
        unanswered = [i for i in c.items if i["position"] not in c.answered]
        item = rng.choice(unanswered if unanswered and rng.random() > 0.25 else c.items)
        value = answer_for(item, rng)
        c.seq += 1
        seq, key = c.seq, (c.attempt_id, item["position"])
        response = await self._call(client, phase, "save", "PUT",
                                    f"/api/v1/attempts/{c.attempt_id}/answers/{item['position']}", c.token,
                                    {"value": value, "seq": seq})  # fmt: skip
        if response is not None and response.get("accepted"):
            c.answered.add(item["position"])
            if seq > self.acknowledged.get(key, (0, None))[0]:
                self.acknowledged[key] = (seq, value)

    async def _steady(self, client, running: list[Candidate], phase: str, rate: float, until: float):
        """Saves offered at `rate` per second, each by a candidate picked at random among those not waiting for a
        save of their own (a candidate's page sends one at a time): the pace per candidate is rate / N, and the
        offered rate does not depend on N. When every candidate is waiting, the server is past its limit."""
        idle = list(running)
        tasks = set()
        rng = random.Random(self.rng.random())

        async def one(c: Candidate):
            try:
                await self._save(client, c, phase, rng)
            finally:
                idle.append(c)

        t0, sent = time.monotonic(), 0
        while (now := time.monotonic()) < until:
            due = int((now - t0) * rate) - sent
            for _ in range(min(due, len(idle))):
                c = idle.pop(rng.randrange(len(idle)))
                task = asyncio.create_task(one(c))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                sent += 1
            await asyncio.sleep(0.005)
        if tasks:
            await asyncio.wait(tasks)

    async def _finish(self, client, c: Candidate, at: float, rng: random.Random):
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        await self._save(client, c, "burst", rng)
        submitted = await self._call(client, "burst", "submit", "POST",
                                     f"/api/v1/attempts/{c.attempt_id}/submit", c.token)  # fmt: skip
        if submitted is not None:
            await self._call(client, "burst", "result", "GET", f"/api/v1/attempts/{c.attempt_id}", c.token)

    async def run(self, close_at: float) -> None:
        """The three phases; `close_at` is the exam's close on the monotonic clock (it fixes every deadline)."""
        plan = self.plan
        connector = aiohttp.TCPConnector(limit=plan.connections, keepalive_timeout=3)  # the server keeps 5 s
        timeout = aiohttp.ClientTimeout(total=60, sock_read=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
            t0 = time.monotonic()
            spread = plan.storm_seconds / max(1, len(self.candidates))
            await asyncio.gather(*(self._start(client, c, t0 + i * spread) for i, c in enumerate(self.candidates)))
            self.phase_times["storm"] = (t0, time.monotonic())
            running = [c for c in self.candidates if c.attempt_id is not None]
            await asyncio.sleep(plan.settle_seconds)
            burst_start = close_at - plan.burst_seconds
            for rate, seconds in plan.steps:
                phase, start = f"steady@{rate}", time.monotonic()
                until = min(start + seconds, burst_start - plan.settle_seconds)
                if until - start < seconds / 2:
                    break  # no time left before the burst (the steps ran long)
                await self._steady(client, running, phase, rate, until)
                self.phase_times[phase] = (start, time.monotonic())
                await asyncio.sleep(plan.settle_seconds)
                step = self.summary().get((phase, "save"))
                if plan.stop_at_p99_ms and (step is None or step["p99"] >= plan.stop_at_p99_ms or step["errors"]):
                    break  # past the limit: the higher steps would only queue, and run into the burst
            await asyncio.sleep(max(0.0, burst_start - time.monotonic()))
            finishing = self.rng.sample(running, round(len(running) * plan.submit_share))
            await asyncio.gather(*(
                self._finish(client, c, self.rng.uniform(burst_start, close_at - 1), random.Random(c.attempt_id))
                for c in finishing
            ))  # fmt: skip
            self.phase_times["burst"] = (burst_start, time.monotonic())

    def summary(self) -> dict[tuple[str, str], dict]:
        return summarize(self.samples, self.phase_times)


def summarize(samples: list[Sample], phase_times: dict) -> dict[tuple[str, str], dict]:
    """Per (phase, endpoint): requests, requests per second over the phase, p50/p95/p99/max ms, errors."""
    groups: dict[tuple[str, str], list[Sample]] = {}
    for s in samples:
        groups.setdefault((s.phase, s.endpoint), []).append(s)
    out = {}
    for key, group in groups.items():
        ms = sorted(s.ms for s in group)
        start, end = phase_times.get(key[0], (0, 0))
        errors: dict[int, int] = {}
        for s in group:
            if not 200 <= s.status < 300:  # (a snapshot upload answers 201)
                errors[s.status] = errors.get(s.status, 0) + 1
        out[key] = {
            "n": len(ms), "rps": len(ms) / (end - start) if end > start else 0.0,
            "p50": pct(ms, 50), "p95": pct(ms, 95), "p99": pct(ms, 99), "max": ms[-1], "errors": errors,
        }  # fmt: skip
    return out


def pct(sorted_values: list[float], p: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, round(p / 100 * (len(sorted_values) - 1)))]


# ---------------------------------------------------------------- the closed loop of whole candidates


@dataclass
class Loop:
    concurrency: int = 200  # virtual candidates at once
    seconds: float = 60  # no new candidate begins after this
    warmup_seconds: float = 10  # candidates finished before this do not count (all begin at once at 0)
    answers: int = 20  # saves per candidate, one request each, each to a different question


class ClosedLoop(Calls):
    """Whole candidates back to back, `concurrency` at a time; every token is used once (every start is real)."""

    def __init__(self, base_url: str, exam_code: str, tokens: list[str], loop: Loop, seed: int = 9):
        self.base_url, self.exam_code, self.loop = base_url, exam_code, loop
        self.tokens = iter(tokens)
        self.rng = random.Random(seed)
        self.samples: list[Sample] = []
        self.acknowledged: dict[tuple[int, int], tuple[int, object]] = {}  # as Driver's, for the same check
        self.finished: list[tuple[float, bool]] = []  # (monotonic time, every request answered 200)
        self.attempts: list[tuple[str, int]] = []  # (token, attempt id) of the candidates who submitted
        self.started = self.window_end = self.ended = 0.0
        self.exhausted = False

    async def _candidate(self, client, token: str, rng: random.Random) -> bool:
        """One whole candidate; False when any request failed (a failed start or submit ends the candidate)."""

        def call(endpoint, method, url, body=None):
            return self._call(client, "loop", endpoint, method, url, token, body)

        ok = await call("exams", "GET", "/api/v1/exams") is not None
        started = await call("start", "POST", f"/api/v1/exams/{self.exam_code}/attempts", {})
        if started is None:
            return False
        attempt = f"/api/v1/attempts/{started['id']}"
        for seq, item in enumerate(rng.sample(started["items"], min(self.loop.answers, len(started["items"]))), 1):
            value = answer_for(item, rng)
            saved = await call("save", "PUT", f"{attempt}/answers/{item['position']}", {"value": value, "seq": seq})
            if saved is not None and saved.get("accepted"):
                self.acknowledged[(started["id"], item["position"])] = (seq, value)
            ok = ok and saved is not None
        if await call("submit", "POST", f"{attempt}/submit") is None:
            return False
        self.attempts.append((token, started["id"]))
        return await call("result", "GET", attempt) is not None and ok

    async def _slot(self, client, stop_at: float):
        while time.monotonic() < stop_at:
            token = next(self.tokens, None)
            if token is None:
                if not self.exhausted:
                    self.exhausted, self.window_end = True, time.monotonic()
                return
            ok = await self._candidate(client, token, random.Random(self.rng.random()))
            self.finished.append((time.monotonic(), ok))

    async def run(self) -> None:
        loop = self.loop
        connector = aiohttp.TCPConnector(limit=loop.concurrency, keepalive_timeout=3)  # one request per candidate
        timeout = aiohttp.ClientTimeout(total=60, sock_read=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
            self.started = time.monotonic()
            self.window_end = stop_at = self.started + loop.seconds
            await asyncio.gather(*(self._slot(client, stop_at) for _ in range(loop.concurrency)))
            self.ended = time.monotonic()

    def throughput(self) -> dict:
        """Whole candidates per second, counted between the warm-up and the end of the window (the time limit, or
        the moment the tokens ran out, whichever came first): every slot was busy all that time."""
        begin = self.started + self.loop.warmup_seconds
        end = min(self.window_end, self.started + self.loop.seconds)
        counted = [ok for t, ok in self.finished if begin <= t <= end]
        return {
            "candidates_per_s": sum(counted) / (end - begin) if end > begin else 0.0,
            "window_s": max(0.0, end - begin), "finished": len(self.finished),
            "finished_ok": sum(ok for _t, ok in self.finished), "failed_in_window": counted.count(False),
            "tokens_ran_out": self.exhausted,
        }  # fmt: skip

    def summary(self) -> dict[tuple[str, str], dict]:
        return summarize(self.samples, {"loop": (self.started, self.ended)})


# ---------------------------------------------------------------- practice (issue 24)


@dataclass
class Practising:
    seconds: float = 180  # the steady part: every cadre practising, counted
    ramp_seconds: float = 30  # the cadres arrive one after another over this
    think_seconds: float = 3.0  # the mean pause before each answer (uniform over half to one and a half of it)
    skip_share: float = 0.05  # questions passed over (POST …/skip) rather than answered
    connections: int = 1000  # at most this many requests at once: one per cadre


class PracticeCrowd(Calls):
    """Cadres practising, each a coroutine: the practice home, a session started, then one question at a time, each
    answered (or now and then skipped) after a pause, with the next question in the answer's feedback; a finished
    session is followed by a look at the wrong-answer book and a new session (half the time of the book itself, when
    it holds questions open to practice). A failed answer re-reads the session
    and goes on. Every answer acknowledged with a 200 is kept, to be found in practice_answers afterwards.

    A request sent before the ramp ends is counted in the phase "ramp", after it in "steady"; each carries its
    phase in the header X-Bench-Phase, for the server's access log."""

    def __init__(self, base_url: str, tokens: list[str], choices: list[dict], practising: Practising, seed: int = 24):
        self.base_url, self.tokens, self.choices, self.practising = base_url, tokens, choices, practising
        self.rng = random.Random(seed)
        self.samples: list[Sample] = []
        #: (session id, position) -> the value of an answer the server acknowledged with a 200.
        self.acknowledged: dict[tuple[int, int], object] = {}
        self.sessions: set[int] = set()  # the ids of the sessions the cadres started (or resumed)
        self.started = self.ramp_end = self.stop_at = self.ended = 0.0

    def _phase(self) -> str:
        return "ramp" if time.monotonic() < self.ramp_end else "steady"

    def _headers(self, token: str, phase: str) -> dict:
        return {"Authorization": f"Bearer {token}", "X-Bench-Phase": phase}

    async def _cadre(self, client, token: str, at: float, rng: random.Random):
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        p = self.practising

        def call(endpoint, method, url, body=None):
            return self._call(client, self._phase(), endpoint, method, url, token, body)

        async def think():
            await asyncio.sleep(p.think_seconds * rng.uniform(0.5, 1.5))

        await call("choices", "GET", "/api/v1/practice")
        choice = None
        while time.monotonic() < self.stop_at:
            session = await call("start", "POST", "/api/v1/practice/sessions", choice or rng.choice(self.choices))
            if session is None:
                await think()
                continue
            self.sessions.add(session["id"])
            path = f"/api/v1/practice/sessions/{session['id']}"
            while session is not None and session["question"] is not None:
                await think()
                if time.monotonic() >= self.stop_at:
                    return
                question = session["question"]
                if rng.random() < p.skip_share:
                    session = await call("skip", "POST", f"{path}/skip")
                else:
                    value = answer_for(question, rng)
                    feedback = await call("answer", "PUT", f"{path}/answers/{question['position']}", {"value": value})
                    if feedback is not None:
                        self.acknowledged[(session["id"], question["position"])] = value
                    session = feedback["session"] if feedback is not None else None
                if session is None:  # the request failed: see where the session is, as the page would
                    session = await call("session", "GET", path)
            book = await call("wrong_book", "GET", "/api/v1/practice/wrong-book") or []
            # Half the time, practise the book next when it holds questions open to practice.
            to_practise = any(e["open"] and not e["mastered"] for group in book for e in group["entries"])
            choice = {"mode": "wrong_book"} if to_practise and rng.random() < 0.5 else None

    async def run(self) -> None:
        p = self.practising
        connector = aiohttp.TCPConnector(limit=p.connections, keepalive_timeout=3)  # the server keeps 5 s
        timeout = aiohttp.ClientTimeout(total=60, sock_read=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
            self.started = time.monotonic()
            self.ramp_end = self.started + p.ramp_seconds
            self.stop_at = self.ramp_end + p.seconds
            spread = p.ramp_seconds / max(1, len(self.tokens))
            await asyncio.gather(*(
                self._cadre(client, token, self.started + i * spread, random.Random(self.rng.random()))
                for i, token in enumerate(self.tokens)
            ))  # fmt: skip
            self.ended = time.monotonic()

    def summary(self) -> dict[tuple[str, str], dict]:
        return summarize(self.samples, {"ramp": (self.started, self.ramp_end), "steady": (self.ramp_end, self.stop_at)})
