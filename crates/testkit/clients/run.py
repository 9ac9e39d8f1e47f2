"""Third-party clients against flexcord-testkit's emulators.

Starts the `flexcord-testkit` binary (both emulators on loopback ports), then drives:

- the official `twilio` library through the Conversations, Flex, Chat, Studio and Media
  operations the bridge uses (pagination, errors, `RequestValidator` on every webhook);
- discord.py and hikari against the Discord emulator: READY, GUILD_CREATE, a DM round trip,
  an interaction answered with `with_response`, and a resume after op 7.

Usage: python run.py PATH_TO_FLEXCORD_TESTKIT_BINARY
Prints one line per check and a closing `N passed, N failed`; exits 1 when a check failed.
Only loopback addresses are used.
"""

import asyncio
import json
import re
import subprocess
import sys
import time
import traceback

import aiohttp
from aiohttp import web

WAIT = 20.0
RESULTS = []


def check(name, ok, detail=""):
    RESULTS.append((name, bool(ok)))
    print(f"{'ok  ' if ok else 'FAIL'} {name}{' - ' + detail if detail and not ok else ''}", flush=True)


async def wait_for(predicate, timeout=WAIT, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


# ---------------------------------------------------------------------------------------------
# The webhook receiver (the "app" the Twilio emulator calls)


class Receiver:
    def __init__(self):
        self.requests = []
        self.url = None
        self._runner = None

    async def start(self):
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def handle(self, request):
        form = await request.post() if request.method == "POST" else {}
        self.requests.append(
            {
                "url": str(request.url),
                "method": request.method,
                "params": {k: v for k, v in form.items()},
                "pairs": list(form.items()),
                "signature": request.headers.get("X-Twilio-Signature", ""),
            }
        )
        if request.path.endswith("/twilio/bot"):
            return web.json_response({"actions": []})
        return web.Response(status=200)

    async def stop(self):
        await self._runner.cleanup()


# ---------------------------------------------------------------------------------------------
# The emulators


async def start_testkit(binary, app_url):
    proc = await asyncio.create_subprocess_exec(
        binary,
        "--discord-port", "0",
        "--twilio-port", "0",
        "--app-url", app_url,
        "--heartbeat-ms", "5000",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    env = {}

    async def read():
        while True:
            line = (await proc.stdout.readline()).decode()
            if not line:
                raise RuntimeError("flexcord-testkit exited before printing its configuration")
            m = re.match(r"export FLEXCORD_(\w+)=(.*)", line.strip())
            if m:
                env[m.group(1)] = m.group(2)
                if m.group(1) == "SERVER__PUBLIC_URL":
                    return

    await asyncio.wait_for(read(), WAIT)
    return proc, env


class DiscordControl:
    def __init__(self, session, api_url):
        self.s = session
        self.base = f"{api_url}/__testkit/discord"

    async def get(self, what):
        async with self.s.get(f"{self.base}/{what}") as r:
            return await r.json()

    async def post(self, what, body):
        async with self.s.post(f"{self.base}/{what}", json=body) as r:
            return r.status, await r.json()


# ---------------------------------------------------------------------------------------------
# twilio


def twilio_checks(env, receiver):
    from twilio.base.exceptions import TwilioRestException
    from twilio.http.http_client import TwilioHttpClient
    from twilio.request_validator import RequestValidator
    from twilio.rest import Client

    base = env["TWILIO__CONVERSATIONS_URL"]

    class Loopback(TwilioHttpClient):
        """Sends every Twilio host's request to the emulator."""

        def request(self, method, url, params=None, data=None, headers=None, auth=None,
                    timeout=None, allow_redirects=False):
            url = re.sub(r"^https://[a-z0-9.-]+\.twilio\.com", base, url)
            return super().request(method, url, params, data, headers, auth, timeout,
                                   allow_redirects)

    sid, token = env["TWILIO__ACCOUNT_SID"], env["TWILIO__AUTH_TOKEN"]
    service = env["TWILIO__CHAT_SERVICE_SID"]
    client = Client(sid, token, http_client=Loopback())
    hook = f"{receiver.url}/twilio/hook"
    ops = 0

    def op(name, fn):
        nonlocal ops
        try:
            value = fn()
            ops += 1
            return value
        except Exception as e:  # noqa: BLE001 - reported as a failed check
            check(f"twilio {name}", False, repr(e))
            raise

    conv = client.conversations.v1
    # Conversations: create, fetch, update, list with pagination, participants, webhooks,
    # messages (signed webhooks), users, a non-default service, errors, delete.
    created = [op("conversations.create", lambda i=i: conv.conversations.create(
        friendly_name=f"Discord support {i}", unique_name=f"discord:42:{i}",
        attributes=json.dumps({"flexcord": {"handoff": False}}), timers_closed="PT86400S"))
        for i in range(3)]
    c = created[0]
    check("twilio conversation created", c.sid.startswith("CH") and c.state == "active")
    fetched = op("conversations.fetch", lambda: conv.conversations(c.sid).fetch())
    check("twilio conversation fetched by unique name",
          op("conversations.fetch(unique)", lambda: conv.conversations("discord:42:0").fetch()).sid == c.sid)
    updated = op("conversations.update", lambda: conv.conversations(c.sid).update(
        attributes=json.dumps({"flexcord": {"handoff": True}})))
    check("twilio conversation updated", json.loads(updated.attributes)["flexcord"]["handoff"] is True
          and fetched.sid == c.sid)
    listed = op("conversations.list", lambda: list(conv.conversations.stream(page_size=1)))
    check("twilio conversations paginated one per page", len(listed) == 3)
    op("participants.create", lambda: conv.conversations(c.sid).participants.create(
        identity="discord:42", attributes=json.dumps({"name": "Alice"})))
    parts = op("participants.list", lambda: conv.conversations(c.sid).participants.list())
    check("twilio participant listed", [p.identity for p in parts] == ["discord:42"])
    wh = op("webhooks.create", lambda: conv.conversations(c.sid).webhooks.create(
        target="webhook", configuration_url=hook, configuration_method="POST",
        configuration_filters=["onMessageAdded", "onConversationStateUpdated"]))
    check("twilio webhooks listed",
          [w.sid for w in op("webhooks.list", lambda: conv.conversations(c.sid).webhooks.list())] == [wh.sid])
    msg = op("messages.create", lambda: conv.conversations(c.sid).messages.create(
        author="discord:42", body="Hello from Discord", x_twilio_webhook_enabled="true"))
    check("twilio message fetched",
          op("messages.fetch", lambda: conv.conversations(c.sid).messages(msg.sid).fetch()).body == "Hello from Discord")
    msgs = op("messages.list", lambda: conv.conversations(c.sid).messages.list(order="desc", page_size=50))
    check("twilio messages listed", [m.sid for m in msgs] == [msg.sid])
    op("conversations.update(closed)", lambda: conv.conversations(c.sid).update(state="closed",
                                                                              x_twilio_webhook_enabled="true"))
    op("webhooks.delete", lambda: conv.conversations(c.sid).webhooks(wh.sid).delete())
    user = op("users.create", lambda: conv.users.create(identity="agent:carol", friendly_name="Carol"))
    check("twilio conversations user by identity",
          op("users.fetch", lambda: conv.users("agent:carol").fetch()).sid == user.sid)
    op("users.update", lambda: conv.users(user.sid).update(friendly_name="Carol F."))
    check("twilio conversations users listed",
          "agent:carol" in [u.identity for u in op("users.list", lambda: conv.users.list())])
    other = op("services.create", lambda: conv.services.create(friendly_name="Other"))
    scoped = op("services.conversations.create",
                lambda: conv.services(other.sid).conversations.create(friendly_name="Scoped"))
    op("services.conversations.messages.create", lambda: conv.services(other.sid).conversations(
        scoped.sid).messages.create(author="discord:42", body="scoped"))
    check("twilio service-scoped conversation",
          op("services.conversations.fetch",
             lambda: conv.services(other.sid).conversations(scoped.sid).fetch()).chat_service_sid == other.sid)
    try:
        conv.conversations(scoped.sid).fetch()
        check("twilio non-default service hidden from /v1/Conversations", False, "fetched")
    except TwilioRestException as e:
        check("twilio non-default service hidden from /v1/Conversations", e.status == 404 and e.code == 20404)
    try:
        conv.conversations("CH" + "0" * 32).fetch()
        check("twilio 404 is a TwilioRestException", False, "no error")
    except TwilioRestException as e:
        check("twilio 404 is a TwilioRestException", e.status == 404 and e.code == 20404 and e.msg)
    try:
        conv.conversations(c.sid).participants.create(identity="discord:42")
        check("twilio duplicate participant refused", False, "created")
    except TwilioRestException as e:
        check("twilio duplicate participant refused", e.status == 409)
    op("conversations.delete", lambda: conv.conversations(created[2].sid).delete())

    # Flex
    flows = op("flex_flow.list", lambda: client.flex_api.v1.flex_flow.list())
    check("twilio flex flows listed", [f.sid for f in flows] == [env["TWILIO__FLEX_FLOW_SID"]])
    ch = op("flex channel.create", lambda: client.flex_api.v1.channel.create(
        flex_flow_sid=env["TWILIO__FLEX_FLOW_SID"], identity="discord:43",
        chat_user_friendly_name="Bob", chat_friendly_name="Bob's chat"))
    kd = op("interaction.create", lambda: client.flex_api.v1.interaction.create(
        channel={"type": "chat", "initiated_by": "customer",
                 "properties": {"media_channel_sid": created[1].sid}},
        routing={"properties": {"workspace_sid": env["TWILIO__WORKSPACE_SID"],
                                "workflow_sid": env["TWILIO__WORKFLOW_SID"],
                                "task_channel_unique_name": "chat", "attributes": {}}}))
    op("interaction.fetch", lambda: client.flex_api.v1.interaction(kd.sid).fetch())
    ics = op("interaction channels.list", lambda: client.flex_api.v1.interaction(kd.sid).channels.list())
    op("interaction channel.update",
       lambda: client.flex_api.v1.interaction(kd.sid).channels(ics[0].sid).update(status="closed"))
    check("twilio flex interaction channel", len(ics) == 1 and ch.sid.startswith("CH"))

    # Chat v2
    chat = client.chat.v2.services(service)
    op("chat users.create", lambda: chat.users.create(identity="discord:44", friendly_name="Dan"))
    check("twilio chat user by identity",
          op("chat users.fetch", lambda: chat.users("discord:44").fetch()).friendly_name == "Dan")
    cc = op("chat channels.create", lambda: chat.channels.create(friendly_name="Dan's chat"))
    op("chat channels.fetch", lambda: chat.channels(cc.sid).fetch())
    op("chat channels.update", lambda: chat.channels(cc.sid).update(attributes=json.dumps({"status": "ACTIVE"})))
    op("chat channels.list", lambda: chat.channels.list())
    op("chat members.create", lambda: chat.channels(cc.sid).members.create(identity="discord:44"))
    op("chat members.list", lambda: chat.channels(cc.sid).members.list())
    op("chat user_channels.list", lambda: chat.users("discord:44").user_channels.list())
    cw = op("chat webhooks.create", lambda: chat.channels(cc.sid).webhooks.create(
        type="webhook", configuration_url=hook, configuration_method="POST",
        configuration_filters=["onMessageSent"]))
    cm = op("chat messages.create", lambda: chat.channels(cc.sid).messages.create(
        from_="discord:44", body="chat hello", x_twilio_webhook_enabled="true"))
    op("chat messages.fetch", lambda: chat.channels(cc.sid).messages(cm.sid).fetch())
    op("chat messages.list", lambda: chat.channels(cc.sid).messages.list(order="desc"))
    op("chat webhooks.list", lambda: chat.channels(cc.sid).webhooks.list())
    op("chat webhooks.delete", lambda: chat.channels(cc.sid).webhooks(cw.sid).delete())
    check("twilio chat channel round trip", cm.body == "chat hello")

    # Studio
    flow = client.studio.v2.flows(env["TWILIO__STUDIO_FLOW_SID"])
    ex = op("executions.create", lambda: flow.executions.create(
        to="discord:42", from_="flexcord", parameters={"topic": "billing"}))
    op("executions.fetch", lambda: flow.executions(ex.sid).fetch())
    ctx = op("execution_context.fetch", lambda: flow.executions(ex.sid).execution_context().fetch())
    check("twilio studio execution context", ctx.context["flow"]["data"] == {"topic": "billing"})

    # Media Content Service (not in the library: its generic request, with the same auth)
    data = b"\x89PNG\r\n\x1a\nflexcord"
    media_url = f"https://mcs.us1.twilio.com/v1/Services/{service}/Media"
    up = op("media upload", lambda: client.request("POST", media_url, data=data,
                                                   headers={"Content-Type": "image/png"}))
    me = json.loads(up.text)
    down = op("media fetch", lambda: client.request("GET", f"{media_url}/{me['sid']}"))
    link = json.loads(down.text)["links"]["content_direct_temporary"]
    import requests
    body = requests.get(link, timeout=10).content
    check("twilio media uploaded and downloaded", up.status_code == 201 and body == data)
    fresh = op("conversations.create(media)", lambda: conv.conversations.create())
    op("conversation message with media", lambda: conv.conversations(fresh.sid).messages.create(
        author="discord:42", media_sid=me["sid"]))

    check(f"twilio {ops} operations answered", ops >= 45, str(ops))
    return RequestValidator(token)


async def run_twilio(env, receiver):
    validator = await asyncio.to_thread(twilio_checks, env, receiver)

    async def hooks():
        got = [r for r in receiver.requests if r["url"].endswith("/twilio/hook")]
        return got if len(got) >= 3 else None

    got = await wait_for(hooks, what="webhooks")
    await asyncio.sleep(0.3)
    signed = [r for r in receiver.requests if r["signature"]]
    valid = [r for r in signed if validator.validate(r["url"], r["params"], r["signature"])]
    events = sorted({r["params"].get("EventType", "") for r in got})
    check(f"twilio RequestValidator accepts all {len(signed)} signed webhooks",
          signed and len(valid) == len(signed), f"{len(valid)}/{len(signed)}")
    check("twilio webhooks for messages and state", {"onMessageAdded", "onConversationStateUpdated",
                                                    "onMessageSent"} <= set(events), str(events))


# ---------------------------------------------------------------------------------------------
# discord.py


async def run_discord_py(env, control):
    import discord
    from discord import app_commands

    # discord.py's two addresses: REST, and the gateway it connects to first (it resumes at
    # READY's resume_gateway_url, the emulator's own).
    import yarl
    discord.http.Route.BASE = f"{env['DISCORD__API_URL']}/api/v10"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"{env['DISCORD__GATEWAY_URL']}/")
    intents = discord.Intents.default()
    intents.message_content = True
    client = discord.Client(intents=intents)
    tree = app_commands.CommandTree(client)
    seen = {"ready": False, "resumed": 0, "guild": None, "callback": None}

    @tree.command(name="helpme", description="Ask for help")
    async def helpme(interaction: discord.Interaction):
        response = await interaction.response.send_message("On it (discord.py)")
        seen["callback"] = response

    @client.event
    async def on_ready():
        seen["ready"] = True
        seen["guild"] = client.get_guild(int(env["DISCORD__GUILD_ID"]))

    @client.event
    async def on_resumed():
        seen["resumed"] += 1

    @client.event
    async def on_message(message):
        if message.author.bot or message.guild is not None:
            return
        await message.channel.send(f"discord.py heard: {message.content}")

    task = asyncio.create_task(client.start(env["DISCORD__TOKEN"]))
    try:
        await wait_for(lambda: _true(seen["ready"]), what="discord.py READY")
        check("discord.py READY", client.user is not None and str(client.user.id) == env["DISCORD__APPLICATION_ID"])
        check("discord.py GUILD_CREATE", seen["guild"] is not None and seen["guild"].name == "Flexcord Test Guild"
              and len(seen["guild"].text_channels) >= 4)
        await dm_round_trip(control, "discord.py heard: ping one", "ping one", "discord.py DM round trip")
        await tree.sync()
        await interaction_round_trip(control, lambda: seen["callback"], "On it (discord.py)",
                                     "discord.py interaction answered with with_response")
        cb = seen["callback"]
        check("discord.py reads the callback's resource.message",
              cb is not None and cb.resource is not None and getattr(cb.resource, "content", None) == "On it (discord.py)")
        await resume_after_op7(control, lambda: seen["resumed"], "discord.py")
        await dm_round_trip(control, "discord.py heard: ping two", "ping two", "discord.py DM after resume")
    finally:
        await client.close()
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), WAIT)


async def _true(v):
    return v


async def dm_round_trip(control, want, content, name):
    await control.post("dm", {"user": "alice", "content": content})

    async def answered():
        msgs = await control.get("messages?user=alice")
        return any(m.get("content") == want for m in msgs) if isinstance(msgs, list) else False

    try:
        await wait_for(answered, what=name)
        check(name, True)
    except TimeoutError as e:
        check(name, False, str(e))


async def interaction_round_trip(control, got, want, name):
    status, injected = await control.post("slash", {"user": "alice", "command": "/helpme"})
    if status != 200:
        check(name, False, f"inject {status} {injected}")
        return

    async def answered():
        records = await control.get("interactions")
        rec = next((r for r in records if r["id"] == injected["id"]), None)
        return rec if rec and rec["responses"] and got() is not None else None

    try:
        rec = await wait_for(answered, what=name)
        requests = await control.get("requests")
        callback = [r for r in requests if r["route"].endswith("/callback") and injected["id"] in r["path"]]
        ok = (rec["responses"][0]["kind"] == 4 and rec["responses"][0]["data"]["content"] == want
              and callback and callback[-1]["status"] == 200
              and "with_response" in (callback[-1]["query"] or ""))
        check(name, ok, json.dumps(callback[-1] if callback else None)[:400])
    except TimeoutError as e:
        check(name, False, str(e))


async def resume_after_op7(control, resumed, lib):
    before = await control.get("state")
    resumes_before = sum(s["resumes"] for s in before["sessions"])
    await control.post("gateway", {"action": "reconnect"})
    try:
        await wait_for(lambda: _true(resumed() > 0), what=f"{lib} RESUMED")
        after = await control.get("state")
        resumes = sum(s["resumes"] for s in after["sessions"])
        check(f"{lib} resumes after op 7", resumes == resumes_before + 1
              and len([s for s in after["sessions"] if s["alive"]]) == 1)
    except TimeoutError as e:
        check(f"{lib} resumes after op 7", False, str(e))


# ---------------------------------------------------------------------------------------------
# hikari


async def run_hikari(env, control):
    import hikari

    bot = hikari.GatewayBot(
        env["DISCORD__TOKEN"],
        rest_url=f"{env['DISCORD__API_URL']}/api/v10",
        intents=hikari.Intents.ALL_UNPRIVILEGED | hikari.Intents.MESSAGE_CONTENT,
        banner=None,
        logs="WARNING",
    )
    seen = {"ready": False, "guild": None, "resumed": 0, "callback": None}

    @bot.listen(hikari.ShardReadyEvent)
    async def ready(event):
        seen["ready"] = True

    @bot.listen(hikari.GuildAvailableEvent)
    async def guild(event):
        seen["guild"] = event.guild

    @bot.listen(hikari.ShardResumedEvent)
    async def resumed(event):
        seen["resumed"] += 1

    @bot.listen(hikari.DMMessageCreateEvent)
    async def dm(event):
        if event.is_human:
            await event.message.respond(f"hikari heard: {event.content}")

    @bot.listen(hikari.InteractionCreateEvent)
    async def interaction(event):
        if isinstance(event.interaction, hikari.CommandInteraction):
            seen["callback"] = await event.interaction.create_initial_response(
                hikari.ResponseType.MESSAGE_CREATE, "On it (hikari)")

    await bot.start()
    try:
        await wait_for(lambda: _true(seen["ready"]), what="hikari READY")
        check("hikari READY", str(bot.get_me().id) == env["DISCORD__APPLICATION_ID"])
        await wait_for(lambda: _true(seen["guild"]), what="hikari GUILD_CREATE")
        check("hikari GUILD_CREATE", seen["guild"].name == "Flexcord Test Guild"
              and len(seen["guild"].get_channels()) >= 4)
        await dm_round_trip(control, "hikari heard: ping one", "ping one", "hikari DM round trip")
        app = await bot.rest.fetch_application()
        await bot.rest.set_application_commands(
            app.id, [bot.rest.slash_command_builder("helpme", "Ask for help")])
        await interaction_round_trip(control, lambda: seen["callback"] or None, "On it (hikari)",
                                     "hikari interaction answered with with_response")
        await resume_after_op7(control, lambda: seen["resumed"], "hikari")
        await dm_round_trip(control, "hikari heard: ping two", "ping two", "hikari DM after resume")
    finally:
        await bot.close()


# ---------------------------------------------------------------------------------------------


async def main(binary):
    receiver = Receiver()
    await receiver.start()
    proc, env = await start_testkit(binary, receiver.url)
    try:
        async with aiohttp.ClientSession() as session:
            control = DiscordControl(session, env["DISCORD__API_URL"])
            for name, suite in [("twilio", lambda: run_twilio(env, receiver)),
                                ("discord.py", lambda: run_discord_py(env, control)),
                                ("hikari", lambda: run_hikari(env, control))]:
                started = time.monotonic()
                try:
                    await asyncio.wait_for(suite(), 120)
                except Exception as e:  # noqa: BLE001 - a client failing is a failed check
                    traceback.print_exc()
                    check(f"{name} suite ran to the end", False, repr(e))
                print(f"---- {name}: {time.monotonic() - started:.1f} s", flush=True)
    finally:
        proc.terminate()
        await proc.wait()
        await receiver.stop()
    passed = sum(1 for _, ok in RESULTS if ok)
    failed = len(RESULTS) - passed
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not RESULTS else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1])))
