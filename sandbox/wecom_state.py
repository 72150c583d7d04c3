"""The sandbox's memory: members, tokens, delivered messages and card states, codes, media, limits."""
from __future__ import annotations

import copy
import itertools
import secrets
import threading
from collections import Counter, defaultdict, deque

from sandbox.wecom_cards import INTERACTIVE, calls_back, check_card, check_message, click_items
from sandbox.wecom_errors import ApiError, ClickRefused
from sandbox.wecom_faults import Faults
from sandbox.wecom_media import MediaStore, OAuthCodes

TOKEN_TTL = 7200
RESPONSE_CODE_TTL = 72 * 3600
PER_MINUTE, PER_HOUR = 30, 1000  # per member; beyond them WeCom drops silently
MAX_USERS = 1000


class WecomState:
    """Everything one sandboxed WeCom app knows; every method takes the lock itself."""

    def __init__(self, *, corp_id, corp_secret, agent_id, token, aes_key, callback_url, users, now):
        self.corp_id, self.corp_secret, self.agent_id = corp_id, corp_secret, int(agent_id)
        self.token, self.aes_key, self.callback_url = token, aes_key, callback_url
        self.now = now                      # () -> float, the platform's clock
        self.lock = threading.RLock()
        self.faults = Faults()
        self.stats: Counter = Counter()
        self.users: dict[str, str] = {}     # lower-cased id -> id as configured
        self.names: dict[str, str] = {}     # id -> display name, for the phone view only
        self.set_users(users)
        self.tokens: dict[str, dict] = {}
        self.tasks: dict[str, dict] = {}    # task_id -> the send that used it
        self.codes: dict[str, dict] = {}    # response_code -> {task_id, issued_at, used_at, origin, user}
        self.chats: dict[str, list] = defaultdict(list)  # user -> entries, both directions, in order
        self.dropped: list[dict] = []
        self.media = MediaStore(now)
        self.oauth = OAuthCodes(now, self.member)
        self._recent: dict[str, deque] = defaultdict(deque)   # user -> delivery times in the last hour
        self._blocked: dict[str, tuple[float, str]] = {}
        self._seq = itertools.count(1)

    # -- members, tokens ---------------------------------------------------------------------------
    def set_users(self, users, names: dict | None = None) -> None:
        """Replace the corp's members (and, if given, their display names)."""
        with self.lock:
            self.users = {str(u).lower(): str(u) for u in users}
            if names is not None:
                self.names = {self.users[k.lower()]: v for k, v in names.items() if k.lower() in self.users}

    def gettoken(self, corpid: str | None, secret: str | None) -> dict:
        """Issue the app's token; within its lifetime the same token comes back, as on the platform."""
        if not corpid:
            raise ApiError(41002)
        if not secret:
            raise ApiError(41004)
        if corpid != self.corp_id:
            raise ApiError(40013)
        if secret != self.corp_secret:
            raise ApiError(40001)
        with self.lock:
            now = self.now()
            for tok, rec in self.tokens.items():
                if not rec["revoked"] and rec["expires_at"] > now:
                    return {"errcode": 0, "errmsg": "ok", "access_token": tok,
                            "expires_in": int(rec["expires_at"] - now)}
            tok = secrets.token_urlsafe(48)
            self.tokens[tok] = {"expires_at": now + TOKEN_TTL, "revoked": False}
            return {"errcode": 0, "errmsg": "ok", "access_token": tok, "expires_in": TOKEN_TTL}

    def check_token(self, tok: str | None) -> None:
        """Refuse a missing (41001), unknown (40014), expired or revoked (42001) token."""
        if not tok:
            raise ApiError(41001)
        with self.lock:
            rec = self.tokens.get(tok)
            if rec is None:
                raise ApiError(40014)
            if rec["revoked"] or rec["expires_at"] <= self.now():
                raise ApiError(42001)

    def revoke_tokens(self) -> None:
        """Invalidate every token issued so far (the platform may do so at any time)."""
        with self.lock:
            for rec in self.tokens.values():
                rec["revoked"] = True

    def _check_agent(self, body: dict) -> None:
        agentid = body.get("agentid")
        if agentid in (None, ""):
            raise ApiError(41011)
        if isinstance(agentid, bool) or str(agentid).strip() != str(self.agent_id):
            raise ApiError(40056)

    def member(self, userid) -> str | None:
        """Return the member id as configured, matched case-insensitively, or None."""
        return self.users.get(str(userid).lower())

    # -- message/send ------------------------------------------------------------------------------
    def send(self, body: dict) -> dict:
        """Check and deliver one message/send call; return WeCom's answer."""
        self._check_agent(body)
        with self.lock:
            msgtype, payload = check_message(body, has_callback=bool(self.callback_url))
            now = self.now()
            if msgtype in ("image", "file"):
                media = self.media.get(payload["media_id"])
                if msgtype == "image" and media["type"] != "image":
                    raise ApiError(40007, "image.media_id is not an image")
            valid, extra = self._recipients(body)
            task_id = payload.get("task_id") if msgtype == "template_card" else None
            if task_id is not None and task_id in self.tasks:
                raise ApiError(42014, f"task_id {task_id} already used by this app")
            send = {"msgid": secrets.token_urlsafe(24), "msgtype": msgtype, "content": copy.deepcopy(payload),
                    "task_id": task_id, "recipients": valid, "sent_at": now, "response_code": None}
            answer = {"errcode": 0, "errmsg": "ok", **extra, "msgid": send["msgid"]}
            if task_id is not None:
                self.tasks[task_id] = send
            if msgtype == "template_card" and payload["card_type"] in INTERACTIVE:
                send["response_code"] = answer["response_code"] = self._mint_code(task_id, origin="send")
            for user in valid:
                if not self._duplicate(user, send, body, now):  # WeCom answers ok and sends nothing
                    self._deliver(user, send, now)
            return answer

    def _recipients(self, body: dict) -> tuple[list[str], dict]:
        if not all(isinstance(body.get(k) or "", str) for k in ("touser", "toparty", "totag")):
            raise ApiError(40058, 'touser, toparty and totag are strings like "u1|u2"')
        touser, toparty, totag = (body.get(k) or "" for k in ("touser", "toparty", "totag"))
        asked = [u for u in touser.split("|") if u.strip()]
        parties = [p for p in toparty.split("|") if p.strip()]
        tags = [t for t in totag.split("|") if t.strip()]
        if not asked and not parties and not tags:
            raise ApiError(82001)
        if len(asked) > MAX_USERS:
            raise ApiError(40032, f"at most {MAX_USERS} users")
        if "@all" in asked:
            valid, invalid = sorted(self.users.values()), []
        else:
            valid, invalid = [], []
            for u in asked:
                known = self.member(u.strip())
                if known is None:
                    invalid.append(u.strip().lower())
                elif known not in valid:
                    valid.append(known)
        # The sandbox has no departments or tags: every party and tag is invalid.
        extra = {"invaliduser": "|".join(invalid), "invalidparty": "|".join(parties),
                 "invalidtag": "|".join(tags), "unlicenseduser": ""}
        if not valid:
            raise ApiError(81013, "no valid recipient", **extra)
        return valid, extra

    def _duplicate(self, user: str, send: dict, body: dict, now: float) -> bool:
        """Tell whether enable_duplicate_check makes the platform skip this message for user."""
        if not body.get("enable_duplicate_check"):
            return False
        window = int(body.get("duplicate_check_interval") or 1800)
        return any(m["direction"] == "to_user" and m["msgtype"] == send["msgtype"]
                   and m["content"] == send["content"] and now - m["sent_at"] < window
                   for m in self.chats[user])

    def _deliver(self, user: str, send: dict, now: float, *, via: str = "api") -> None:
        reason = self._over_limit(user, now) if via == "api" else None
        if reason:
            self.dropped.append({"user": user, "msgid": send["msgid"], "task_id": send["task_id"],
                                 "msgtype": send["msgtype"], "at": now, "reason": reason})
            return
        card = send["content"] if send["msgtype"] == "template_card" else None
        self.chats[user].append({
            "seq": next(self._seq), "direction": "to_user", "via": via, "user": user,
            "msgid": send["msgid"], "msgtype": send["msgtype"], "sent_at": now,
            "content": copy.deepcopy(send["content"]), "task_id": send["task_id"],
            "card": copy.deepcopy(card), "response_code": send["response_code"],
            "state": {"card": copy.deepcopy(card), "replace_name": None, "updated_at": None,
                      "interactive": bool(card) and calls_back(card)},
            "updates": [], "clicks": []})

    def _over_limit(self, user: str, now: float) -> str | None:
        until, why = self._blocked.get(user, (0.0, ""))
        if now < until:
            return why
        recent = self._recent[user]
        while recent and recent[0] <= now - 3600:
            recent.popleft()
        in_minute = sum(1 for t in recent if t > now - 60)
        if in_minute >= PER_MINUTE:
            self._blocked[user] = (now + 60, f"per-member limit {PER_MINUTE}/min")
            return self._blocked[user][1]
        if len(recent) >= PER_HOUR:
            self._blocked[user] = (now + 3600, f"per-member limit {PER_HOUR}/h")
            return self._blocked[user][1]
        recent.append(now)
        return None

    # -- response codes, message/update_template_card ---------------------------------------------
    def _mint_code(self, task_id: str, *, origin: str, user: str | None = None) -> str:
        code = secrets.token_urlsafe(32)
        self.codes[code] = {"task_id": task_id, "issued_at": self.now(), "used_at": None,
                            "origin": origin, "user": user}
        return code

    def update_card(self, body: dict) -> dict:
        """Consume a response_code to update the named recipients' copies of its card."""
        self._check_agent(body)
        with self.lock:
            now, code = self.now(), body.get("response_code")
            if not isinstance(code, str) or not code:
                raise ApiError(40058, "response_code required")
            rec = self.codes.get(code)
            if rec is None:
                raise ApiError(40058, "response_code unknown")
            # 42022 is WeCom's "code has been used, only once"; an expired code gets it too.
            if rec["used_at"] is not None:
                raise ApiError(42022, "response_code already used")
            if now - rec["issued_at"] > RESPONSE_CODE_TTL:
                raise ApiError(42022, "response_code expired (72 h)")
            send = self.tasks[rec["task_id"]]
            change = self._card_change(body, send)
            targets, invalid = self._update_targets(body, send)
            if "card" in change and change["card"].get("task_id"):
                self.tasks[change["card"]["task_id"]] = send  # clicks on the new card carry its task_id
            for user in targets:
                for entry in self.chats[user]:
                    if entry["msgid"] == send["msgid"]:
                        self._apply(entry, change, now, via="api")
            rec["used_at"] = now
            return {"errcode": 0, "errmsg": "ok", "invaliduser": invalid}

    def _card_change(self, body: dict, send: dict) -> dict:
        if ("button" in body) == ("template_card" in body):
            raise ApiError(40058, "exactly one of button or template_card required")
        if "button" in body:
            name = body["button"].get("replace_name") if isinstance(body["button"], dict) else None
            if not isinstance(name, str) or not name:
                raise ApiError(40058, "button.replace_name required")
            if send["content"].get("card_type") not in INTERACTIVE:
                raise ApiError(40058, "button update needs an interaction card")
            return {"replace_name": name}
        card = body["template_card"]
        check_card(card, has_callback=bool(self.callback_url))
        new_id = card.get("task_id")
        if new_id is not None and self.tasks.get(new_id, send) is not send:
            raise ApiError(42014, f"task_id {new_id} already used by this app")
        return {"card": copy.deepcopy(card)}

    def _update_targets(self, body: dict, send: dict) -> tuple[list[str], list[str]]:
        if body.get("atall") == 1:
            return list(send["recipients"]), []
        userids = body.get("userids", [])
        if not isinstance(userids, list):
            raise ApiError(40058, "userids must be an array")
        if not userids and not body.get("partyids") and not body.get("tagids"):
            raise ApiError(82001)
        targets, invalid = [], []
        for u in userids:
            known = self.member(u)
            (targets if known in send["recipients"] else invalid).append(known or str(u).lower())
        invalid += [str(p) for p in (body.get("partyids") or []) + (body.get("tagids") or [])]
        if not targets:
            raise ApiError(81013, "no recipient of this card among userids", invaliduser=invalid)
        return targets, invalid

    @staticmethod
    def _apply(entry: dict, change: dict, now: float, *, via: str) -> None:
        state = entry["state"]
        if "replace_name" in change:
            state.update(replace_name=change["replace_name"], interactive=False)
        else:
            state.update(card=copy.deepcopy(change["card"]), replace_name=None,
                         interactive=calls_back(change["card"]))
        state["updated_at"] = now
        entry["updates"].append({"at": now, "via": via, **copy.deepcopy(change)})

    # -- clicks and messages from users -----------------------------------------------------------
    def prepare_click(self, userid: str, task_id: str, key: str, selected: dict | None) -> dict:
        """Check a click a real client could make; return the event's fields with a fresh response_code."""
        with self.lock:
            user = self.member(userid)
            if user is None:
                raise ClickRefused(f"{userid} is not a member")
            entry = next((e for e in reversed(self.chats[user]) if e["direction"] == "to_user"
                          and (e["state"]["card"] or {}).get("task_id") == task_id), None)
            if entry is None:
                raise ClickRefused(f"{user} never received a card with task_id {task_id}")
            if not entry["state"]["interactive"]:
                raise ClickRefused(f"card {task_id} is no longer clickable for {user}")
            card = entry["state"]["card"]
            event, items = click_items(card, key, selected or {})
            now = self.now()
            code = self._mint_code(task_id, origin="click", user=user)
            entry["clicks"].append({"at": now, "key": key, "selected": items, "response_code": code})
            return {"user": user, "event": event, "key": key, "task_id": task_id,
                    "card_type": card["card_type"], "response_code": code, "create_time": int(now),
                    "selected": items, "msgid": entry["msgid"]}

    def record_from_user(self, userid: str, msgtype: str, content: dict) -> dict:
        """Record a message a member sends to the app; return its chat entry."""
        with self.lock:
            user = self.member(userid)
            if user is None:
                raise ClickRefused(f"{userid} is not a member")
            entry = {"seq": next(self._seq), "direction": "from_user", "user": user,
                     "msgid": "CAIQ" + secrets.token_urlsafe(18), "msgtype": msgtype,
                     "sent_at": self.now(), "content": dict(content)}
            self.chats[user].append(entry)
            return copy.deepcopy(entry)

    def apply_passive(self, user: str, msgid: str | None, reply: dict) -> str:
        """Apply the app's decrypted passive reply as the platform would; return what was done."""
        kind = reply.get("MsgType")
        with self.lock:
            now = self.now()
            if kind in ("update_button", "update_template_card"):
                entry = next((e for e in reversed(self.chats[user]) if e["msgid"] == msgid), None)
                if entry is None:
                    return "ignored: no card to update"
                if kind == "update_button":
                    name = (reply.get("Button") or {}).get("ReplaceName")
                    if not name:
                        return "ignored: Button.ReplaceName missing"
                    self._apply(entry, {"replace_name": name}, now, via="passive")
                else:
                    entry["updates"].append({"at": now, "via": "passive", "template_card_xml": reply.get("TemplateCard")})
                    entry["state"]["updated_at"] = now
                return f"applied {kind}"
            if kind in ("text", "markdown"):
                send = {"msgid": secrets.token_urlsafe(24), "msgtype": kind, "task_id": None, "response_code": None,
                        "content": {"content": reply.get("Content") or ""}}
            elif kind in ("image", "file"):
                media_id = (reply.get(kind.capitalize()) or {}).get("MediaId")
                send = {"msgid": secrets.token_urlsafe(24), "msgtype": kind, "task_id": None, "response_code": None,
                        "content": {"media_id": media_id}}
            else:
                return f"ignored: MsgType {kind!r}"
            self._deliver(user, send, now, via="passive")
            return f"delivered {kind}"

    # -- inspection --------------------------------------------------------------------------------
    def messages(self, userid: str, *, both_ways: bool = False) -> list[dict]:
        """Return what userid received (and, with both_ways, sent), oldest first."""
        with self.lock:
            user = self.member(userid) or userid
            return [copy.deepcopy(e) for e in self.chats.get(user, [])
                    if both_ways or e["direction"] == "to_user"]

