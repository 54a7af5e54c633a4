// Who may act on the dashboard, and the headers every answer carries.
import { expect } from "chai";
import { StubBroker } from "../../brokers/stub.ts";
import { actor } from "../../lib/index.ts";
import { DashboardClient, serveDashboard } from "../helpers/dashboard-client.ts";

const TOKEN = "s3cret-operator-token";

describe("dashboard security", function () {
  let broker: StubBroker;
  const opened: { close(): Promise<void> }[] = [];

  beforeEach(() => {
    broker = new StubBroker({ middleware: [] });
    actor(function sec_job() {}, { broker, queueName: "sec" });
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    await broker.close();
  });

  async function serve(token?: string) {
    const served = await serveDashboard({ broker, ...(token === undefined ? {} : { token }) });
    opened.push(served);
    return served;
  }

  it("sends a strict Content-Security-Policy and refuses framing on pages and API", async () => {
    const { client } = await serve();
    for (const path of ["/api/session", "/api/overview", "/", "/api/nothing"]) {
      const { headers } = await client.get(path);
      const csp = headers.get("content-security-policy") ?? "";
      expect(csp, path).to.include("default-src 'none'").and.include("script-src 'self'").and.include("frame-ancestors 'none'");
      expect(csp, path).not.to.include("unsafe-inline");
      expect(headers.get("x-frame-options"), path).to.equal("DENY");
      expect(headers.get("x-content-type-options"), path).to.equal("nosniff");
    }
  });

  it("is read-only without an operator token: every action is refused", async () => {
    const { client } = await serve();
    const session = await client.session();
    expect(session).to.deep.include({ readOnly: true, operator: false });
    const paused = await client.post("/api/queues/sec/pause");
    expect(paused.status).to.equal(403);
    expect(paused.body.error.code).to.equal("read_only");
    expect((await client.post("/api/login", { token: TOKEN })).status).to.equal(403);
  });

  it("refuses a POST without the CSRF token, or without an operator login, and takes it with both", async () => {
    const { client, origin } = await serve(TOKEN);
    await client.session();
    const noCsrf = await client.post("/api/queues/sec/pause", {}, { csrf: false });
    expect(noCsrf.status).to.equal(403);
    expect(noCsrf.body.error.code).to.equal("csrf");
    const notLoggedIn = await client.post("/api/queues/sec/pause");
    expect(notLoggedIn.body.error.code).to.equal("forbidden");
    expect((await client.post("/api/login", { token: "wrong" })).status).to.equal(403);
    const login = await client.post("/api/login", { token: TOKEN });
    expect(login.body).to.deep.include({ operator: true });
    expect(login.headers.getSetCookie().join("\n")).to.include("HttpOnly").and.include("SameSite=Strict");
    const wrongCsrf = await client.post("/api/queues/sec/pause", {}, { csrf: "forged" });
    expect(wrongCsrf.body.error.code).to.equal("csrf");
    expect((await client.post("/api/queues/sec/pause")).status).to.equal(200);

    // Another browser's CSRF token does not work with this session, nor this one's without the cookie.
    const other = new DashboardClient(origin);
    await other.session();
    expect((await other.post("/api/queues/sec/resume", {}, { csrf: client.csrf })).body.error.code).to.equal("csrf");

    await client.post("/api/logout");
    expect((await client.post("/api/queues/sec/resume")).body.error.code).to.equal("forbidden");
  });

  it("takes actions by POST only", async () => {
    const { client } = await serve(TOKEN);
    await client.login(TOKEN);
    const viaGet = await client.get("/api/queues/sec/pause");
    expect(viaGet.status).to.equal(405);
    expect(viaGet.headers.get("allow")).to.equal("POST");
  });

  it("refuses oversized and malformed bodies without acting", async () => {
    const { client } = await serve(TOKEN);
    await client.login(TOKEN);
    const malformed = await client.request("POST", "/api/queues/sec/dead-letters/requeue", { headers: { "content-type": "application/json" }, body: undefined });
    expect(malformed.status).to.equal(400);
    const huge = await client.post("/api/queues/sec/dead-letters/requeue", { ids: Array.from({ length: 200_000 }, (_, i) => `id-${i}`) });
    expect(huge.status).to.equal(413);
  });
});
