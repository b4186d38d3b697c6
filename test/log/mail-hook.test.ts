/**
 * `log.hooks` of type mail against a real SMTP server in this process (smtp-server with
 * STARTTLS on a self-signed certificate and AUTH PLAIN/LOGIN): the registry's errors arrive by
 * mail over TLS with the configured credentials, an error storm is one mail, and an SMTP server
 * that is down or untrusted costs the registry nothing but a warning in its log.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import bcrypt from "bcryptjs";
import { SMTPServer, type SMTPServerSession } from "smtp-server";
import { parseConfig } from "../../server/config/load.js";
import { validateConfigText } from "../../server/config/validate.js";
import { type LogEntry, type LogLevel } from "../../server/log.js";
import { serveLogger } from "../../server/log-hooks.js";
import { MailHook } from "../../server/log-mail.js";
import { serve } from "../../server/serve.js";
import { eventually } from "../support/eventually.js";
import { freePort } from "../support/net.js";

interface Received {
  subject: string;
  body: string;
  user: unknown;
  secure: boolean;
  from: string;
  to: string[];
}

const smtpUser = "alerts";
const smtpPassword = "smtp-pw-never-logged";

/** An SMTP server that offers STARTTLS (a self-signed certificate) and takes one user, keeping what it receives. */
async function startSmtp(dir: string, options: { noTls?: boolean } = {}) {
  const key = join(dir, "smtp-key.pem");
  const cert = join(dir, "smtp-cert.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost", "-days", "1", "-keyout", key, "-out", cert], { stdio: "ignore" });
  const mails: Received[] = [];
  const logins: string[] = [];
  const server = new SMTPServer({
    // Without STARTTLS on offer, and with login allowed in the clear: whether the password is sent is up to the client.
    disabledCommands: options.noTls === true ? ["STARTTLS"] : [],
    allowInsecureAuth: options.noTls === true,
    key: await readFile(key),
    cert: await readFile(cert),
    authMethods: ["PLAIN", "LOGIN"],
    onAuth(auth, _session, callback) {
      logins.push(auth.username ?? "");
      if (auth.username === smtpUser && auth.password === smtpPassword) return callback(null, { user: smtpUser });
      callback(new Error("Invalid username or password"));
    },
    onData(stream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        mails.push({ ...parseMail(Buffer.concat(chunks).toString("utf8")), user: session.user, secure: session.secure, ...envelope(session) });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { port, mails, logins, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function envelope(session: SMTPServerSession): { from: string; to: string[] } {
  const from = session.envelope.mailFrom;
  return { from: from ? from.address : "", to: session.envelope.rcptTo.map((rcpt) => rcpt.address) };
}

/** Subject and text of a plain-text mail, quoted-printable undone. */
function parseMail(raw: string): { subject: string; body: string } {
  const [head = "", ...rest] = raw.split("\r\n\r\n");
  const unfolded = head.replace(/\r\n[ \t]+/g, " ");
  const subject = /^Subject: (.*)$/im.exec(unfolded)?.[1] ?? "";
  let body = rest.join("\r\n\r\n");
  if (/^Content-Transfer-Encoding: quoted-printable$/im.test(unfolded)) {
    body = body.replace(/=\r\n/g, "").replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
  return { subject, body };
}

function hookConfig(port: number, extra: Record<string, unknown> = {}) {
  return {
    type: "mail",
    levels: ["panic", "error"],
    options: {
      smtp: { addr: `127.0.0.1:${port}`, username: smtpUser, password: smtpPassword, insecure: true, ...extra },
      from: "registry@example.com",
      to: ["ops@example.com", "oncall@example.com"],
    },
  };
}

const ann = `Basic ${Buffer.from("ann:ann-pw").toString("base64")}`;
const entry = (msg: string): LogEntry => ({ time: new Date().toISOString(), level: "error", msg, fields: { repo: "team/app" } });

describe("log.hooks: mail", () => {
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let dir: string;
  let htpasswd: string;
  let reloads = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-mail-"));
    smtp = await startSmtp(dir);
    htpasswd = join(dir, "htpasswd");
  });

  after(async () => {
    await smtp.close();
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * A registry with the given mail hook, whose htpasswd file then gets a line it refuses: the
   * next request re-reads the file and logs the refusal as an error. Returns its log lines.
   */
  async function registryWithHook(hook: Record<string, unknown>) {
    const config = parseConfig({
      version: "0.1",
      log: { level: "info", formatter: "json", accesslog: { disabled: true }, hooks: [hook] },
      storage: { inmemory: {} },
      http: { addr: "127.0.0.1:0", secret: "x" },
      auth: { htpasswd: { realm: "mail-test", path: htpasswd } },
    });
    await writeFile(htpasswd, `ann:${bcrypt.hashSync("ann-pw", 5)}\n`);
    const lines: string[] = [];
    const logging = serveLogger(() => config, (line) => lines.push(line));
    const running = await serve({ config, registryOnly: true, logger: logging.logger });
    await writeFile(htpasswd, `ann:${bcrypt.hashSync("ann-pw", 5)}\neve:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n`);
    await utimes(htpasswd, new Date(), new Date(Date.now() + 10_000 * ++reloads));
    assert.equal((await fetch(`${running.url}/v2/`, { headers: { Authorization: ann } })).status, 200);
    return { running, lines, close: async () => (await running.close(), await logging.close()) };
  }

  it("mails the registry's errors over STARTTLS with the configured login, sender and recipients", async () => {
    const before = smtp.mails.length;
    const { running, lines, close } = await registryWithHook(hookConfig(smtp.port));
    try {
      await eventually(() => smtp.mails.length > before, 10_000, () => `a mail; the log:\n${lines.join("\n")}`);
      const mail = smtp.mails[before]!;
      assert.match(mail.subject, /^\[error\] .+: htpasswd entry refused/);
      assert.match(mail.body, /error htpasswd entry refused: .*htpasswd line 2 is not a valid htpasswd entry/);
      assert.equal(mail.user, smtpUser, "authenticated as the configured user");
      assert.equal(mail.secure, true, "upgraded with STARTTLS before the login");
      assert.equal(mail.from, "registry@example.com");
      assert.deepEqual(mail.to, ["ops@example.com", "oncall@example.com"]);
      assert.equal((await fetch(`${running.url}/v2/`)).status, 401);
      assert.ok(!lines.some((line) => line.includes(smtpPassword)), "the SMTP password is not logged");
    } finally {
      await close();
    }
  });

  it("sends an error storm as one mail with the first entries, the rest counted", async () => {
    const before = smtp.mails.length;
    const failures: string[] = [];
    const hook = new MailHook({
      levels: new Set<LogLevel>(["error"]),
      mail: { addr: `127.0.0.1:${smtp.port}`, username: smtpUser, password: smtpPassword, insecure: true, from: "registry@example.com", to: ["ops@example.com"] },
      onFailure: (msg, fields) => failures.push(`${msg} ${JSON.stringify(fields)}`),
      batchMs: 100,
      intervalMs: 60_000,
      maxEntries: 10,
    });
    try {
      for (let i = 0; i < 500; i++) hook.fire(entry(`storage failure ${i}`));
      await eventually(() => smtp.mails.length > before, 10_000, () => `the storm's mail (failures: ${failures.join("; ")})`);
      // The next entry waits for the interval; close sends it at once.
      hook.fire(entry("after the storm"));
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(smtp.mails.length, before + 1, "one mail for the storm, the next one held back");
      const mail = smtp.mails[before]!;
      assert.match(mail.subject, /storage failure 0 \(and 499 more\)$/);
      assert.match(mail.body, /storage failure 9\b/);
      assert.doesNotMatch(mail.body, /storage failure 10\b/);
      assert.match(mail.body, /490 more entries were not included/);
      assert.match(mail.body, /repo: team\/app/);
    } finally {
      await hook.close();
    }
    assert.equal(smtp.mails.length, before + 2, "close sends what was held back");
    assert.match(smtp.mails[before + 1]!.subject, /after the storm$/);
    assert.deepEqual(failures, []);
  });

  it("keeps serving when the SMTP server is down, and logs the failed mail as a warning", async () => {
    const downPort = await freePort();
    const { running, lines, close } = await registryWithHook(hookConfig(downPort));
    try {
      for (let i = 0; i < 5; i++) assert.equal((await fetch(`${running.url}/v2/`)).status, 401);
      await eventually(() => lines.some((line) => line.includes("log mail not sent")), 10_000, () => `the failure in the log:\n${lines.join("\n")}`);
      const failure = JSON.parse(lines.find((line) => line.includes("log mail not sent"))!) as Record<string, unknown>;
      assert.equal(failure.level, "warn");
      assert.match(String(failure.error), /ECONNREFUSED/);
      assert.equal((await fetch(`${running.url}/v2/`, { headers: { Authorization: ann } })).status, 200);
    } finally {
      await close();
    }
  });

  it("refuses an untrusted certificate unless insecure is set, and never sends the password in the clear", async () => {
    const plain = await startSmtp(dir, { noTls: true });
    const attempt = async (port: number) => {
      const failures: string[] = [];
      const hook = new MailHook({
        levels: new Set<LogLevel>(["error"]),
        mail: { addr: `127.0.0.1:${port}`, username: smtpUser, password: smtpPassword, from: "registry@example.com", to: ["ops@example.com"] },
        onFailure: (msg, fields) => failures.push(`${msg} ${JSON.stringify(fields)}`),
        batchMs: 10,
      });
      hook.fire(entry("to a server that cannot be trusted with the password"));
      await eventually(() => failures.length > 0, 10_000, "the refusal");
      await hook.close();
      return failures;
    };
    try {
      const before = smtp.mails.length;
      assert.match((await attempt(smtp.port))[0]!, /self-signed certificate/);
      assert.equal(smtp.mails.length, before);
      assert.match((await attempt(plain.port))[0]!, /STARTTLS/);
      assert.deepEqual(plain.logins, [], "no login without TLS");
      assert.deepEqual(plain.mails, []);
    } finally {
      await plain.close();
    }
  });

  it("reports an incomplete mail hook when the configuration is validated", async () => {
    const hook = (smtp: string, to: string) => `    - type: mail\n      levels: [error]\n      options:\n        smtp:\n${smtp}          password: ${smtpPassword}\n        from: registry@example.com\n${to}`;
    const text = [
      "version: 0.1\nstorage:\n  inmemory: {}\nlog:\n  hooks:\n",
      hook("          addr: smtp.example.com:587\n", ""),
      hook("          addr: smtp.example.com\n", "        to: [ops@example.com]\n"),
      "    - type: mail\n      disabled: true\n",
    ].join("");
    const result = await validateConfigText(text, { file: "hooks.yml", env: {} });
    const problems = result.problems.map((p) => `${p.path}: ${p.message}`).sort();
    assert.deepEqual(problems, [
      "log.hooks[0].options.to: is required for a mail hook (a list of recipients)",
      'log.hooks[1].options.smtp.addr: expected host:port such as "smtp.example.com:587", got "smtp.example.com"',
    ]);
    assert.ok(!JSON.stringify(result).includes(smtpPassword), "the password is not repeated in the problems");
  });
});
